"""What this cell is: installed versions, machine, device and the freeze list."""
import platform
import sys

from . import codeid, loader


def installed_versions():
    import numpy
    import PIL
    import torch
    import torchvision
    return {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "pillow": getattr(PIL, "__version__", None) or getattr(PIL, "PILLOW_VERSION", "?"),
        "cuda": torch.cuda.is_available(),
    }


def cpu_name():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def platform_text():
    return "%s-%s %s; cpu=%s" % (platform.system(), platform.release(),
                                 platform.machine(), cpu_name())


def device_text(installed):
    if not installed["cuda"]:
        return "cpu"
    import torch
    return "cuda:" + torch.cuda.get_device_name(0)


def freeze_text(scenario_paths=(), requirements=(), spec=None, scenarios=()):
    """Installed distributions as 'name==version' lines (no pip needed: uv venvs have none).

    Comment lines first record what else shaped the cell: each user scenario
    file with its sha256, the user's calls, scripts, tests and checks (``spec``),
    every file of the user's code the selected ``scenarios`` run (``code:``, see
    codeid.py) and each ``--cell-requirements`` file with its lines.
    """
    try:
        from importlib import metadata
        dists = [(d.metadata["Name"], d.version) for d in metadata.distributions()]
    except ImportError:  # Python 3.7
        import pkg_resources
        dists = [(d.project_name, d.version) for d in pkg_resources.working_set]
    lines = sorted(set("%s==%s" % (name, version) for name, version in dists if name),
                   key=str.lower)
    notes = []
    for _, files in loader.user_files(scenario_paths):
        for path in files:
            notes.append("# scenarios: %s sha256=%s" % (path, loader.file_sha256(path)))
    for key in ("call", "script", "metric", "pytest", "dataset", "pairs"):
        notes += ["# %s: %s" % (key, text) for text in (spec or {}).get(key, ())]
    code = set()
    for sc in scenarios:
        if codeid.of_scenario(sc):
            code.update(sc.code_closure)
    notes += ["# code: %s sha256=%s" % (path, codeid.file_sha256(path)) for path in sorted(code)]
    for path in requirements:
        notes.append("# cell-requirements: %s sha256=%s" % (path, loader.file_sha256(path)))
        try:
            with open(path) as handle:
                wanted = [l.strip() for l in handle if l.strip() and not l.startswith("#")]
        except (IOError, OSError):
            wanted = ["(unreadable)"]
        notes += ["#   " + line for line in wanted]
    return "\n".join(notes + lines) + "\n"

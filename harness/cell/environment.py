"""What this cell is: installed versions, machine, device and the freeze list."""
import platform
import re
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


def cpu_info(path="/proc/cpuinfo"):
    """(vendor id, model name, CPU flags) of the first processor listed; ('', '', set())
    where there is no /proc/cpuinfo."""
    vendor, model, flags = "", "", set()
    try:
        with open(path) as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value
                elif key == "model name" and not model:
                    model = value
                elif key == "flags" and not flags:
                    flags = set(value.split())
                elif not key and (vendor or model):
                    break  # the first processor's block ended
    except (IOError, OSError):
        pass
    return vendor, model, flags


# x86-64 levels as torch's kernel dispatch tells them apart (ATen's CPU capability:
# AVX512 needs F, BW, VL and DQ; AVX2 needs FMA too).
ISA_LEVELS = (
    ("avx512", ("avx512f", "avx512bw", "avx512vl", "avx512dq")),
    ("avx2", ("avx2", "fma")),
    ("avx", ("avx",)),
    ("sse4", ("sse4_2",)),
)


def isa_level(flags):
    for name, needs in ISA_LEVELS:
        if all(flag in flags for flag in needs):
            return name
    return "baseline" if flags else "?"


def cpu_name():
    _, model, _ = cpu_info()
    return model or platform.processor() or platform.machine()


def machine_text():
    """The machine without torch: OS, architecture, CPU model, vendor and ISA level.
    The host reads the same text to know its own platform class before installing."""
    vendor, model, flags = cpu_info()
    return "%s-%s %s; cpu=%s; vendor=%s; isa=%s" % (
        platform.system(), platform.release(), platform.machine(),
        model or platform.processor() or platform.machine(), vendor or "?", isa_level(flags))


def torch_cpu_text():
    """What torch says about its CPU path: the kernel capability it dispatches to
    (``torch.backends.cpu.get_cpu_capability()`` from torch 2.1, else the line of
    ``torch.__config__.show()`` from 1.5; torch 1.2/1.3 report none), its BLAS, the
    MKL version and whether oneDNN (mkldnn) is there. These decide which kernels
    compute dropout, matmuls and convolutions, and so some results."""
    import torch
    try:
        config = torch.__config__.show()
    except Exception:  # an old or odd build: the rest still says something
        config = ""
    backend = getattr(torch.backends, "cpu", None)
    if backend is not None and hasattr(backend, "get_cpu_capability"):
        capability = backend.get_cpu_capability()
    else:
        found = re.search(r"CPU capability usage: (\S+)", config)
        capability = found.group(1) if found else "?"
    blas = re.search(r"BLAS(?:_INFO)?=(\w+)", config)
    mkl_version = re.search(r"Math Kernel Library Version ([0-9][\w.]*)", config)
    mkl = torch.backends.mkl.is_available()
    try:
        import torch.backends.mkldnn as mkldnn  # an attribute only once imported (1.2/1.3)
        onednn = mkldnn.is_available()
    except ImportError:
        onednn = False
    return "torch-cpu=%s; blas=%s; mkl=%s; mkldnn=%d" % (
        capability, blas.group(1).lower() if blas else "?",
        (mkl_version.group(1) if mkl_version else "1") if mkl else "0", int(bool(onednn)))


def platform_text():
    """The ``platform`` column: the machine, then torch's CPU path."""
    return "%s; %s" % (machine_text(), torch_cpu_text())


def device_text(installed):
    if not installed["cuda"]:
        return "cpu"
    import torch
    return "cuda:" + torch.cuda.get_device_name(0)


# The freeze file's record of the cell CSV its run wrote: ``--reuse-from`` copies only a
# CSV whose bytes still have this sha256 (harness/runs/reuse.py).
CSV_SHA_LINE = "# rngdrift-csv-sha256: "


def sealed_freeze_text(freeze, csv_text):
    """``freeze`` with the sha256 of the cell CSV written as ``csv_text`` first."""
    import hashlib
    digest = hashlib.sha256(csv_text.encode("utf-8", "backslashreplace")).hexdigest()
    return CSV_SHA_LINE + digest + "\n" + freeze


def freeze_text(scenario_paths=(), requirements=(), notes=(), spec=None, scenarios=()):
    """Installed distributions as 'name==version' lines (no pip needed: uv venvs have none).

    Comment lines first record what else shaped the cell: the host's ``notes`` (its
    result key, plan and the indexes it installed from, one line each), each user
    scenario file with its sha256, the user's calls, scripts, tests and checks
    (``spec``), every file of the user's code the selected ``scenarios`` run (``code:``,
    see codeid.py) and each ``--cell-requirements`` file with its lines.
    """
    try:
        from importlib import metadata
        dists = [(d.metadata["Name"], d.version) for d in metadata.distributions()]
    except ImportError:  # Python 3.7
        import pkg_resources
        dists = [(d.project_name, d.version) for d in pkg_resources.working_set]
    lines = sorted(set("%s==%s" % (name, version) for name, version in dists if name),
                   key=str.lower)
    notes = ["# " + " ".join(note.split()) for note in notes]  # one line each
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

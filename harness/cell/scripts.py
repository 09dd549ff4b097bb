"""``--script "python train.py --epochs 1"``: an unmodified script as a scenario.

The script runs in a fork of the scenario's process (``forked.py``): the seeding
mode has been applied and nothing else of the script has run, as if the
interpreter had just started, with ``sys.argv``, ``sys.path[0]`` (the script's
folder), ``__name__ == "__main__"`` and the working directory (where nox was run)
as ``python train.py ...`` gives them. ``python -m package.module ARGS`` works too.

Metrics: ``rngdrift.record(name, value)`` calls in the script, and
``--metric NAME=REGEX`` patterns over what it printed (the last match; the first
group if the pattern has one; a number when it reads as one, else text). A script
that exits non-zero or raises is an ``error`` row with the tail of its output.
"""
import os
import runpy
import sys
from collections import OrderedDict

from . import codeid, forked, metrics, registry, userargs
from .adopt import add
from .loader import UserCodeError
from .registry import ScenarioFailed


parse = userargs.parse_script
parse_metric = userargs.parse_metric


def read_metrics(output, patterns):
    """{name: number or text} of the patterns' last matches in ``output``."""
    found = OrderedDict()
    for name, pattern in patterns:
        last = None
        for last in pattern.finditer(output):
            pass
        if last is None:
            continue
        text = (last.group(1) if pattern.groups else last.group(0)).strip()
        try:
            found[name] = float(text)
        except ValueError:
            found[name] = text
    return found


def _body(kind, target, args, workdir):
    def body():
        os.chdir(workdir)
        if kind == "file":
            sys.argv[:] = [target] + list(args)
            sys.path.insert(0, os.path.dirname(target))
            runpy.run_path(target, run_name="__main__")
        else:
            sys.argv[:] = [target] + list(args)  # run_module puts the file in argv[0]
            sys.path.insert(0, workdir)
            runpy.run_module(target, run_name="__main__", alter_sys=True)
    return body


def scenario_func(name, kind, target, args, workdir, patterns):
    def run(ctx):
        outcome = forked.run(_body(kind, target, args, workdir), title=name)
        problem = forked.failure(outcome)
        if problem:
            raise ScenarioFailed(problem)
        found = metrics.Metrics(outcome.recorded)  # with the goals it recorded
        found.update(read_metrics(outcome.output, patterns))
        return found
    return run


def register(spec):
    workdir = spec["workdir"]
    patterns = [parse_metric(text) for text in spec.get("metric", ())]
    if patterns and not spec.get("script"):
        raise UserCodeError("--metric reads the output of --script; no --script given")
    for text in spec.get("script", ()):
        kind, target, args = parse(text, workdir)
        if kind == "file":
            stem = os.path.splitext(os.path.basename(target))[0]
            files, search = [target], [os.path.dirname(target)]
        else:
            stem, search = target, [workdir]
            found = codeid._module_files(workdir, target)
            files = found[-1:] if found else []
            if files and files[0].endswith("__init__.py"):
                main = os.path.join(os.path.dirname(files[0]), "__main__.py")
                files = [main] if os.path.isfile(main) else files
        base = "script." + "".join(c if c.isalnum() or c in "._" else "_" for c in stem)
        name, n = base, 1
        while name in registry.SCENARIOS:
            n += 1
            name = "%s.%d" % (base, n)
        add(name, scenario_func(name, kind, target, args, workdir, patterns), "--script", text,
            files[0] if files else None, 1, files, search, forks=True)

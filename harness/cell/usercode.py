"""Your code as it is, as scenarios: ``--call``, ``--script``, ``--pytest``, ``--dataset``,
``--pairs``.

    spec = from_args(args)      # the runner: what the options asked for (JSON-able)
    register(spec, collect=True)    # the runner: resolve everything, collect pytest tests
    register(spec)              # every process that runs scenarios (zygotes, children)

Names (each checked by ``schema.name_problem``):

    call.<file stem or module>.<function>      --call FILE.py:FUNCTION / module:FUNCTION
    script.<file stem or module>[.2 ...]       --script "python FILE.py ARGS" / "python -m mod"
    pytest.<node id, '/' and '::' as '.'>      --pytest "PATH [pytest args]"
    dataset.<stem or module>.<factory>         --dataset FILE.py:FACTORY
    datapairs.<stem or module>.<factory>       --pairs FILE.py:FACTORY

Relative paths are taken from ``workdir`` (where the user ran nox), which is also
where calls, scripts, tests and factories run and is importable (``pkg.mod:fn``).
Every problem is a ``loader.UserCodeError`` (one line, exit 2).
"""
import json
import os

from . import datachecks, loader, metrics, scripts, sink, testrun
from .adopt import add, resolve, running_in

KEYS = ("call", "script", "metric", "pytest", "dataset", "pairs")


def from_args(args):
    """The user-code part of the cell's options, JSON-able (handed to every child)."""
    spec = dict((key, list(getattr(args, key, None) or ())) for key in KEYS)
    spec["workdir"] = os.path.abspath(getattr(args, "workdir", None) or os.getcwd())
    return spec


def wanted(spec):
    return any(spec.get(key) for key in KEYS if key != "metric")


def save(spec, path):
    with open(path, "w") as handle:
        json.dump(spec, handle)


def load_spec(path):
    with open(path) as handle:
        return json.load(handle)


def _call_scenario(fn, workdir, argv0):
    def run(ctx):
        recorder = metrics.Recorder()  # what it records (rngdrift.record), then what it returns
        sink.receive(recorder.record)
        try:
            with running_in(workdir, argv0):
                value = fn()
        finally:
            sink.receive(None)
        found = recorder.metrics
        found.update(metrics.auto_metrics(value))
        return found
    return run


def _data_scenario(factory, workdir, argv0, pairs):
    def run(ctx):
        with running_in(workdir, argv0):
            dataset = factory()
            return datachecks.check(ctx, dataset, pairs=pairs)
    return run


def register(spec, collect=False):
    """Register every scenario ``spec`` asks for. ``collect``: collect pytest tests
    now (the runner) and keep them in ``spec``; otherwise use the collected ones."""
    workdir = spec["workdir"]
    loader.put_first_on_path(workdir)  # `pkg.mod:function` imports the team's `pkg`
    for option, key, prefix in (("--call", "call", "call."), ("--dataset", "dataset", "dataset."),
                                ("--pairs", "pairs", "datapairs.")):
        for text in spec.get(key, ()):
            fn, where, stem, code_files = resolve(text, option, workdir)
            code = getattr(fn, "__code__", None)
            func = (_call_scenario(fn, workdir, where) if key == "call" else
                    _data_scenario(fn, workdir, where, key == "pairs"))
            add(prefix + stem, func, option, text, where, code.co_firstlineno if code else 0,
                code_files, goals=None if key == "call" else datachecks.goals(key == "pairs"))
    if spec.get("script") or spec.get("metric"):
        scripts.register(spec)
    if spec.get("pytest"):
        testrun.register(spec, collect)

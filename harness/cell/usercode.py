"""Your code as it is, as scenarios: ``--call``, ``--script``, ``--pytest``, ``--dataset``,
``--pairs``, ``--loader``; ``--goal`` declares which of their metrics measure correctness.

    spec = from_args(args)      # the runner: what the options asked for (JSON-able)
    register(spec, collect=True)    # the runner: resolve everything, collect pytest tests
    register(spec)              # every process that runs scenarios (zygotes, children)

Names (each checked by ``schema.name_problem``):

    call.<file stem or module>.<function>      --call FILE.py:FUNCTION / module:FUNCTION
    script.<file stem or module>[.2 ...]       --script "python FILE.py ARGS" / "python -m mod"
    pytest.<node id, '/' and '::' as '.'>      --pytest "PATH [pytest args]"
    dataset.<stem or module>.<factory>         --dataset FILE.py:FACTORY
    datapairs.<stem or module>.<factory>       --pairs FILE.py:FACTORY
    dataloader.<stem or module>.<factory>      --loader FILE.py:FACTORY

``--dataset``/``--pairs`` wrap the Dataset in rngdrift's own loader (datachecks.py);
``--loader`` and a DataLoader given to ``--dataset``/``--pairs`` run the team's loader
as it is (loaderchecks.py). ``--goal NAME=up|down`` adds ``goal.<metric>`` rows to
the ``--call``/``--script``/``--pytest`` scenarios that report a number ``NAME`` (or
numbers recorded under it, ``NAME.key``, ``NAME[0]``); it wins over a goal the code
gave ``rngdrift.record``.

Relative paths are taken from ``workdir`` (where the user ran nox), which is also
where calls, scripts, tests and factories run and is importable (``pkg.mod:fn``).
Every problem is a ``loader.UserCodeError`` (one line, exit 2).
"""
import json
import os

from . import datachecks, loader, loaderchecks, metrics, options, registry, scripts, sink, testrun
from .adopt import add, resolve, running_in
from .loader import UserCodeError
from .registry import ScenarioFailed

KEYS = ("call", "script", "metric", "pytest", "dataset", "pairs", "loader", "goal")
# Options that only qualify others (they register no scenario of their own).
_QUALIFIERS = ("metric", "goal")
# The scenarios --goal applies to: the user's own programs and functions.
GOAL_FAMILIES = ("call.", "script.", "pytest.")


def from_args(args):
    """The user-code part of the cell's options, JSON-able (handed to every child)."""
    spec = dict((key, list(getattr(args, key, None) or ())) for key in KEYS)
    spec["workdir"] = os.path.abspath(getattr(args, "workdir", None) or os.getcwd())
    return spec


def wanted(spec):
    return any(spec.get(key) for key in KEYS if key not in _QUALIFIERS)


def asked(spec):
    """Anything for ``register`` to do or to refuse (a qualifier without its option)."""
    return any(spec.get(key) for key in KEYS)


def parse_goal(text):
    try:
        return options.parse_goal(text)
    except ValueError as exc:
        raise UserCodeError(str(exc))


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


def _data_scenario(factory, workdir, argv0, pairs, own_loader=False):
    """``--dataset``/``--pairs`` (``pairs`` True: required), ``--loader`` (``own_loader``;
    pairs checked when the items are pairs)."""
    def run(ctx):
        with running_in(workdir, argv0):
            made = factory()
            if loaderchecks.is_loader(made):  # the team's own loader, as it is
                return loaderchecks.check(made, pairs=True if pairs else None)
            if own_loader:
                raise ScenarioFailed("--loader wants a DataLoader; %s() returned a %s (a "
                                     "Dataset? use --dataset or --pairs)"
                                     % (getattr(factory, "__name__", "the factory"),
                                        type(made).__name__))
            return datachecks.check(ctx, made, pairs=pairs)
    return run


def _with_goals(func, goals):
    """``func``'s metrics with the --goal goals of those it reported (numbers only)."""
    def run(ctx):
        found = metrics.Metrics(func(ctx))
        for name, direction in goals:
            for key in metrics.parts(found, name):
                if metrics.numeric(found[key]):
                    found.goals[key] = direction
        return found
    return run


def register(spec, collect=False):
    """Register every scenario ``spec`` asks for. ``collect``: collect pytest tests
    now (the runner) and keep them in ``spec``; otherwise use the collected ones."""
    workdir = spec["workdir"]
    loader.put_first_on_path(workdir)  # `pkg.mod:function` imports the team's `pkg`
    goals = [parse_goal(text) for text in spec.get("goal", ())]
    if goals and not any(spec.get(key) for key in ("call", "script", "pytest")):
        raise UserCodeError("--goal gives goals to the metrics of --call, --script and --pytest; "
                            "none given")
    before = set(registry.SCENARIOS)
    for option, key, prefix in (("--call", "call", "call."), ("--dataset", "dataset", "dataset."),
                                ("--pairs", "pairs", "datapairs."),
                                ("--loader", "loader", "dataloader.")):
        for text in spec.get(key, ()):
            fn, where, stem, code_files = resolve(text, option, workdir)
            code = getattr(fn, "__code__", None)
            func = (_call_scenario(fn, workdir, where) if key == "call" else
                    _data_scenario(fn, workdir, where, key == "pairs", key == "loader"))
            static = datachecks.goals(key == "pairs") if key in ("dataset", "pairs") else None
            add(prefix + stem, func, option, text, where, code.co_firstlineno if code else 0,
                code_files, goals=static)
    if spec.get("script") or spec.get("metric"):
        scripts.register(spec)
    if spec.get("pytest"):
        testrun.register(spec, collect)
    if goals:
        for name in set(registry.SCENARIOS) - before:
            if name.startswith(GOAL_FAMILIES):
                sc = registry.SCENARIOS[name]
                sc.func = _with_goals(sc.func, goals)

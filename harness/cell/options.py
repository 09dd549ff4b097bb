"""The cell's options, declared once.

``python -m _rngdrift.harness.cell`` builds its argparse parser from ``OPTIONS``; the host
(``nox -s matrix -- ...``) builds the options a user may pass through from the
same table and turns them back into arguments with ``to_argv``. An option is
added in one place and reaches the cell by itself.

    scope "cell"   only the cell's own command line (``--out``, ``--list``)
    scope "both"   also accepted after ``nox -s matrix --`` and forwarded to the cell
"""
import os
from collections import namedtuple

from .schema import DEFAULT_MODES, GOALS, MODES, name_problem

# Slowest real scenario: a few seconds on a laptop CPU. 120 s leaves 20x and more
# for slow shared CI runners yet bounds what a deadlocked DataLoader costs (one
# timeout per hanging scenario, seeding mode and repeat).
DEFAULT_TIMEOUT = 120.0
DEFAULT_REPEATS = 2


def default_jobs():
    return min(2, os.cpu_count() or 1)


# kind: "str", "int", "float", "flag" (store_true) or "append" (repeatable);
# path: the host makes the value absolute before forwarding it.
Option = namedtuple("Option", "flag kind default help metavar choices scope path")


def _opt(flag, kind="str", default=None, help="", metavar=None, choices=None, scope="both",
         path=False):
    return Option(flag, kind, default, help, metavar, choices, scope, path)


OPTIONS = (
    _opt("--out", help="cell CSV to write (atomically)", scope="cell"),
    _opt("--cell", help="cell id, e.g. py3.8-torch1.5.0-tv0.6.0", scope="cell"),
    _opt("--run-id", default="adhoc", help="the run this cell belongs to", scope="cell"),
    _opt("--seeding", default=",".join(DEFAULT_MODES),
         help="comma-separated seeding modes (default: %s; also: %s)"
              % (",".join(DEFAULT_MODES), ",".join(m for m in MODES if m not in DEFAULT_MODES))),
    _opt("--repeats", "int", DEFAULT_REPEATS,
         help="fresh processes per seeding mode (default %d)" % DEFAULT_REPEATS),
    _opt("--only", "append", help="run only scenarios matching this glob (repeatable)",
         metavar="GLOB"),
    _opt("--skip", "append", help="skip scenarios matching this glob (repeatable)",
         metavar="GLOB"),
    _opt("--scenarios", "append", metavar="PATH", path=True,
         help="your own scenario file, package or directory (repeatable)"),
    _opt("--call", "append", metavar="FILE.py:FUNC",
         help="call your function (no arguments) in every cell, seeding mode and repeat; "
              "what it returns becomes metrics (repeatable; module:FUNC works too)"),
    _opt("--script", "append", metavar='"python FILE.py ARGS"',
         help="run your script unmodified under every seeding mode, one quoted command "
              "line (repeatable)"),
    _opt("--metric", "append", metavar="NAME=REGEX",
         help="a metric read from each --script's output: the last match of REGEX, its "
              "first group if it has one (repeatable)"),
    _opt("--pytest", "append", metavar='"PATH [PYTEST ARGS]"',
         help="run your pytest tests, one quoted pytest command line; each test is a "
              "scenario (repeatable; installs pytest into the cells)"),
    _opt("--dataset", "append", metavar="FILE.py:FACTORY",
         help="check the Dataset FACTORY() returns: duplicate draws across workers, "
              "repeating epochs (repeatable)"),
    _opt("--pairs", "append", metavar="FILE.py:FACTORY",
         help="the same for a Dataset of (image, mask) pairs, plus pair consistency "
              "(repeatable)"),
    _opt("--loader", "append", metavar="FILE.py:FACTORY",
         help="check the DataLoader FACTORY() returns, as it is (its workers, worker_init_fn, "
              "generator, sampler): duplicate draws across workers, repeating epochs, pair "
              "consistency when it yields (image, mask) pairs (repeatable)"),
    _opt("--goal", "append", metavar="NAME=up|down",
         help="metric NAME of your --call/--script/--pytest measures correctness: up (higher "
              "is right) or down; a move the wrong way is reported as broken (repeatable)"),
    _opt("--user-only", "flag", False,
         help="run only your own scenarios, calls, scripts, tests and checks"),
    _opt("--workdir", metavar="DIR", scope="cell",
         help="where relative paths of --call/--script/--pytest/--dataset/--pairs/--loader are "
              "taken from, and where they run (default: the current directory)"),
    _opt("--cell-requirements", "append", metavar="FILE", path=True,
         help="pip requirements file installed into every cell with its pins (recorded in "
              "the freeze file)"),
    _opt("--timeout", "float", DEFAULT_TIMEOUT,
         help="seconds one scenario may run unless it sets its own (default %g)"
              % DEFAULT_TIMEOUT),
    _opt("--memory-limit", default="auto", metavar="SIZE",
         help="data memory per child process, e.g. 6G, or 'none' (default RAM / (jobs + 1))"),
    _opt("--resume", "flag", False,
         help="keep the jobs an interrupted run of this cell journalled"),
    _opt("--start", default="fork", choices=("fork", "spawn"),
         help="fork children from zygotes that import torch once (default), or start a "
              "new interpreter per child"),
    _opt("--jobs", "int", None, help="child processes at once (default: min(2, CPUs))"),
    _opt("--list", "flag", False, help="list the selected scenarios and exit", scope="cell"),
    _opt("--freeze-note", "append", metavar="LINE", scope="cell",
         help="a line for the freeze file's header (the host's result key, plan, indexes)"),
)

_TYPES = {"int": int, "float": float}


def parse_goal(text):
    """(metric, "up" or "down") of a ``--goal NAME=up|down`` value; ValueError saying what
    is wrong (checked on the host before any cell starts, and in the cell)."""
    name, sep, direction = text.rpartition("=")
    if not sep or not name or direction not in GOALS:
        raise ValueError("--goal %r: expected NAME=up or NAME=down, e.g. accuracy=up or "
                         "loss=down" % text)
    problem = name_problem(name, "metric")
    if problem:
        raise ValueError("--goal %r: %s" % (text, problem))
    return name, direction


def dest(option):
    return option.flag.lstrip("-").replace("-", "_")


def selected(scope):
    """The options of ``scope``: "cell" (all of them) or "both" (what the host forwards)."""
    return [o for o in OPTIONS if scope == "cell" or o.scope == "both"]


def add_to(parser, scope="cell"):
    """Add the options of ``scope`` to an argparse parser.

    On the host (``scope="both"``) every default is empty: what the user did not
    pass is not forwarded, and the cell's own default applies.
    """
    for option in selected(scope):
        kwargs = {"help": option.help, "dest": dest(option)}
        host = scope != "cell"
        if option.kind == "flag":
            kwargs.update(action="store_true", default=False)
        elif option.kind == "append":
            kwargs.update(action="append", default=[], metavar=option.metavar)
        else:
            kwargs.update(default=None if host else option.default,
                          type=_TYPES.get(option.kind, str), metavar=option.metavar)
            if option.choices:
                kwargs["choices"] = option.choices
        parser.add_argument(option.flag, **kwargs)
    return parser


def to_argv(namespace, scope="both"):
    """The arguments that give the cell what ``namespace`` holds for the options of ``scope``
    (empty values are left out)."""
    argv = []
    for option in selected(scope):
        value = getattr(namespace, dest(option), None)
        if option.kind == "flag":
            argv += [option.flag] if value else []
        elif option.kind == "append":
            for item in value or ():
                argv += [option.flag, str(item)]
        elif value is not None:
            argv += [option.flag, str(value)]
    return argv

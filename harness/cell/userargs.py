"""The values of --call, --script, --metric, --pytest, --dataset and --pairs, read with
nothing but the standard library: the cells parse them here, and the host checks them
with a cell's bare interpreter before anything is installed.

    parse_script("python train.py --epochs 1", workdir)   ("file", ".../train.py", ["--epochs", "1"])
    parse_metric("accuracy=Accuracy: ([0-9.]+)")           ("accuracy", compiled pattern)
    metric_name("seconds")                                  "value.seconds" (rngdrift's own)
    problems(spec)                                          one line per value that cannot work

    python -m _rngdrift.harness.cell.userargs SPEC_JSON    the host's preflight: exit 2 and
                                                            one line per problem

``problems`` finds what can be known without importing the user's code: a file or
folder that is not there, a command line that does not parse, a pattern that does
not compile, ``--metric`` without ``--script``, and a FUNCTION its file does not
define (read with ``ast``; a module that makes names at run time is left to the cell).
Each message is the one the cell would give.
"""
import ast
import json
import os
import re
import shlex
import sys

from . import codeid
from .loader import UserCodeError
from .schema import RNG_PREFIX, name_problem

_PYTHON = re.compile(r"^(.*/)?python[0-9.]*$")
_IGNORED_FLAGS = ("-u", "-B")  # unbuffered output, no .pyc: no difference here
TARGET_OPTIONS = (("--call", "call"), ("--dataset", "dataset"), ("--pairs", "pairs"))


def metric_name(path):
    """``path`` as a metric name; rngdrift's own names (``seconds``, ``rng.*``) get a
    ``value.`` prefix instead of failing the user's code. ValueError when unusable."""
    problem = name_problem(path, "metric")
    if problem and ("rngdrift's own" in problem or path.startswith(RNG_PREFIX)):
        path, problem = "value." + path, name_problem("value." + path, "metric")
    if problem:
        raise ValueError(problem)
    return path


def parse_script(text, workdir):
    """(kind "file" or "module", path or module name, args) of a script command line."""
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise UserCodeError("--script %r: %s" % (text, exc))
    if argv and _PYTHON.match(argv[0]):
        argv = argv[1:]  # the cell's own interpreter runs it
    while argv and argv[0] in _IGNORED_FLAGS:
        argv = argv[1:]
    if not argv:
        raise UserCodeError("--script %r: no script to run (e.g. \"python train.py --epochs 1\")"
                            % text)
    if argv[0] == "-m":
        if len(argv) < 2:
            raise UserCodeError("--script %r: -m needs a module" % text)
        return "module", argv[1], argv[2:]
    if argv[0].startswith("-"):
        raise UserCodeError("--script %r: interpreter option %s is not supported (only -m, -u, "
                            "-B)" % (text, argv[0]))
    path = os.path.join(workdir, argv[0])
    if not os.path.isfile(path):
        raise UserCodeError("--script %r: %s: no such file" % (text, path))
    return "file", path, argv[1:]


def parse_metric(text):
    """(name, compiled pattern) of ``NAME=REGEX``."""
    name, sep, pattern = text.partition("=")
    if not sep or not name or not pattern:
        raise UserCodeError("--metric %r: expected NAME=REGEX, e.g. 'accuracy=Accuracy: "
                            "([0-9.]+)'" % text)
    try:
        return metric_name(name), re.compile(pattern, re.M)
    except (ValueError, re.error) as exc:
        raise UserCodeError("--metric %r: %s" % (text, exc))


def _top_level_names(tree):
    """Names a module defines at its top level (inside if/try/with too), or None when it
    may make names the tree does not show (a star import, globals(), exec, __getattr__)."""
    names = set()
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                todo += getattr(node, field, [])
        elif isinstance(node, ast.ExceptHandler):
            todo += node.body
        for target in ast.walk(node) if isinstance(node, (ast.Assign, ast.AnnAssign,
                                                          ast.AugAssign, ast.For)) else ():
            if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                names.add(target.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in ("globals", "exec", "setattr", "vars"):
            return None
    return None if "__getattr__" in names else names


def _target_problem(option, text, workdir):
    target, sep, attr = text.rpartition(":")
    if not sep or not target or not attr:
        return "%s %r: expected FILE.py:FUNCTION or module:FUNCTION" % (option, text)
    if target.endswith(".py") or "/" in target or os.sep in target:
        path = os.path.join(workdir, target)
        if not os.path.isfile(path):
            return "%s %r: %s: no such file" % (option, text, path)
        stem = os.path.splitext(os.path.basename(path))[0]
    else:
        found = codeid._module_files(workdir, target)
        last = target.split(".")[-1]
        if not found or not found[-1].endswith((os.sep + last + ".py",
                                                os.sep + last + os.sep + "__init__.py")):
            return None  # not the user's file (an installed module): the cell imports it
        path, stem = found[-1], target
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), path)
    except (SyntaxError, ValueError, IOError, OSError):
        return None  # the syntax check says what is wrong with it
    names = _top_level_names(tree)
    first = attr.split(".")[0]
    if names is not None and first not in names:
        return "%s %r: %s has no %r" % (option, text, stem.replace("-", "_"), first)
    return None


def _pytest_problem(text, workdir):
    try:
        words = shlex.split(text)
    except ValueError as exc:
        return "--pytest %r: %s" % (text, exc)
    paths = [w for w in words if not w.startswith("-")][:1]
    for word in paths:
        path = os.path.join(workdir, word.split("::", 1)[0])
        if not os.path.exists(path):
            return "--pytest %r: %s: no such file or directory" % (text, path)
    return None


def problems(spec):
    """One line per user-code value of ``spec`` (usercode.from_args' shape) that
    cannot work, found without importing anything of the user's."""
    workdir = spec.get("workdir") or os.getcwd()
    found = []
    for option, key in TARGET_OPTIONS:
        found += [_target_problem(option, text, workdir) for text in spec.get(key) or ()]
    for text in spec.get("script") or ():
        try:
            parse_script(text, workdir)
        except UserCodeError as exc:
            found.append(str(exc))
    for text in spec.get("metric") or ():
        try:
            parse_metric(text)
        except UserCodeError as exc:
            found.append(str(exc))
    if spec.get("metric") and not spec.get("script"):
        found.append("--metric reads the output of --script; no --script given")
    found += [_pytest_problem(text, workdir) for text in spec.get("pytest") or ()]
    return [line for line in found if line]


def main(argv=None):
    """``python -m _rngdrift.harness.cell.userargs SPEC_JSON``: print each problem as one
    line (``rngdrift: ...``); exit 2 when there is any."""
    argv = sys.argv[1:] if argv is None else argv
    found = problems(json.loads(argv[0]))
    for line in found:
        sys.stderr.write("rngdrift: %s\n" % line)
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main())

"""Import scenario modules: the canonical ``_rngdrift.scenarios`` package and users' own.

    load_builtin(["_rngdrift.scenarios"])       the canonical scenarios, by package name
    load_paths(["my_checks.py", "pkg/"])        users' files, packages and directories

A file is imported once, by identity (``import_file``): by its own name when that
finds it (its folder goes first on sys.path), so files may import each other and
``import <stem>`` gets the module already loaded; under a private name
(``rngdrift_user_<stem>``) when the name means something else here (``json.py``); a
package by its own name, submodules included. Every problem with a user's path
becomes a ``UserCodeError`` whose message is one line naming the file, the line
and why. ``python -m _rngdrift.harness.cell.loader --check PATH...`` is the host's syntax
preflight, run with a cell's interpreter before anything is installed.
"""
import importlib
import importlib.util
import os
import pkgutil
import sys
import traceback

from . import codeid, registry
from .registry import DuplicateScenario, short_path as _short


class UserCodeError(Exception):
    """A user scenario path that cannot be used; the message is one line: file:line: why."""


def user_files(paths):
    """[(path, [python files])] for ``--scenarios`` paths; UserCodeError for a bad path.

    A path is a ``.py`` file, a package directory (``__init__.py``; every module
    in it) or a plain directory (its ``*.py`` files not starting with ``_``).
    The same path given twice counts once.
    """
    seen = set()
    out = []
    for given in paths:
        path = os.path.realpath(given)
        if path in seen:
            continue
        seen.add(path)
        if os.path.isdir(path):
            if os.path.isfile(os.path.join(path, "__init__.py")):
                files = []
                for folder, dirs, names in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                    files += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".py")]
            else:
                files = [os.path.join(path, n) for n in sorted(os.listdir(path))
                         if n.endswith(".py") and not n.startswith("_")]
            if not files:
                raise UserCodeError("%s: no Python files in this directory" % given)
        elif os.path.isfile(path):
            if not path.endswith(".py"):
                raise UserCodeError("%s: not a Python file (expected a .py file or a "
                                    "directory)" % given)
            files = [path]
        else:
            raise UserCodeError("%s: no such file or directory" % given)
        out.append((path, files))
    return out


def check_syntax(paths, context=""):
    """One-line messages for every user file this interpreter cannot compile."""
    problems = []
    for _, files in user_files(paths):
        for path in files:
            problem = _syntax_problem(path)
            if problem:
                problems.append("%s (Python %d.%d.%d cannot compile it%s)" % (
                    problem, sys.version_info[0], sys.version_info[1], sys.version_info[2],
                    "; " + context if context else ""))
    return problems


def _syntax_problem(path):
    """'file:line: SyntaxError: why' when this interpreter cannot compile ``path``."""
    with open(path, "rb") as handle:
        source = handle.read()
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = exc.lineno
        if exc.filename != path:
            # Python 3.7 reports f-string errors in '<fstring>' at line 1; find the
            # expression in the file instead.
            needle = ("{" + (exc.text or "").strip().strip("()")).encode("utf-8", "replace")
            hits = [i for i, text in enumerate(source.splitlines(), 1) if needle in text]
            line = hits[0] if len(needle) > 1 and hits else "?"
        return "%s:%s: %s: %s" % (_short(path), line, type(exc).__name__, _one_line(exc.msg))
    except ValueError as exc:  # null bytes
        return "%s: %s" % (_short(path), exc)
    return None


def _one_line(text):
    return " | ".join(part.strip() for part in str(text).splitlines() if part.strip())


_HARNESS_CELL = os.path.dirname(os.path.realpath(__file__)) + os.sep


def without_harness(frames):
    """Traceback frames minus the harness's own (the call wrappers that count random
    APIs sit between user code and the library it calls); all of them if none is left."""
    kept = [f for f in frames if not os.path.realpath(f.filename).startswith(_HARNESS_CELL)]
    return kept or list(frames)


def where_raised(exc):
    """' (at train.py:12 in main)': the innermost frame outside the harness, or ''."""
    frames = without_harness(traceback.extract_tb(exc.__traceback__))
    if not frames:
        return ""
    last = frames[-1]
    return " (at %s:%d in %s)" % (os.path.basename(last.filename), last.lineno, last.name)


def describe_error(exc, files):
    """'file:line: Type: message' at the innermost frame in one of ``files``.

    A SyntaxError names its own file and line. Otherwise the innermost frame of
    the user's code is shown, plus where the exception was raised when that is
    elsewhere (inside torch, say).
    """
    if isinstance(exc, SyntaxError):
        if exc.filename and not exc.filename.startswith("<"):
            return "%s:%s: %s: %s" % (_short(exc.filename), exc.lineno or "?",
                                      type(exc).__name__, _one_line(exc.msg))
        for path in files:  # '<fstring>' and the like: find the file that fails
            problem = _syntax_problem(path)
            if problem:
                return problem
    if isinstance(exc, DuplicateScenario):  # its message names both places already
        return _one_line(exc)
    message = "%s: %s" % (type(exc).__name__, _one_line(exc))
    frames = without_harness(traceback.extract_tb(exc.__traceback__))
    mine = set(os.path.realpath(f) for f in files)
    user = [f for f in frames if os.path.realpath(f.filename) in mine]
    if not user:
        return message
    where = "%s:%d" % (_short(user[-1].filename), user[-1].lineno)
    if frames[-1] is user[-1]:
        return "%s: %s" % (where, message)
    return "%s: %s (raised at %s:%d)" % (where, message, _short(frames[-1].filename),
                                         frames[-1].lineno)


def put_first_on_path(folder):
    """Put a user's folder first on sys.path, as Python puts a script's folder first
    when the team runs it: their modules import as theirs whatever their names
    (``scenarios``, ``harness``, ``tests``, ``rngdrift``). rngdrift's own code is not
    affected: it imports under its private name (``_rngdrift``), and the cell has
    imported torch, NumPy and what it needs of the standard library before any user
    code loads (a module imported once is not looked up on sys.path again)."""
    while folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)


def _module_name(stem):
    base = "rngdrift_user_" + "".join(c if c.isalnum() else "_" for c in stem)
    name, n = base, 1
    while name in sys.modules:
        n += 1
        name = "%s_%d" % (base, n)
    return name


def loaded_from(path):
    """The module already imported from the file ``path`` (under any name), or None."""
    path = os.path.realpath(path)
    for module in list(sys.modules.values()):
        where = getattr(module, "__file__", None)
        if where and os.path.realpath(where) == path:
            return module
    return None


def _natural_name(path):
    """The name ``import <stem>`` would find ``path`` under, once its folder is on
    sys.path; None when that name means something else here (``random.py``)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if not stem.isidentifier() or stem in sys.modules:
        return None
    try:
        spec = importlib.util.find_spec(stem)
    except (ImportError, ValueError):
        return None
    origin = spec and spec.origin
    return stem if origin and os.path.realpath(origin) == os.path.realpath(path) else None


def import_file(path):
    """Import the file ``path`` once, by identity: a file another one already imported
    (``import helper``) is not run again, and a file loaded here is what a later
    ``import <stem>`` gets (it is loaded by that name when nothing else has it).
    Returns the module."""
    path = os.path.realpath(path)
    module = loaded_from(path)
    if module is not None:
        return module
    put_first_on_path(os.path.dirname(path))
    # Its own name where that finds this file (then its functions pickle for spawned
    # DataLoader workers too), else a private one.
    name = _natural_name(path) or _module_name(os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load_package(path):
    parent, name = os.path.split(path)
    # Loaded by its own name so its modules can import each other either way;
    # a name that already means something else here (``scenarios``, ``torch``)
    # would silently load the other package instead.
    if name in sys.modules:
        where = getattr(sys.modules[name], "__file__", None)
    else:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        where = spec and (spec.origin or "a namespace package")
    if where and os.path.dirname(os.path.realpath(where)) != path:
        raise UserCodeError("%s: package name %r is already taken by %s; rename the "
                            "directory" % (_short(path), name, _short(where)))
    put_first_on_path(parent)
    package = importlib.import_module(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):  # _helpers are imported by users
            importlib.import_module(info.name)


def load_builtin(packages):
    """Import the canonical scenario packages by name (``_rngdrift.scenarios``), every
    module of them but the ``_helpers``. They import as rngdrift's own, never by a
    folder put on sys.path: a user's ``scenarios`` package stays the user's."""
    for name in packages:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            if not info.name.rsplit(".", 1)[-1].startswith("_"):
                importlib.import_module(info.name)


def load_paths(paths, user=True):
    """Import scenario files and packages (each registers its scenarios).

    A file is imported once whatever the path or import that reaches it first, so
    scenario files may import each other and shared helpers. A user's path that
    registers no scenario is an error (with a hint when it holds pytest tests).
    Scenarios that users' paths register get ``code_files``, the files whose hash
    becomes their ``code.sha256`` row. Every failure is a UserCodeError with one line.
    """
    for path, files in user_files(paths):
        try:
            if os.path.isdir(path) and os.path.isfile(os.path.join(path, "__init__.py")):
                _load_package(path)
            else:
                for name in files:
                    import_file(name)
        except UserCodeError:
            raise
        except (Exception, SystemExit) as exc:  # the user's code: one line, file and line
            message = describe_error(exc, files)
            if isinstance(exc, ImportError):
                message += " (a package the cells lack? name it in --cell-requirements)"
            raise UserCodeError(message)
        if not user:
            continue
        mine = set(os.path.realpath(f) for f in files)
        registered = [sc for sc in registry.SCENARIOS.values()
                      if sc.filename and os.path.realpath(sc.filename) in mine]
        if not registered:
            raise UserCodeError(_registers_nothing(path, files))
        for sc in registered:
            sc.code_files, sc.user = [sc.filename], True


def _registers_nothing(path, files):
    why = "%s: registers no scenario (no @scenario(...) function in it)" % _short(path)
    for name in files:
        base = os.path.basename(name)
        try:
            with open(name, "rb") as handle:
                source = handle.read().decode("utf-8", "replace")
        except (IOError, OSError):
            source = ""
        if base.startswith("test_") or base.endswith("_test.py") or "\ndef test_" in source:
            return why + "; it looks like a pytest file: run it with --pytest %s" % _short(path)
    return why + "; to run a plain function, use --call FILE:FUNCTION"


file_sha256 = codeid.file_sha256


def main(argv=None):
    """``python -m _rngdrift.harness.cell.loader --check PATH...``: the host's syntax preflight.

    Run with a cell's interpreter (nothing but the standard library needed): prints
    one line per file that interpreter cannot compile; exit code 2 when any.
    """
    import argparse
    parser = argparse.ArgumentParser(prog="python -m _rngdrift.harness.cell.loader")
    parser.add_argument("--check", nargs="+", metavar="PATH", required=True)
    parser.add_argument("--context", default="", help="appended to each message")
    args = parser.parse_args(argv)
    try:
        problems = check_syntax(args.check, args.context)
    except UserCodeError as exc:
        problems = [str(exc)]
    for problem in problems:
        sys.stderr.write("rngdrift: %s\n" % problem)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

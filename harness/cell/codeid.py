"""Code identity: which of the user's own source files a scenario runs, and their hash.

    files = closure([".../rng_checks.py"])     # the file and every user module it imports
    digest(files)                              # 16 hex digits: the ``code.sha256`` row

A file is *user code* when it is a Python source file outside the interpreter's
standard library, outside site-/dist-packages and outside rngdrift itself
(``harness/``, ``scenarios/``, ``rngdrift/``). The closure follows ``import``
statements (anywhere in a file, lazy ones in functions included) resolved the way
Python would against ``sys.path`` (plus ``extra`` folders: a script's own), read
with ``ast`` rather than by importing: it is the same in every process and in every
order, and a module a scenario imports only when it runs still counts. A name
computed at run time (``importlib.import_module(name)``) is not seen.

The digest is over file names and contents, not absolute paths, so the same code
checked out elsewhere (a CI runner) has the same identity.
"""
import ast
import hashlib
import os
import sys

DIGITS = 16
# Where _rngdrift.harness and _rngdrift.scenarios are (a checkout's root, or the
# installed _rngdrift package), and the public ``rngdrift`` package beside ``_rngdrift``.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
_PACKAGE = os.path.dirname(os.path.realpath(sys.modules[__name__.split(".")[0]].__file__))
_OWN = tuple(path + os.sep for path in (
    os.path.join(_ROOT, "harness"), os.path.join(_ROOT, "scenarios"), _PACKAGE,
    os.path.join(os.path.dirname(_PACKAGE), "rngdrift")))
_PARSED = {}  # path -> (mtime, size, [(level, dotted names)])


def _library_dirs():
    dirs = set()
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                   getattr(sys, "base_exec_prefix", sys.exec_prefix)):
        dirs.add(os.path.join(os.path.realpath(prefix), "lib") + os.sep)
    return tuple(sorted(dirs))


_LIBRARY = _library_dirs()


def is_user_file(path):
    """Whether ``path`` is one of the user's own Python files (see the module doc)."""
    if not path or not path.endswith(".py") or not os.path.isfile(path):
        return False
    real = os.path.realpath(path)
    if "%ssite-packages%s" % (os.sep, os.sep) in real or \
            "%sdist-packages%s" % (os.sep, os.sep) in real:
        return False
    return not real.startswith(_OWN) and not real.startswith(_LIBRARY)


def _imports(path):
    """[(level, [dotted module names it may load])] of every import in ``path``."""
    try:
        stat = os.stat(path)
    except OSError:
        return []
    cached = _PARSED.get(path)
    if cached and cached[:2] == (stat.st_mtime, stat.st_size):
        return cached[2]
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), path)
    except (SyntaxError, ValueError, IOError, OSError):
        tree = None
    found = []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Import):
            found += [(0, [alias.name]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names = [base] if base else []
            names += [(base + "." if base else "") + alias.name for alias in node.names
                      if alias.name != "*"]
            found.append((node.level or 0, names))
    _PARSED[path] = (stat.st_mtime, stat.st_size, found)
    return found


def _module_files(folder, dotted):
    """The files ``import dotted`` runs when its top package lies in ``folder``
    (package ``__init__``s on the way, then the module); [] when it is not there."""
    parts = dotted.split(".")
    files = []
    here = folder
    for i, part in enumerate(parts):
        package = os.path.join(here, part, "__init__.py")
        module = os.path.join(here, part + ".py")
        if os.path.isfile(package):
            files.append(package)
            here = os.path.join(here, part)
        elif os.path.isfile(module):
            files.append(module)
            break
        elif i == 0:
            return []
        else:
            break
    return files


def _resolve(path, level, names, search):
    """Files the import (``level``, ``names``) in ``path`` may run."""
    if level:
        base = os.path.dirname(path)
        for _ in range(level - 1):
            base = os.path.dirname(base)
        out = []
        for name in names:
            out += _module_files(base, name) if name else []
        return out
    out = []
    for name in names:
        top = name.split(".")[0]
        for folder in search:
            if os.path.isfile(os.path.join(folder, top + ".py")) or \
                    os.path.isfile(os.path.join(folder, top, "__init__.py")):
                out += _module_files(folder, name)
                break  # Python stops at the first folder that has it
    return out


def closure(entries, extra=()):
    """Sorted real paths of the user files ``entries`` run: themselves and every user
    module their imports reach, transitively. ``extra``: folders searched before
    sys.path (a script's own folder)."""
    search = [os.path.realpath(p) for p in list(extra) + [p or os.getcwd() for p in sys.path]
              if p is not None and os.path.isdir(p or os.getcwd())]
    seen = set()
    todo = [os.path.realpath(p) for p in entries if p]
    while todo:
        path = todo.pop()
        if path in seen or not is_user_file(path):
            continue
        seen.add(path)
        for level, names in _imports(path):
            todo += [os.path.realpath(f) for f in _resolve(path, level, names, search)]
    return sorted(seen)


def file_sha256(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except (IOError, OSError):
        return None


def digest(files):
    """16 hex digits over the files' names and contents (not where they lie)."""
    lines = sorted("%s %s" % (os.path.basename(f), file_sha256(f)) for f in files)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:DIGITS]


def of_scenario(sc):
    """The ``code.sha256`` value of a user scenario (None for a canonical one);
    computed once per process."""
    files = getattr(sc, "code_files", None)
    if not files:
        return None
    if getattr(sc, "_code_digest", None) is None:
        sc.code_closure = closure(files, getattr(sc, "code_search", ()))
        sc._code_digest = digest(sc.code_closure)
    return sc._code_digest

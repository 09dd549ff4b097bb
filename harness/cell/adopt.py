"""Turning a user's function, script or test into a registered scenario: the pieces
``usercode``, ``scripts`` and ``testrun`` share.

    resolve("examples/data.py:noisy_points", "--dataset", workdir)   (function, file, name)
    add(name, func, "--call", text, where, line, code_files)          registry + code identity
    with running_in(workdir, argv0): ...                              cwd and sys.argv of a program

Every problem is a ``loader.UserCodeError`` naming the option and its value.
"""
import contextlib
import importlib
import os
import sys

from . import loader, registry
from .loader import UserCodeError, describe_error


@contextlib.contextmanager
def running_in(workdir, argv0=None):
    """cwd ``workdir`` and ``sys.argv`` as a program of the user's would have them."""
    cwd, argv = os.getcwd(), list(sys.argv)
    os.chdir(workdir)
    sys.argv[:] = [argv0 or ""]
    try:
        yield
    finally:
        sys.argv[:] = argv
        try:
            os.chdir(cwd)
        except OSError:
            pass


def _is_path(target):
    return target.endswith(".py") or os.sep in target or "/" in target


def resolve(text, option, workdir):
    """(object, the file it is defined in, name stem, the files of the code identity: the
    module named and that file) for ``FILE.py:NAME`` or ``module:NAME``."""
    target, sep, attr = text.rpartition(":")
    if not sep or not target or not attr:
        raise UserCodeError("%s %r: expected FILE.py:FUNCTION or module:FUNCTION" % (option, text))
    files = [os.path.realpath(os.path.join(workdir, target))] if _is_path(target) else []
    try:
        if _is_path(target):
            path = files[0]
            if not os.path.isfile(path):
                raise UserCodeError("%s %r: %s: no such file" % (option, text,
                                                                  os.path.join(workdir, target)))
            module = loader.import_file(path)
            stem = os.path.splitext(os.path.basename(path))[0]
        else:
            module = importlib.import_module(target)
            stem, files = target, [getattr(module, "__file__", None)]
    except UserCodeError:
        raise
    except (Exception, SystemExit) as exc:
        message = describe_error(exc, files)
        if isinstance(exc, ImportError):
            message += " (a package the cells lack? name it in --cell-requirements)"
        raise UserCodeError("%s %r: %s" % (option, text, message))
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UserCodeError("%s %r: %s has no %r" % (option, text, stem, part))
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserCodeError("%s %r: %s is a %s, not a function" % (option, text, attr,
                                                                     type(obj).__name__))
    code = getattr(obj, "__code__", None)
    where = code.co_filename if code else files[0]
    return obj, where, stem.replace("-", "_") + "." + attr, [f for f in files if f] + [where]


def add(name, func, option, text, where=None, line=0, code_files=(), code_search=(),
        forks=False, goals=None):
    """Register one scenario made from the user's code; UserCodeError on a bad name.
    ``forks``: it runs the user's program in a fork of the child (forked.py); ``goals``:
    the metrics that measure correctness (the report's *broken*)."""
    try:
        sc = registry.add(name, func, "%s:%s" % (where, line) if where else text, where,
                          goals=goals)
    except registry.RegistrationError as exc:
        raise UserCodeError("%s %r: %s" % (option, text, exc))
    unique = []
    for path in code_files:
        if path and path not in unique:
            unique.append(path)
    sc.code_files = unique or None
    sc.code_search = tuple(code_search)
    sc.user = True
    sc.forks = forks
    return sc

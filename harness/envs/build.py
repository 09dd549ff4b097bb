"""A check's environments: the team's declarations resolved with uv, then installed.

    resolved = resolve(declared, extra, (xy, interpreter), index, cache)  # exact pins, or
                                                                          # a one-line reason
    python = install(resolved, cache, index)                              # its interpreter

Resolution is ``uv pip compile`` for that interpreter: the team's lines as they are
(NumPy and Pillow too: the matrix's held pins are the matrix's, not the team's), plus
what the check itself needs (pytest for ``--pytest``, when the team does not declare
it), resolved together so that nothing rngdrift adds can move the team's pins. A
resolution is kept under its inputs' digest (``--refresh`` resolves again), an
environment under its pins' digest: a second check of the same declarations installs
nothing, and two pull requests with the same base share its environment.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

from ..errors import UserError
from . import uvtool
from .declared import Declared, canonical

STAMP = ".rngdrift-pins"


@dataclasses.dataclass(frozen=True)
class Resolved:
    """One side's exact pins on one Python."""
    python: str                 # X.Y
    interpreter: str
    pins: tuple[str, ...]       # name==version lines (uv pip compile's output)

    def version(self, project: str) -> str | None:
        for line in self.pins:
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
            if match and canonical(match[1]) == project:
                return match[2]
        return None

    @property
    def digest(self) -> str:
        return _digest([self.python, self.interpreter, *self.pins])


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def resolve(declared: Declared, extra: list[str], python: tuple[str, str], index: list[str],
            cache: Path, refresh: bool = False) -> Resolved | str:
    """The exact pins of ``declared`` + ``extra`` on ``python`` (X.Y, interpreter), or
    uv's reason why there are none, in one line."""
    xy, interpreter = python
    inputs = {"requirements": [*declared.requirements, *extra], "constraints":
              list(declared.constraints), "python": xy, "interpreter": interpreter,
              "index": index}
    work = cache / "resolved" / _digest(inputs)
    done = work / "pins.txt"
    if done.is_file() and not refresh:
        return Resolved(xy, interpreter, tuple(done.read_text().splitlines()))
    work.mkdir(parents=True, exist_ok=True)
    (work / "requirements.in").write_text("\n".join(inputs["requirements"]) + "\n")
    (work / "constraints.txt").write_text("\n".join(inputs["constraints"]) + "\n")
    proc = uvtool.run(["pip", "compile", "--quiet", "--no-header", "--no-annotate",
                       "--python", interpreter, *index, "-c", str(work / "constraints.txt"),
                       str(work / "requirements.in")], cwd=work)
    if proc.returncode != 0:
        return uvtool.one_line(proc.stderr or proc.stdout)
    pins = [line.strip() for line in proc.stdout.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    tmp = work / "pins.txt.tmp"
    tmp.write_text("\n".join(pins) + "\n")
    tmp.replace(done)
    return Resolved(xy, interpreter, tuple(pins))


def install(resolved: Resolved, cache: Path, index: list[str], label: str) -> Path:
    """The interpreter of a venv holding exactly ``resolved``'s pins (made, or kept from
    an earlier check); UserError naming ``label`` when uv fails (an sdist that does not
    build, a wheel gone from the index)."""
    venv = cache / "envs" / f"py{resolved.python}-{resolved.digest}"
    python = venv / "bin" / "python"
    stamp = venv / STAMP
    text = "\n".join(resolved.pins) + "\n"
    if python.exists() and stamp.is_file() and stamp.read_text() == text:
        return python
    pins = cache / "resolved" / f"{resolved.digest}.txt"
    pins.parent.mkdir(parents=True, exist_ok=True)
    pins.write_text(text)
    for args in (["venv", "--quiet", "--clear", "--python", resolved.interpreter, str(venv)],
                 ["pip", "sync", "--quiet", "--python", str(python), *index, str(pins)]):
        proc = uvtool.run(args)
        if proc.returncode != 0:
            stamp.unlink(missing_ok=True)
            raise UserError(f"{label}: resolved, but did not install on Python "
                            f"{resolved.python}: {uvtool.one_line(proc.stderr or proc.stdout)}")
    stamp.write_text(text)
    return python

"""``--from SPEC`` / ``--to SPEC`` of ``rngdrift check``: what one side declares.

A SPEC is, tried in this order:

    a file                  requirements.txt (``-r``/``-c`` followed), pylock.toml,
                            pyproject.toml or uv.lock in the working tree
    pins                    "torch==2.4.1 torchvision==0.19.1" (every word a requirement
                            with a version operator): the working tree's declarations
                            with these standing in for the lines naming the same projects
    a matrix cell           py3.8-torch1.5.0-tv0.6.0 (any cell id, pins included): the
                            cell's exact pins (torch, torchvision, NumPy, Pillow and any
                            it names), standing in as pins do
    a git ref               HEAD~1, main, a sha: the declarations of the repository at
                            that commit, read with ``git show`` (``harness.envs.declared``)
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ..errors import UserError
from ..matrix import compat
from . import declared
from .declared import Declared, Tree

_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?(===|==|~=|!=|<=|>=|<|>)\S+")


@dataclasses.dataclass(frozen=True)
class Side:
    """One side of a check: the SPEC as given, what was read for it, what it declares."""
    option: str         # --from / --to
    spec: str
    what: str           # "requirements.txt at HEAD~1 (1a2b3c4d5e)", "pins ...", "req.txt"
    declared: Declared

    def __str__(self) -> str:
        return f"{self.option} {self.spec}"


def is_pins(spec: str) -> bool:
    words = spec.split()
    return bool(words) and all(_PIN.fullmatch(w) for w in words)


def read(spec: str, option: str, root: Path, only: list[str] = ()) -> Side:
    """The side ``spec`` names, for the project at ``root`` (the directory the check
    runs in); UserError with one line when it names nothing usable."""
    text = spec.strip()
    if not text:
        raise UserError(f"{option}: empty; give a git ref, a requirements file or pins "
                        "like \"torch==2.4.1 torchvision==0.19.1\"")
    path = (root / text).resolve()
    if path.is_file():
        found = declared.read(Tree.working(path.parent), [path.name])
        return _checked(Side(option, spec, str(Path(text)), found))
    cell = compat.parse_id(text)
    if is_pins(text) or cell is not None:
        pins = [r for r in cell.requirements if "==" in r] if cell else text.split()
        base = declared.read(Tree.working(root), only)
        what = (f"matrix cell {text} ({' '.join(pins)})" if cell else f"pins {text}") + (
            f" over {', '.join(base.files)}" if base.files else "")
        return _checked(Side(option, spec, what, base.replacing(pins)))
    tree = Tree.at_ref(root, text)
    if tree is not None:
        found = declared.read(tree, only)
        what = f"{', '.join(found.files) or 'nothing'} at {tree}"
        return _checked(Side(option, spec, what, found))
    raise UserError(f"{option} {spec}: not a file, not pins (\"torch==2.4.1 "
                    f"torchvision==0.19.1\"), not a matrix cell id and not a git ref of {root}")


def _checked(side: Side) -> Side:
    if not side.declared.requirements:
        raise UserError(f"{side}: declares nothing ({side.what}); rngdrift reads "
                        "requirements*.txt, pyproject.toml, uv.lock or pylock.toml "
                        "(--declared FILE names others)")
    if "torch" not in side.declared.names():
        raise UserError(f"{side}: {side.what} does not declare torch; name it in the pins "
                        "(\"torch==2.4.1 torchvision==0.19.1\") or in the file")
    return side

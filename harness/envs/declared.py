"""A project's dependency declarations, read from its working tree or from a git ref.

    tree = Tree.working(root)  or  Tree.at_ref(root, "HEAD~1")
    found = read(tree)         # Declared: requirement lines, constraint lines, what was read

Which files, in this order (the first kind the tree has wins):

    uv.lock          every locked package (``uv export --frozen``, with its pyproject.toml)
    pylock.toml      PEP 751: every ``[[packages]]`` entry as ``name==version ; marker``
    requirements*.txt at the root (all of them; ``-r``/``-c`` includes followed, also at
    the ref)
    pyproject.toml   ``[project] dependencies``, plus its ``test``/``tests``/``dev`` extras
                     and dependency groups

Requirement lines are kept as written (markers, URLs, ``-e .``); index options
(``--index-url``, ``--extra-index-url``, ``--find-links``) go with them. A local path
(``-e .``, ``./pkg``) means the working tree's: the code a check runs is the working
tree's on both sides.
"""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile
import tomllib
from pathlib import Path, PurePosixPath

from ..errors import UserError
from . import uvtool

TEST_GROUPS = ("test", "tests", "testing", "dev")
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)")
_INDEX = re.compile(r"^(--index-url|-i|--extra-index-url|--find-links|-f|--pre|--no-index)\b")


def canonical(name: str) -> str:
    """PEP 503's normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str | None:
    """The project a requirement line names (None for options, paths and URLs)."""
    if line.startswith(("-", ".", "/")) or "://" in line.split(";")[0].split("@")[0]:
        return None
    match = _NAME.match(line)
    return canonical(match[1]) if match else None


@dataclasses.dataclass(frozen=True)
class Tree:
    """The files of a project: its working tree, or a commit of its git repository."""
    root: Path
    ref: str | None = None      # None: the working tree
    commit: str | None = None

    @classmethod
    def working(cls, root: Path) -> "Tree":
        return cls(Path(root).resolve())

    @classmethod
    def at_ref(cls, root: Path, ref: str) -> "Tree | None":
        """The commit ``ref`` names in the repository holding ``root``, or None."""
        top = _git(root, "rev-parse", "--show-toplevel")
        commit = top and _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        return cls(Path(top), ref, commit) if commit else None

    def __str__(self) -> str:
        return f"{self.ref} ({self.commit[:10]})" if self.ref else "the working tree"

    def names(self) -> list[str]:
        """The file names at the tree's root."""
        if self.ref is None:
            return sorted(p.name for p in self.root.iterdir() if p.is_file())
        listing = _git(self.root, "ls-tree", "--name-only", self.commit) or ""
        return sorted(listing.splitlines())

    def read(self, path: str) -> str | None:
        """The text of ``path`` (relative to the root), or None when it is not there."""
        if self.ref is None:
            try:
                return (self.root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None
        return _git(self.root, "show", f"{self.commit}:{PurePosixPath(path)}", strip=False)


def _git(where: Path, *args: str, strip: bool = True) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(where), *args], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() if strip else proc.stdout


@dataclasses.dataclass(frozen=True)
class Declared:
    """What a tree declares: requirement lines (index options among them), constraint
    lines, and which files they came from."""
    requirements: tuple[str, ...]
    constraints: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    def names(self) -> set[str]:
        return {n for n in map(requirement_name, self.requirements) if n}

    def replacing(self, pins: list[str]) -> "Declared":
        """These declarations with ``pins`` standing in for the lines naming the same
        projects (and added where none does)."""
        pinned = {requirement_name(p) for p in pins}
        kept = [r for r in self.requirements if requirement_name(r) not in pinned]
        constraints = [c for c in self.constraints if requirement_name(c) not in pinned]
        return Declared(tuple(kept + pins), tuple(constraints), self.files)


def _lines(text: str) -> list[str]:
    """Logical lines of a requirements file: continuations joined, comments dropped."""
    text = re.sub(r"\\\r?\n", " ", text)
    out = []
    for line in text.splitlines():
        line = " ".join(re.sub(r"(^|\s)#.*$", "", line).split())
        if line:
            out.append(line)
    return out


def requirements_file(tree: Tree, path: str, seen: set[str] | None = None,
                      constraint: bool = False) -> tuple[list[str], list[str]]:
    """(requirement lines, constraint lines) of one requirements file, ``-r``/``-c``
    followed within the tree; a local path made absolute in the working tree."""
    seen = set() if seen is None else seen
    if path in seen:
        return [], []
    seen.add(path)
    text = tree.read(path)
    if text is None:
        raise UserError(f"{path} (in {tree}): no such file")
    requirements, constraints = [], []
    folder = PurePosixPath(path).parent
    for line in _lines(text):
        include = _INCLUDE.match(line)
        if include:
            target = str(folder / include[2])
            more, more_c = requirements_file(tree, target, seen,
                                             constraint or include[1] in ("-c", "--constraint"))
            requirements += more
            constraints += more_c
            continue
        if not _INDEX.match(line):
            line = _absolute(line, tree.root / str(folder))
        (constraints if constraint and requirement_name(line) else requirements).append(line)
    return requirements, constraints


def _absolute(line: str, folder: Path) -> str:
    """``-e .`` / ``./pkg`` / ``../x.whl`` as absolute paths of the working tree."""
    editable = re.match(r"^(-e|--editable)\s+(\S+)(.*)$", line)
    target = editable[2] if editable else line.split(";")[0].strip()
    if target.startswith((".", "/")) or (editable and "://" not in target):
        absolute = os.path.normpath(folder / target)
        return f"-e {absolute}{editable[3]}" if editable else line.replace(target, absolute, 1)
    return line


def _pyproject(tree: Tree) -> list[str]:
    data = tomllib.loads(tree.read("pyproject.toml") or "")
    project = data.get("project", {})
    lines = list(project.get("dependencies", []))
    for group in TEST_GROUPS:
        lines += project.get("optional-dependencies", {}).get(group, [])
    groups = data.get("dependency-groups", {})

    def group_lines(name, depth=0):
        out = []
        for item in groups.get(name, []) if depth < 10 else []:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and "include-group" in item:
                out += group_lines(item["include-group"], depth + 1)
        return out
    for group in TEST_GROUPS:
        lines += group_lines(group)
    return lines


def _pylock(tree: Tree, name: str) -> list[str]:
    data = tomllib.loads(tree.read(name) or "")
    lines = []
    for package in data.get("packages", []):
        if "name" in package and "version" in package:
            marker = f" ; {package['marker']}" if package.get("marker") else ""
            lines.append(f"{package['name']}=={package['version']}{marker}")
    return lines


def _uv_lock(tree: Tree) -> list[str]:
    """``uv export --frozen`` of the lock at the tree (it needs pyproject.toml beside it)."""
    with tempfile.TemporaryDirectory(prefix="rngdrift-uvlock-") as scratch:
        for name in ("uv.lock", "pyproject.toml"):
            (Path(scratch) / name).write_text(tree.read(name) or "")
        proc = uvtool.run(["export", "--frozen", "--no-hashes", "--no-emit-project",
                           "--no-header", "--format", "requirements-txt"], cwd=scratch)
    if proc.returncode != 0:
        raise UserError(f"uv.lock (in {tree}): uv export failed: {uvtool.one_line(proc.stderr)}")
    return _lines(proc.stdout)


def read(tree: Tree, only: list[str] = ()) -> Declared:
    """The declarations of ``tree`` (``only``: these files instead of looking)."""
    names = list(only) or tree.names()
    try:
        if "uv.lock" in names and "pyproject.toml" in tree.names():
            return Declared(tuple(_uv_lock(tree)), files=("uv.lock",))
        locks = [n for n in names if re.fullmatch(r"pylock(\.[^.]+)?\.toml", n)]
        if locks:
            return Declared(tuple(_pylock(tree, locks[0])), files=(locks[0],))
        wanted = [n for n in names if re.fullmatch(r"requirements[\w.-]*\.(txt|in)", n)] \
            if not only else [n for n in names if not n.endswith(".toml")]
        if wanted:
            requirements, constraints, seen = [], [], set()
            for name in wanted:
                more, more_c = requirements_file(tree, name, seen)
                requirements += more
                constraints += more_c
            return Declared(tuple(requirements), tuple(constraints), tuple(wanted))
        if "pyproject.toml" in names:
            return Declared(tuple(_pyproject(tree)), files=("pyproject.toml",))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{tree}: a TOML file does not parse ({exc})") from None
    return Declared(())

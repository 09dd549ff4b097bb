"""The host side needs only what it declares.

nox loads noxfile.py, which imports the harness; `rngdrift` runs the same modules.
Whatever they import must come from requirements.txt (a clone) or from the
project's dependencies (``pip install .``): a package that happens to be installed
on the developer's machine must not make them work. Two checks:

* statically, every top-level import of a host module is the standard library,
  rngdrift itself, or a declared distribution (fast, names the file and line);
* for real (slow), in a new virtual environment that has only requirements.txt,
  and in another that has only what ``pip install .`` brings: nox lists the
  sessions and every host module imports.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OWN = {"_rngdrift", "rngdrift"}
# The import names of each declared distribution, and what they bring with them that the
# host may import too (nox's own dependencies are nox's business, not the host's).
IMPORT_NAMES = {"nox": {"nox"}, "pandas": {"pandas"}}
# Loaded by pytest through its entry point, so pytest is there whenever it is imported.
LOADED_BY_PYTEST = {"pytest_plugin.py"}


def host_modules() -> list[Path]:
    """Every host-side module: the harness outside harness/cell, the rngdrift package
    and the noxfile."""
    files = [ROOT / "noxfile.py", *sorted(p for p in (ROOT / "rngdrift").rglob("*.py")
                                          if p.name not in LOADED_BY_PYTEST)]
    files += [p for p in sorted((ROOT / "harness").rglob("*.py"))
              if "cell" not in p.relative_to(ROOT / "harness").parts[:1]]
    return files


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def requirement_names(lines) -> set[str]:
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[\[<>=!~; ]", line, 1)[0].lower())
    return names


def declared_in_requirements() -> set[str]:
    return requirement_names((ROOT / "requirements.txt").read_text().splitlines())


def declared_in_pyproject() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return requirement_names(project["dependencies"])


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(top-level name, line) of every absolute import in the file, lazy ones included."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


def test_requirements_and_pyproject_declare_the_same_distributions():
    assert declared_in_requirements() == declared_in_pyproject()


def test_every_host_import_is_stdlib_own_or_declared():
    allowed = set(sys.stdlib_module_names) | OWN | {"__future__"}
    for distribution in declared_in_requirements():
        allowed |= IMPORT_NAMES.get(distribution, {distribution})
    undeclared = [f"{path.relative_to(ROOT)}:{line}: import {name}"
                  for path in host_modules() for name, line in imports_of(path)
                  if name not in allowed]
    assert not undeclared, "host imports that requirements.txt does not install:\n" + \
        "\n".join(undeclared)


def test_the_static_check_sees_an_undeclared_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    import yaml\n    from scipy import stats\n")
    assert [name for name, _ in imports_of(module)] == ["os", "yaml", "scipy"]


def _clean_venv(where: Path) -> Path:
    """A new virtual environment without system site-packages; its python."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import pandas"], capture_output=True)
    assert probe.returncode != 0, "a new venv can import pandas: not clean"
    return python


IMPORT_ALL = """
import importlib, sys
names = sys.argv[1:]
for name in names:
    importlib.import_module(name)
print(len(names), "modules imported")
"""


def _import_everything(python: Path, cwd: Path, env=None) -> subprocess.CompletedProcess:
    # (a __main__ module runs its command when imported: its imports are checked statically)
    names = [module_name(p) for p in host_modules() if p.name not in ("noxfile.py", "__main__.py")]
    names = [("_rngdrift." + n if n.startswith("harness") else n) for n in names]
    return subprocess.run([str(python), "-c", IMPORT_ALL, *names], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_a_venv_with_only_requirements_txt_loads_the_noxfile_and_every_host_module(tmp_path):
    python = _clean_venv(tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r",
                    str(ROOT / "requirements.txt")], check=True, timeout=900)
    listed = subprocess.run([str(python), "-m", "nox", "-l"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "matrix(" in listed.stdout
    imported = _import_everything(python, ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert imported.returncode == 0, imported.stderr[-3000:]


@pytest.mark.slow
def test_pip_install_dot_brings_what_every_host_module_imports(tmp_path):
    python = _clean_venv(tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True,
                   timeout=900)
    outside = tmp_path / "elsewhere"
    outside.mkdir()  # not the checkout: the installed package must stand alone
    imported = _import_everything(python, outside)
    assert imported.returncode == 0, imported.stderr[-3000:]
    helped = subprocess.run([str(tmp_path / "venv" / "bin" / "rngdrift"), "--help"],
                            cwd=outside, capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0, helped.stderr[-3000:]

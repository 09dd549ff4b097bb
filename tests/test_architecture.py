"""The shape of the house: imports go one way, modules stay small, rows have one maker.

Read from the source with ``ast`` (every import, function-level ones included), so
a cycle dodged with an import inside a function still fails here.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "scenarios", "benchmarks")
# harness/ and scenarios/ import as _rngdrift.harness and _rngdrift.scenarios (_rngdrift/)
PREFIX = {"harness": "_rngdrift.", "scenarios": "_rngdrift.", "benchmarks": ""}
CELL = "_rngdrift.harness.cell"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    mods = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = PREFIX[top] + ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


MODULES = _modules()


def _cell_side(name: str) -> bool:
    return name == CELL or name.startswith(CELL + ".")


def _imports(name: str, path: Path) -> set[str]:
    """Project modules that ``name`` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n for n in names if n in MODULES and n != name
                     and not name.startswith(n + "."))
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(GRAPH):
        if node not in state:
            visit(node, [])
    return cycles


def test_no_import_cycles():
    assert [" -> ".join(c) for c in _cycles()] == []


@pytest.mark.parametrize("name", sorted(filter(_cell_side, MODULES)))
def test_the_cell_side_imports_only_the_cell_side(name):
    """harness.cell runs inside matrix venvs: never the host side, never the scenarios
    package (the canonical scenarios are imported by name, not by an import here)."""
    assert {n for n in GRAPH[name] if not _cell_side(n)} == set()


@pytest.mark.parametrize("name", ["_rngdrift.harness.report.markdown",
                                  "_rngdrift.harness.report.html_page"])
def test_renderers_depend_on_the_model_not_on_each_other(name):
    others = {"_rngdrift.harness.report.markdown", "_rngdrift.harness.report.html_page",
              "_rngdrift.harness.report.tables", "_rngdrift.harness.report"} - {name}
    assert GRAPH[name] & others == set()


@pytest.mark.parametrize("name", sorted(n for n in MODULES
                                        if n.startswith(("_rngdrift.harness", "benchmarks"))))
def test_no_module_is_too_large_to_read(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines; split it by role"


def test_rows_are_built_by_the_schema_alone():
    """Every CSV row comes from harness.cell.schema's factory: nobody else builds a Row
    or spells out the columns of one."""
    offenders = []
    for name, path in MODULES.items():
        if name == CELL + ".schema":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("Row",):
                offenders.append(f"{path}:{node.lineno}")
            if isinstance(node, ast.Dict) and {"schema_version", "metric", "status"} <= {
                    k.value for k in node.keys if isinstance(k, ast.Constant)}:
                offenders.append(f"{path}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("benchmarks")))
def test_nothing_imports_the_benchmark(name):
    """The benchmark measures the harness from outside; the harness never needs it."""
    assert {n for n in GRAPH[name] if n.startswith("benchmarks")} == set()


def _nox_names(path: Path) -> set[str]:
    """Every ``nox.x.y`` name a file imports (``from nox.a import b`` gives ``nox.a.b``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "nox")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nox":
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


@pytest.mark.parametrize("path", [*MODULES.values(), ROOT / "noxfile.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_nox_api(path):
    """A nox release may change what starts with an underscore without notice."""
    private = {n for n in _nox_names(path) if any(p.startswith("_") for p in n.split("."))}
    assert private == set()


# -- one vocabulary, one place -------------------------------------------------------------

# Names that are also plain words elsewhere (a --fail-on value, a column, a generator, a
# part of a result key): checked only where compared against a mode, seeding, severity
# or category.
GENERIC = {"none", "all", "python", "torch", "numpy", "cuda", "platform", "harness", "generator",
           "workers"}
_VOCABULARY_NAME = re.compile(r"mode|seeding|severity|category")


def _vocabularies():
    """{record module: names} of the vocabularies that are records (issue 21)."""
    from _rngdrift.harness.cell import modes
    from _rngdrift.harness.report import severity
    from _rngdrift.harness.results import changes
    return {"_rngdrift.harness.cell.modes": set(modes.NAMES),
            "_rngdrift.harness.report.severity": set(severity.NAMES),
            "_rngdrift.harness.results.changes": set(changes.CATEGORIES) | {
                changes.ALL_CATEGORIES, changes.NO_CATEGORY}}


def _names_a_vocabulary(node) -> bool:
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return bool(_VOCABULARY_NAME.search(name or ""))


def _vocabulary_literals(path: Path, names: set[str]) -> list[str]:
    """Where a name of ``names`` is spelt out as a string the code compares against,
    collects or keys on (not prose, not an argument)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        vocabulary_compare = False
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            vocabulary_compare = any(_names_a_vocabulary(p) for p in parts)
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            parts = node.elts
        elif isinstance(node, ast.Dict):
            parts = [k for k in node.keys if k is not None]
        else:
            continue
        for part in parts:
            leaves = ast.walk(part) if isinstance(part, (ast.Tuple, ast.List, ast.Set)) else [part]
            for leaf in leaves:
                if isinstance(leaf, ast.Constant) and leaf.value in names and (
                        leaf.value not in GENERIC or vocabulary_compare):
                    found.append(f"{path.relative_to(ROOT)}:{leaf.lineno}: {leaf.value!r}")
    return found


def test_no_mode_severity_or_category_literal_outside_its_record_module():
    """A seeding mode, a severity and a compare category are each one record; harness
    code elsewhere asks the record (``modes.get(m).seeds``, ``severity.get(s).folded``)
    or uses the constant it exports, never a spelt-out name it compares against.
    (Scenarios name metrics, which may be any word.)"""
    offenders = []
    vocabularies = _vocabularies()
    for home, names in vocabularies.items():
        for name, path in MODULES.items():
            if name != home and name.startswith("_rngdrift.harness"):
                offenders += _vocabulary_literals(path, names - vocabularies.get(name, set()))
    assert sorted(set(offenders)) == []


def test_each_output_is_registered_once_and_the_baseline_promotes_the_registry():
    from _rngdrift.harness.report import COMPARE_OUTPUTS, OUTPUTS, PROMOTED, UPGRADE_OUTPUTS
    from _rngdrift.harness.results import baseline
    names = [o.name for o in OUTPUTS + COMPARE_OUTPUTS + UPGRADE_OUTPUTS]
    assert len(names) == len(set(names))
    assert {"findings.csv", "findings.json", "report.md", "report.html"} <= set(names)
    assert baseline.promoted_names() == PROMOTED == tuple(o.name for o in OUTPUTS)
    # no module but the registry names an output file as something to write
    writers = [n for n, p in MODULES.items() if "rundirs.write_files" in p.read_text()
               and any(f'"{o}"' in p.read_text() for o in names)]
    assert writers == []


RENDERERS = ("markdown", "html_page", "findings_data")


@pytest.mark.parametrize("name", [f"_rngdrift.harness.report.{r}" for r in RENDERERS])
def test_no_renderer_reaches_into_another(name):
    """Renderers share the model and its sentences (model, words), never each other's
    code, private or not."""
    others = {f"_rngdrift.harness.report.{r}" for r in RENDERERS} - {name}
    assert GRAPH[name] & others == set()
    private = [f"{node.value.id}.{node.attr}" for node in ast.walk(ast.parse(MODULES[name].read_text()))
               if isinstance(node, ast.Attribute) and node.attr.startswith("_")
               and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
               and node.value.id not in ("self", "cls")]
    assert private == []

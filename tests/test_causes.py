"""The cause catalog (harness/report/causes.csv) is well-formed data the report can match on.

Checked against the project itself: scenario globs must name scenarios the committed
baseline ran, draw names must be ones tracing.py counts, and the baseline's headline
change (pairs.hflip at tv 0.7) must be explained by a catalog row.
"""
from __future__ import annotations

import csv
import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAUSES = ROOT / "harness" / "report" / "causes.csv"
HEADER = ["id", "package", "version", "apis", "draws_before", "draws_after", "scenarios",
          "platform", "what", "fix", "link", "fix_scenarios"]


def _rows() -> list[dict]:
    with CAUSES.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == HEADER
        return list(reader)


def _baseline_scenarios() -> set[str]:
    with (ROOT / "results" / "baseline" / "drift.csv").open(newline="") as handle:
        return {row["scenario"] for row in csv.DictReader(handle)}


def _canonical_scenarios() -> set[str]:
    """Every scenario the canonical modules register (those the baseline cannot run
    too: the stack around torch needs albumentations or Lightning installed)."""
    found = set()
    for path in (ROOT / "scenarios").glob("*.py"):
        found |= set(re.findall(r'@scenario\(\s*"([^"]+)"', path.read_text()))
    return found


def _traced_names() -> set[str]:
    """Every API name tracing.py counts."""
    pytest.importorskip("torch")
    from _rngdrift.harness.cell import tracing
    return set(tracing.api_names())


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


USER_FAMILIES = {"call", "script", "pytest", "dataset", "datapairs"}


def test_rows_are_well_formed():
    rows = _rows()
    assert rows
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    scenarios, traced = _baseline_scenarios() | _canonical_scenarios(), _traced_names()
    for row in rows:
        assert re.fullmatch(r"[a-z0-9.\-]+", row["id"]), row["id"]
        # torch, torchvision, numpy, python, pillow, or any distribution as PEP 503 spells it
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", row["package"]), row["id"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", row["version"]), row["id"]
        assert row["platform"] in {"", "cpu-vendor", "cuda"}, row["id"]
        assert row["link"].startswith("https://github.com/"), row["id"]
        assert row["apis"].strip() and row["what"].strip() and row["fix"].strip(), row["id"]
        for text in (row["what"], row["fix"]):
            assert "\n" not in text, row["id"]
        for name in (row["draws_before"] + " " + row["draws_after"]).split():
            assert name in traced, (row["id"], name)
        for glob in row["scenarios"].split():
            # a canonical scenario, or the families rngdrift makes of a user's code
            assert glob.split(".")[0] in USER_FAMILIES or \
                any(fnmatch.fnmatch(name, glob) for name in scenarios), (row["id"], glob)
        for name in row["fix_scenarios"].split():  # canonical scenarios that apply the fix
            assert name in scenarios, (row["id"], name)


def test_headline_change_is_explained():
    """pairs.hflip under python seeding breaks at tv 0.7: a row must match that step and
    say the draws moved from random.random to torch.rand."""
    matches = [row for row in _rows()
               if row["package"] == "torchvision"
               and _version("0.6.0") < _version(row["version"]) <= _version("0.7.0")
               and any(fnmatch.fnmatch("pairs.hflip", g) for g in row["scenarios"].split())]
    assert len(matches) == 1
    assert "random.random" in matches[0]["draws_before"].split()
    assert "torch.rand" in matches[0]["draws_after"].split()


# -- versions, links, CPU classes -------------------------------------------------------

LOCK = ROOT / "matrix.lock.json"
PLATFORM = ROOT / "harness" / "results" / "platform_dependence.csv"

# Where a link may point: the change itself (PR, commit), the issue it closes, the release
# notes, or the source at a release tag (never a branch, whose text moves).
GITHUB_LINK = re.compile(
    r"https://github\.com/[\w.-]+/[\w.-]+/(pull/\d+|commit/[0-9a-f]{7,40}|issues/\d+"
    r"|releases/tag/[\w.+-]+|blob/(?P<tag>v?\d[\w.+-]*)/\S+)")
RELEASE_NOTES = re.compile(
    r"https://(docs\.python\.org/3/whatsnew/\d+\.\d+\.html"
    r"|numpy\.org/doc/[\w.]+/release/[\w.-]+\.html"
    r"|pillow\.readthedocs\.io/en/[\w.]+/releasenotes/[\w.-]+\.html)(#\S*)?")


def _lock_versions() -> dict[str, set[str]]:
    import json
    lock = json.loads(LOCK.read_text())
    return {package: {entry["version"] for entry in lock[package]}
            for package in ("torch", "torchvision")}


def test_versions_are_releases():
    """A row's version is the first release with the change: a torch or torchvision version
    the lock knows (or the X.Y.0 of a series the lock has from X.Y.1 on: torchvision 0.11.0
    and 0.15.0 are GitHub releases that PyPI does not carry), a CPython feature release
    (3.N.0) or a NumPy feature release (X.Y.0)."""
    released = _lock_versions()
    for row in _rows():
        package, version = row["package"], row["version"]
        if package in released:
            series = {v.rsplit(".", 1)[0] for v in released[package]}
            assert version in released[package] or (
                version.endswith(".0") and version.rsplit(".", 1)[0] in series), \
                (row["id"], version)
        elif package == "python":
            found = re.fullmatch(r"3\.(\d+)\.0", version)
            assert found and 5 <= int(found.group(1)) <= 14, (row["id"], version)
        elif package == "numpy":
            assert re.fullmatch(r"1\.\d+\.0|2\.\d+\.0", version), (row["id"], version)
        # the id says the same release
        assert row["id"].startswith(f"{_ID_PREFIX.get(package, package)}-"
                                    f"{'.'.join(version.split('.')[:2])}"), row["id"]


_ID_PREFIX = {"torchvision": "tv", "python": "py", "pytorch-lightning": "lightning"}


def test_links_point_at_the_change():
    """PR, commit, issue, release notes or a tagged file; a tagged file is of the row's own
    minor release (v0.15.2 documents a 0.15.0 change; main documents nothing for good)."""
    for row in _rows():
        link = row["link"]
        found = GITHUB_LINK.fullmatch(link)
        assert found or RELEASE_NOTES.fullmatch(link), (row["id"], link)
        if found and found.group("tag"):
            tag = _version(found.group("tag").lstrip("v").split("-")[0])
            assert tag[:2] == _version(row["version"])[:2] and tag >= _version(row["version"]), \
                (row["id"], link)


def test_vendor_rows_name_the_cpu_classes_and_match_the_platform_data():
    """A ``cpu-vendor`` row says which CPU classes show it (Intel, AMD), and the learnt
    platform data (Intel vs AMD runs of the same pins) flips between "differ" and "agree"
    for one of its scenarios exactly at the row's release: that is what makes the change
    vendor-dependent."""
    with PLATFORM.open(newline="") as handle:
        platform = list(csv.DictReader(handle))
    vendor_rows = [row for row in _rows() if row["platform"] == "cpu-vendor"]
    assert vendor_rows
    for row in vendor_rows:
        assert "Intel" in row["what"] and "AMD" in row["what"], row["id"]
        assert row["package"] == "torch", row["id"]
        flips = []
        for entry in platform:
            if not any(fnmatch.fnmatch(entry["scenario"], g) for g in row["scenarios"].split()):
                continue
            state = {cell: kind for kind in ("differ_in", "agree_in")
                     for cell in entry[kind].split()}
            cells = sorted(state, key=lambda c: _version(c.split("-torch")[1].split("-")[0]))
            for a, b in zip(cells, cells[1:]):
                va, vb = (_version(c.split("-torch")[1].split("-")[0]) for c in (a, b))
                if va < _version(row["version"]) <= vb and state[a] != state[b]:
                    flips.append(entry["scenario"])
        assert flips, (row["id"], "no scenario of this row changes vendor dependence here")


def test_user_code_can_be_matched_by_api():
    """Rows that keep the same calls (empty draw columns) reach user code only through what
    it calls: their ``apis`` name a function by its import path (a traced random API such as
    ``torch.randperm``, the op whose arithmetic changed such as ``torch.sum``, or ``hash``),
    not only classes; and a Python or NumPy random function is spelt as rngdrift traces it."""
    traced = _traced_names()
    for row in _rows():
        apis = set(row["apis"].split())
        for api in apis:
            function = api.rpartition(".")[2]
            if api.startswith(("random.", "numpy.random.")) and function[:1].islower() \
                    and api.count(".") == (1 if api.startswith("random.") else 2):
                assert api in traced, (row["id"], api)
        if row["draws_before"] or row["draws_after"] or row["package"] not in ("torch", "python"):
            continue
        assert any(api.startswith(("torch.", "random.", "numpy.")) or api == "hash"
                   for api in apis), row["id"]


# The steps of the committed baseline that issue 22 found unexplained, with the row that
# explains each: (scenario, seeding, before cell, after cell, package, row id). The row must
# cross the step, cover the scenario and agree with the step's traced calls in
# sources.csv, read here without the report's matcher.
BASELINE_STEPS = [
    ("train.mlp", "torch", "py3.8-torch1.13.1-tv0.14.1", "py3.8-torch2.0.1-tv0.15.2",
     "torch", "torch-2.0-bernoulli-mkl-all-cpus"),
    ("streams.dropout", "all", "py3.8-torch1.13.1-tv0.14.1", "py3.8-torch2.0.1-tv0.15.2",
     "torch", "torch-2.0-bernoulli-mkl-all-cpus"),
    ("train.twin_models_own_seed", "full", "py3.8-torch1.13.1-tv0.14.1",
     "py3.8-torch2.0.1-tv0.15.2", "torch", "torch-2.0-bernoulli-mkl-all-cpus"),
    ("distributed.rank_seeding", "all", "py3.8-torch1.13.1-tv0.14.1",
     "py3.8-torch2.0.1-tv0.15.2", "torch", "torch-2.0-bernoulli-mkl-all-cpus"),
    ("streams.multinomial", "torch", "py3.8-torch1.7.1-tv0.8.2", "py3.8-torch1.8.1-tv0.9.1",
     "torch", "torch-1.8-multinomial-exponential"),
    ("augment.pipeline", "torch", "py3.8-torch1.7.1-tv0.8.2", "py3.8-torch1.8.1-tv0.9.1",
     "torchvision", "tv-0.9-colorjitter-factor-order"),
    ("augment.affine", "python", "py3.7-torch1.3.1-tv0.4.2", "py3.8-torch1.5.0-tv0.6.0",
     "torchvision", "tv-0.5-affine-shear-area-preserving"),
    ("python.tuple_seed", "full", "py3.7-torch1.3.1-tv0.4.2", "py3.8-torch1.5.0-tv0.6.0",
     "python", "py-3.8-tuple-hash"),
    ("loader.torch_workers", "torch", "py3.9-torch2.6.0-tv0.21.0", "py3.9-torch2.7.0-tv0.22.0",
     "torch", "torch-2.7-randint-large-range-random64"),
    ("distributed.ddp_train", "torch", "py3.9-torch2.6.0-tv0.21.0", "py3.9-torch2.7.0-tv0.22.0",
     "torch", "torch-2.7-mkl-distributions-off"),
    ("distributed.rank_workers", "all", "py3.8-torch1.8.1-tv0.9.1", "py3.8-torch1.9.0-tv0.10.0",
     "torch", "torch-1.9-worker-numpy-seed"),
    ("train.mlp_val_between_epochs", "torch", "py3.8-torch1.6.0-tv0.7.0",
     "py3.8-torch1.7.1-tv0.8.2", "torch", "torch-1.7-randomsampler-seed-draw"),
    ("train.deepcopy_optimizer", "torch", "py3.8-torch1.6.0-tv0.7.0",
     "py3.8-torch1.7.1-tv0.8.2", "torch", "torch-1.7-cascade-sum"),
    ("inference.eval_determinism", "torch", "py3.8-torch1.13.1-tv0.14.1",
     "py3.8-torch2.0.1-tv0.15.2", "torch", "torch-2.0-mkl-2022-gemm"),
]


def _cell_version(cell: str, package: str) -> tuple[int, ...]:
    python, torch_part, tv = cell.split("-")
    text = {"python": python[2:], "torch": torch_part[5:], "torchvision": tv[2:]}[package]
    return _version(text) + (0,) * (3 - len(_version(text)))


def _calls(scenario: str, seeding: str, cell: str) -> dict[str, int]:
    """{sources.csv metric: calls} in one cell, e.g. 'rng.worker.calls.torch.randint': 32."""
    with (ROOT / "results" / "baseline" / "sources.csv").open(newline="") as handle:
        return {row["metric"]: int(row[cell]) for row in csv.DictReader(handle)
                if row["scenario"] == scenario and row["seeding"] == seeding
                and ".calls." in row["metric"] and row[cell].isdigit()}


def _api(metric: str) -> str:
    return metric.rpartition(".calls.")[2]


@pytest.mark.parametrize("scenario,seeding,before,after,package,cause", BASELINE_STEPS,
                         ids=[f"{s[0]}@{s[5]}" for s in BASELINE_STEPS])
def test_baseline_step_is_explained(scenario, seeding, before, after, package, cause):
    row = next(r for r in _rows() if r["id"] == cause)
    assert row["package"] == package
    assert _cell_version(before, package) < _version(row["version"]) <= \
        _cell_version(after, package)
    assert any(fnmatch.fnmatch(scenario, g) for g in row["scenarios"].split())
    b, a = _calls(scenario, seeding, before), _calls(scenario, seeding, after)
    assert b or a, "no traced calls for this scenario in the baseline"
    fell = {m for m in set(b) | set(a) if a.get(m, 0) < b.get(m, 0)}
    rose = {m for m in set(b) | set(a) if a.get(m, 0) > b.get(m, 0)}
    if row["draws_before"] or row["draws_after"]:
        assert {_api(m) for m in fell} & set(row["draws_before"].split()) or \
            {_api(m) for m in rose} & set(row["draws_after"].split())
    else:
        # same calls on both sides: nothing appears or disappears
        assert not any(b.get(m, 0) == 0 or a.get(m, 0) == 0 for m in fell | rose)

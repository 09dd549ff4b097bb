"""harness.platforms: CPU classes from the platform column, the measured dependence data,
and compare telling a platform difference from a change."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from _rngdrift.harness.results import compare, platforms
from _rngdrift.harness.cell import schema
from _rngdrift.harness.results.frames import Loaded, Tolerance, load
from resultrows import OLD, TV07, everywhere, meta

DATA = Path(__file__).parent / "data" / "platform"
INTEL_OLD = "Linux-6.18.44-fc-v657 x86_64; cpu=Intel(R) Xeon(R) Processor"
AMD_OLD = "Linux-6.18.44-fc-v657 x86_64; cpu=AMD EPYC"
AMD = ("Linux-6.18.44-fc-v657 x86_64; cpu=AMD EPYC; vendor=AuthenticAMD; isa=avx512; "
       "torch-cpu=AVX512; blas=mkl; mkl=2024.2; mkldnn=1")
INTEL_AVX2 = ("Linux-6.8.0 x86_64; cpu=Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz; "
              "vendor=GenuineIntel; isa=avx2; torch-cpu=AVX2; blas=mkl; mkl=2019.0.5; mkldnn=1")


@pytest.mark.parametrize("text, klass", [
    (AMD, "x86_64-amd-avx512"),
    (INTEL_AVX2, "x86_64-intel-avx2"),
    (INTEL_OLD, "x86_64-intel"),           # before vendor and ISA were recorded
    (AMD_OLD, "x86_64-amd"),
    ("Linux-6.1 aarch64; cpu=Neoverse-N1; vendor=?; isa=?", "aarch64"),
    ("linux", "unknown"),                  # an older cell-level error row's platform
    ("Linux test", "test"),
])
def test_platform_class_from_the_platform_column(text, klass):
    assert platforms.platform_class(text) == klass


def test_unknown_parts_match_anything_known_ones_must_be_equal():
    assert platforms.same_class(AMD, AMD_OLD)          # the old text lacks the ISA
    assert not platforms.same_class(AMD, INTEL_OLD)    # the vendor differs
    assert not platforms.same_class(INTEL_AVX2, INTEL_AVX2.replace("isa=avx2", "isa=avx512"))
    assert platforms.same_class("linux", AMD)


def test_this_machine_has_a_class():
    klass = platforms.this_class()
    assert klass.split("-")[0] in ("x86_64", "aarch64", "arm64")


# -- compare across classes, hand-made rows ----------------------------------------------

def _loaded(rows, name):
    return Loaded.of_rows(rows, Path(name))


def _rows(cell, platform, dropout, hflip, run_id):
    rows = everywhere(cell, "streams.dropout", {"values": dropout}, seedings=("torch",),
                      run_id=run_id)
    rows += everywhere(cell, "pairs.hflip", {"pair_consistency": hflip}, seedings=("python",),
                       run_id=run_id)
    base = meta(cell, run_id)._replace(platform=platform)
    return [schema.Row(*(tuple(base) + tuple(r)[len(base):])) for r in rows]


DEPENDENCE = platforms.Dependence(tuple(dict(zip(platforms.DATA_COLUMNS, row)) for row in [
    ("streams.dropout", "values", "x86_64-amd vs x86_64-intel", "torch", OLD, TV07)]))


def _compare(base_rows, cand_rows):
    result = compare.compare(_loaded(base_rows, "b"), _loaded(cand_rows, "c"), Tolerance(),
                             DEPENDENCE)
    return {(r.category, r.cell, r.scenario, r.metric) for r in result.itertuples()}


def test_a_platform_dependent_value_across_classes_is_platform_not_changed():
    base = _rows(OLD, INTEL_OLD, "aaaa", 1.0, "intel")
    cand = _rows(OLD, AMD, "bbbb", 1.0, "amd")
    found = _compare(base, cand)
    assert ("platform", OLD, "streams.dropout", "values") in found
    assert not any(c[0] == "changed" for c in found)
    assert ("env-changed", OLD, "", "platform") in found


def test_a_platform_independent_value_across_classes_still_fails():
    found = _compare(_rows(OLD, INTEL_OLD, "aaaa", 1.0, "intel"),
                     _rows(OLD, AMD, "bbbb", 0.5, "amd"))
    assert ("changed", OLD, "pairs.hflip", "pair_consistency") in found
    assert ("platform", OLD, "streams.dropout", "values") in found


def test_where_the_data_saw_the_classes_agree_a_difference_is_a_change():
    found = _compare(_rows(TV07, INTEL_OLD, "aaaa", 1.0, "intel"),
                     _rows(TV07, AMD, "bbbb", 1.0, "amd"))
    assert ("changed", TV07, "streams.dropout", "values") in found


def test_within_one_class_every_difference_is_a_change():
    found = _compare(_rows(OLD, AMD_OLD, "aaaa", 1.0, "a"), _rows(OLD, AMD, "bbbb", 1.0, "b"))
    assert ("changed", OLD, "streams.dropout", "values") in found


def test_a_cell_with_no_data_counts_as_dependent_for_a_dependent_metric():
    cell = "py3.11-torch2.15.0-tv0.29.2"
    found = _compare(_rows(cell, INTEL_OLD, "aaaa", 1.0, "i"), _rows(cell, AMD, "bbbb", 1.0, "a"))
    assert ("platform", cell, "streams.dropout", "values") in found


# -- the real data: Intel baseline against the AMD run of the same pins -----------------

def _real(name):
    return load(DATA / name)


def test_the_committed_data_lets_a_real_amd_run_pass_against_the_intel_baseline():
    """Rows of results/baseline (Intel Xeon) and an AMD EPYC run of the same pins, for
    torch 1.5 (dropout differs) and 2.2.2 (dropout agrees, exponential differs)."""
    result = compare.compare(_real("intel"), _real("amd"), Tolerance())
    categories = set(result["category"])
    assert "changed" not in categories and "platform" in categories
    platform = {(r.cell.split("-tv")[0], r.scenario, r.metric)
                for r in result[result["category"] == "platform"].itertuples()}
    assert ("py3.8-torch1.5.0", "streams.dropout", "values") in platform
    assert ("py3.8-torch2.2.2", "streams.exponential", "values") in platform
    assert ("py3.8-torch2.2.2", "streams.dropout", "values") not in platform  # they agree


@pytest.mark.parametrize("scenario, metric, cell", [
    ("pairs.hflip", "pair_consistency", "py3.8-torch1.5.0-tv0.6.0"),  # never platform
    ("streams.dropout", "values", "py3.8-torch2.2.2-tv0.17.2"),      # the classes agree there
])
def test_a_real_change_on_the_amd_side_still_fails(scenario, metric, cell):
    amd = _real("amd")
    frame = amd.frame.copy()
    hit = (frame["cell"] == cell) & (frame["scenario"] == scenario) & (frame["metric"] == metric)
    assert hit.any()
    frame.loc[hit, "value"] = "0.25" if metric == "pair_consistency" else "0123456789abcdef"
    result = compare.compare(_real("intel"), Loaded.of_frame(frame, amd.source), Tolerance())
    changed = result[result["category"] == "changed"]
    assert set(zip(changed["cell"], changed["scenario"], changed["metric"])) == {
        (cell, scenario, metric)}


def test_learning_from_the_real_rows_gives_the_committed_data():
    learnt = platforms.learn(_real("intel"), _real("amd"), Tolerance())
    committed = platforms.Dependence.load()
    cells = {"py3.8-torch1.5.0-tv0.6.0", "py3.8-torch2.2.2-tv0.17.2"}
    for row in learnt:
        saved = committed.lookup(row["scenario"], row["metric"])
        assert set(row["differ_in"].split()) == set(saved["differ_in"].split()) & cells
        assert set(row["agree_in"].split()) == set(saved["agree_in"].split()) & cells
    assert "pairs.hflip" not in {r["scenario"] for r in learnt}
    assert {("streams.dropout", "values"), ("train.mlp", "weights")} <= {
        (r["scenario"], r["metric"]) for r in learnt}


def test_merge_unites_cells_and_a_cell_seen_to_differ_does_not_agree():
    old = [dict(zip(platforms.DATA_COLUMNS, ("s", "m", "a vs b", "torch", "c1", "c2")))]
    new = [dict(zip(platforms.DATA_COLUMNS, ("s", "m", "a vs c", "all", "c2", "c3")))]
    (merged,) = platforms.merge(old, new)
    assert merged["classes"] == "a vs b; a vs c"
    assert merged["seedings"] == "torch all"
    assert set(merged["differ_in"].split()) == {"c1", "c2"}
    assert merged["agree_in"] == "c3"


def test_describe_names_the_classes_and_what_depends_on_them():
    amd = _real("amd")
    lines = platforms.describe(amd)
    # one class: one short line before the verdict, the metrics only counted
    assert len(lines) == 1 and lines[0].startswith("CPU classes: `x86_64-amd` (2 cells); ")
    assert "known to differ on other CPU classes" in lines[0]
    mixed = Loaded.of_rows(amd.rows + [r._replace(cell=r.cell + "x") for r in _real("intel").rows])
    warning = platforms.describe(mixed)[1]
    assert "mixes classes" in warning
    assert "`streams.dropout values`" in warning and "pairs.hflip" not in warning
    table = platforms.dependence_in(amd)
    assert {r["scenario"] for r in table} <= {"streams.dropout", "streams.exponential", "train.mlp"}

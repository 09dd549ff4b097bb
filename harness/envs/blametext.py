"""What ``rngdrift check --blame`` says and writes: the "Which bump did it" section of
check.md, and blame.csv / blame.json beside the run (one row per changed row, and the
groups, environments and cost as data)."""
from __future__ import annotations

import csv
import io
import json

from ..text import code
from . import blame
from .blame import BLAMED, NOT_TRIED, SEVERAL, TOGETHER, UNDETERMINED, Result
from .blamerun import Cost, row_text

BLAME_CSV, BLAME_JSON = "blame.csv", "blame.json"
COLUMNS = ("scenario", "seeding", "metric", "kind", "before", "after", "verdict", "blamed_on",
           "package", "from", "to", "first_at", "last_unchanged", "exact", "alone_gives_new",
           "detail")


def _runs(rows) -> str:
    """'`pairs.hflip` under `python` (4 rows), ...': rows by scenario run."""
    runs: dict = {}
    for row in rows:
        runs.setdefault(row.key[:2], []).append(row)
    said = [f"{code(s)} under {code(m)} ({len(r)} row{'s' * (len(r) != 1)})"
            for (s, m), r in runs.items()]
    return ", ".join(said[:6]) + (f" and {len(said) - 6} more scenario runs" if len(said) > 6 else "")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def section(result: Result, cost: Cost, old_cell: str, noise: int) -> list[str]:
    """check.md's "Which bump did it" lines."""
    lines = ["## Which bump did it", "",
             f"Each package (torch with torchvision) moved alone from {code(old_cell)}, the "
             "other pins kept, resolved with uv; only the changed scenarios re-run"
             + (f" ({noise} rows that draw from a generator their mode leaves unseeded on "
                "both sides left out: chance, not a bump)" if noise else "") + ".", ""]
    if not result.rows:
        lines += ["Nothing changed between the two sides, so there is nothing to blame.", ""]
    elif not result.groups:
        lines += ["No package either side declares moved"
                  + (f" (only {', '.join(result.followers)}, which uv chose)"
                     if result.followers else "")
                  + ": there is no bump to blame these rows on.", ""]
    quiet = []
    for found in result.groups:
        group = found.group
        mine = [r for r in result.rows if r.verdict == BLAMED and r.groups == (group,)]
        if found.refused:
            lines.append(f"- {group.label}: not installable alone with the old side's other "
                         f"pins: {found.refused}")
            continue
        if not found.tried:
            lines.append(f"- {group.label}: not tried (the budget ran out)")
            continue
        if not mine and not any(group in r.groups for r in result.rows):
            quiet.append(group.label)
            continue
        by_first: dict = {}
        for row in mine:
            by_first.setdefault((row.first, row.last_same, row.exact), []).append(row)
        for (first, last_same, exact), rows in by_first.items():
            if exact:
                where = f"first at {first}" + (f"; {last_same} does not change it"
                                               if found.releases else "")
            else:
                where = f"somewhere after {last_same}, by {first} (not narrowed further)"
            lines.append(f"- **{group.label}: {where}**: {_runs(rows)}")
            partial = [r for r in rows if not r.matches_new]
            if partial:
                lines.append(f"  - of these, {len(partial)} rows take yet another value when "
                             "everything moves: the other moves change them further")
            notes = sorted({r.detail for r in rows if r.detail})
            lines += [f"  - {n}" for n in notes]
        for version, reason in found.skipped:
            lines.append(f"  - {blame.display(group.lead)} {version} with the other pins: not "
                         f"installable ({reason}); its neighbours were tried instead")
    if quiet:
        lines.append(f"- {_and(quiet)} change{'s' * (len(quiet) == 1)} nothing here")
    several = [r for r in result.rows if r.verdict == SEVERAL]
    if several:
        names = _and(sorted({g.label for r in several for g in r.groups}))
        lines.append(f"- Moved by each of {names} alone: {_runs(several)}")
    for verdict, words in ((TOGETHER, "No single package moves these; only the bump as a whole "
                                      "does"),
                           (UNDETERMINED, "Not attributed (a package that could not move alone "
                                          "may be the cause)"),
                           (NOT_TRIED, "Not attributed: the budget ran out before every "
                                       "package was tried")):
        rows = [r for r in result.rows if r.verdict == verdict]
        if rows and result.groups:
            lines.append(f"- {words}: {_runs(rows)}")
    if result.followers:
        lines.append(f"- Not declared by either side, left to uv in each environment: "
                     f"{', '.join(result.followers)}")
    lines += ["", f"Cost: {cost.built} environment{'s' * (cost.built != 1)} built (of a budget "
              f"of {result.budget}), {cost.runs} scenario runs, {cost.refused} "
              f"environment{'s' * (cost.refused != 1)} uv could not install, "
              f"{cost.wall_s:.0f} s." + (" The budget ran out: what is said above as not "
                                         "narrowed or not tried is left; raise "
                                         "--blame-budget." if result.spent else ""), ""]
    return lines


def _row(row) -> dict:
    group = row.groups[0] if len(row.groups) == 1 else None
    old, new = group.ends() if group else ({}, {})
    return {"scenario": row.key[0], "seeding": row.key[1], "metric": row.key[2],
            "kind": row.kind, "before": row_text(row.kind, row.before),
            "after": row_text(row.kind, row.after), "verdict": row.verdict,
            "blamed_on": "; ".join(g.label for g in row.groups),
            "package": group.lead if group else "", "from": old.get(group.lead, "") or ""
            if group else "", "to": new.get(group.lead, "") or "" if group else "",
            "first_at": row.first if row.verdict == BLAMED else "",
            "last_unchanged": row.last_same if row.verdict == BLAMED else "",
            "exact": row.exact if row.verdict == BLAMED else "",
            "alone_gives_new": row.matches_new if row.verdict == BLAMED else "",
            "detail": row.detail}


def files(result: Result, cost: Cost, log: list[dict], ids: list[str],
          noise: int) -> dict[str, str]:
    """{blame.csv: ..., blame.json: ...}."""
    rows = [_row(r) for r in result.rows]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = {"from_cell": ids[0], "to_cell": ids[1], "rows": rows, "noise_rows": noise,
            "groups": [{"group": g.group.label, "packages": list(g.group.names),
                        "from": dict(zip(g.group.names, g.group.old)),
                        "to": dict(zip(g.group.names, g.group.new)),
                        "tried": g.tried, "installable_alone": g.tried and not g.refused,
                        "reason": g.refused, "moves_rows": len(g.moved),
                        "releases_between": g.releases,
                        "not_installable": [{"version": v, "reason": why}
                                            for v, why in g.skipped]}
                       for g in result.groups],
            "followers": result.followers, "environments": log,
            "cost": {"environments_built": cost.built, "not_installable": cost.refused,
                     "scenario_runs": cost.runs, "wall_s": round(cost.wall_s, 1),
                     "budget": result.budget, "budget_spent": result.spent}}
    return {BLAME_CSV: out.getvalue(), BLAME_JSON: json.dumps(data, indent=1, default=str) + "\n"}

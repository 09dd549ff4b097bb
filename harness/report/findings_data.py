"""findings.csv and findings.json: the findings as data, from what each finding says of
itself (``Finding.to_dict``).

findings.json is versioned (``SCHEMA_VERSION``) and described by a JSON Schema shipped
next to this module (``findings.schema.json``; the tests validate every report's file
against it). findings.csv has one row per changed row, each with its own why, its own
fix (as code where rngdrift verified it) and that verification.
"""
from __future__ import annotations

import json
from pathlib import Path

from .model import Table
from .words import verdict

SCHEMA = Path(__file__).with_name("findings.schema.json")
SCHEMA_ID = "urn:rngdrift:findings:1"
SCHEMA_VERSION = 1
CSV_COLUMNS = ["finding", "severity", "first_cell", "before_cell", "after_cell", "scenario",
               "seeding", "metric", "before", "after", "cause", "cause_link", "why", "fix",
               "fix_code", "verified"]


def as_data(report) -> dict:
    """findings.json's content."""
    findings = [f.to_dict(report.evidence, n) for n, f in enumerate(report.findings, 1)]
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "run": {"id": report.run_id, "cells": report.cells, "modes": report.modes,
                "repeats": report.repeats, "scenarios": len(report.scenarios),
                "tolerance": {"atol": report.tol.atol, "rtol": report.tol.rtol}},
        "verdict": verdict(report.findings, max(len(report.cells) - 1, 0),
                           [s for s, _ in report.failing_everywhere]),
        "failing_everywhere": [{"scenario": s, "detail": d} for s, d in report.failing_everywhere],
        "findings": findings,
    }


def json_text(report, notes=()) -> str:
    """The data as JSON, one finding to a line (a diff of two runs' files reads finding
    by finding; json's C encoder writes each)."""
    data = as_data(report)
    findings = data.pop("findings")
    head = json.dumps(data, ensure_ascii=False)
    body = ",\n".join(json.dumps(f, ensure_ascii=False) for f in findings)
    return f'{head[:-1]}, "findings": [\n{body}\n]}}\n' if findings else \
        f'{head[:-1]}, "findings": []}}\n'



def _values(side: dict) -> str:
    if side["state"] != "ok":
        return side["state"] + (f" ({side['detail']})" if side.get("detail") else "")
    shown = " | ".join(v if v is not None else "missing" for v in side["values"])
    return shown if side["agreed"] else f"{shown} (repeats disagree)"


def table(report) -> Table:
    """findings.csv: one row per changed row, with its own why, fix and verification."""
    rows = []
    for number, finding in enumerate(report.findings, 1):
        data = finding.to_dict(report.evidence, number)
        for row in data["rows"]:
            cause, fix = row["cause"], row["fix"] or {}
            why = [f"candidates: {', '.join(row['candidates'])}"] if row["candidates"] else []
            why += [row["mechanism"]] if row["mechanism"] else []
            rows.append([number, row["severity"], row["step"][1], row["before_cell"],
                         row["after_cell"], row["scenario"], row["seeding"], row["metric"],
                         _values(row["before"]), _values(row["after"]),
                         cause["id"] if cause else cause_id_of(row),
                         cause["link"] if cause else "", "; ".join(why), fix.get("text", ""),
                         "\n".join(fix.get("code", ())),
                         (fix.get("verified") or {}).get("text", "")])
    return Table(CSV_COLUMNS, rows)


def cause_id_of(row: dict) -> str:
    return "candidates" if row["candidates"] else "unexplained"


def csv_text(report, notes=()) -> str:
    return table(report).to_csv()


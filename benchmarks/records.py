"""Measurement records: one JSON line per measurement in <out>/measurements.jsonl.

A record is appended the moment its measurement is taken, so an interrupted run keeps
what it measured. Reading several runs' files in order, the latest record of each
(cell, metric) wins; every table is built from records alone.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

FILENAME = "measurements.jsonl"
MATRIX = "matrix"  # the ``cell`` of records about the whole matrix or the machine


def record(out: Path, cell: str, metric: str, value, note: str = "", quiet=False) -> dict:
    """Append one record to ``out``'s measurements and (unless ``quiet``) print it."""
    rec = {"cell": cell, "metric": metric, "value": value, "note": note,
           "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with open(Path(out) / FILENAME, "a") as handle:
        handle.write(json.dumps(rec) + "\n")
    if quiet:
        return rec
    shown = f"{value:.3f}" if isinstance(value, float) else value
    print(f"bench: {cell} {metric} = {shown}" + (f"  ({note})" if note else ""), flush=True)
    return rec


def load_records(dirs: list[Path]) -> dict[tuple[str, str], dict]:
    """(cell, metric) -> the latest record over the runs' measurements.jsonl, in order."""
    latest: dict[tuple[str, str], dict] = {}
    for directory in dirs:
        path = Path(directory) / FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no measurements here (not a bench output folder)")
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                latest[(rec["cell"], rec["metric"])] = rec
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{path}:{number}: not a measurement record") from None
    return latest


def measured(out: Path) -> set[tuple[str, str]]:
    """The (cell, metric) pairs ``out`` holds a record of so far (none yet: empty)."""
    return set(load_records([out])) if (Path(out) / FILENAME).is_file() else set()


def latest(records, cell: str, metric: str):
    """The latest value of (cell, metric), or None where it was never measured."""
    rec = records.get((cell, metric))
    return None if rec is None else rec["value"]

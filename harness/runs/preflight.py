"""The values of --call, --script, --metric, --pytest, --dataset and --pairs, checked with
the cell's own interpreter before anything is installed (``harness.cell.userargs``):

    problem = preflight.user_values_problem(args, python, import_root)

A FUNCTION the file does not define, a command line that does not parse, a pattern
the cell's Python cannot compile, ``--metric`` without ``--script``, a path that is
not there: one line, and the session stops the run with exit 2, as a bad option
does (before, the cell found them after the whole install, and nox exited 1 with a
second line, "no cell CSVs").
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

MODULE = "_rngdrift.harness.cell.userargs"
KEYS = ("call", "dataset", "pairs", "script", "metric", "pytest")


def user_values(args: argparse.Namespace) -> dict:
    """The user-code values of ``args`` as the cell reads them (``usercode.from_args``)."""
    spec = {key: list(getattr(args, key, None) or []) for key in KEYS}
    spec["workdir"] = str(getattr(args, "workdir", None) or os.getcwd())
    return spec


def user_values_problem(args: argparse.Namespace, python: str | Path | None,
                        import_root: Path) -> str | None:
    """The first problem with the user-code values (one line, ' (and N more)'), or None."""
    spec = user_values(args)
    if python is None or not any(spec[key] for key in KEYS):
        return None
    return cell_check(python, [MODULE, json.dumps(spec)], import_root, "user code check")


def cell_check(python: str | Path, module_args: list[str], import_root: Path,
               what: str) -> str | None:
    """Run ``python -m MODULE ARGS`` the way a cell imports rngdrift (from ``import_root``,
    nothing installed): None when it exits 0, else its first line on stderr, with
    ' (and N more)'; ``what`` names the check when it printed nothing."""
    proc = subprocess.run([str(python), "-m", *module_args], capture_output=True, text=True,
                          cwd=import_root, env=dict(os.environ, PYTHONPATH=str(import_root)))
    if proc.returncode == 0:
        return None
    lines = [line.removeprefix("rngdrift: ") for line in proc.stderr.splitlines() if line.strip()]
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return (lines[0] if lines else f"{what} failed with code {proc.returncode}") + more

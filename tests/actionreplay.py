"""Replay action.yml's steps as a runner would: each `run:` step in bash with its `env:`
(``${{ inputs.* }}`` and ``${{ steps.*.outputs.* }}`` filled in), its `if:` evaluated,
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY as files; `uses:` steps (setup-python,
upload-artifact) are the runner's business and skipped, and so is "Install rngdrift"
(the caller puts an installed rngdrift first on PATH).
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load() -> dict:
    from ruamel.yaml import YAML
    return YAML(typ="safe").load(ACTION.read_text())


def _value(expr: str, inputs: dict, outputs: dict) -> str:
    """One expression of the forms action.yml uses: inputs.x, steps.x.outputs.y, 'text',
    a == b, a != b, a && b, a || b (GitHub's truthiness: '' is false)."""
    expr = expr.strip()
    for op in ("||", "&&"):
        if op in expr:
            left, right = expr.split(op, 1)
            a = _value(left, inputs, outputs)
            if op == "||":
                return a if a not in ("", "false") else _value(right, inputs, outputs)
            return _value(right, inputs, outputs) if a not in ("", "false") else a
    for op in ("==", "!="):
        if op in expr:
            left, right = (_value(side, inputs, outputs) for side in expr.split(op, 1))
            return "true" if (left == right) == (op == "==") else "false"
    if expr.startswith("'") and expr.endswith("'"):
        return expr[1:-1]
    match = re.fullmatch(r"inputs\.([\w-]+)", expr)
    if match:
        return inputs.get(match[1], "")
    match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
    if match:
        return outputs.get(match[1], {}).get(match[2], "")
    raise ValueError(f"the replay cannot evaluate {expr!r}")


def substitute(text: str, inputs: dict, outputs: dict) -> str:
    return EXPRESSION.sub(lambda m: _value(m[1], inputs, outputs), str(text))


def replay(workdir: Path, given: dict, env: dict, temp: Path) -> dict:
    """Run the action in ``workdir`` with the inputs ``given`` (the rest at their
    defaults, which name the event: give base, head and pull-request). Returns
    {"ran": [step names], "codes": {name: exit code}, "outputs": {id: {...}},
    "summary": text, "logs": {name: output}}."""
    action = load()
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs = {k: ("" if "${{" in v else v) for k, v in inputs.items()}
    inputs.update(given)
    outputs: dict[str, dict] = {}
    summary = temp / "summary.md"
    summary.write_text("")
    ran, codes, logs = [], {}, {}
    failed = False
    for step in action["runs"]["steps"]:
        name = step.get("name", step.get("uses", ""))
        if "uses" in step or name == "Install rngdrift":
            continue
        condition = step.get("if")
        if failed:
            continue  # success() is part of every condition action.yml writes
        if condition is not None and _value(condition, inputs, outputs) in ("", "false"):
            continue
        assert "${{" not in step["run"], f"{name}: an expression inside the script"
        out = temp / f"output-{len(ran)}"
        out.write_text("")
        step_env = {k: substitute(v, inputs, outputs) for k, v in step.get("env", {}).items()}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                               step["run"]], cwd=workdir, capture_output=True, text=True,
                              timeout=3600, env={**os.environ, **env, **step_env,
                                                 "GITHUB_OUTPUT": str(out),
                                                 "GITHUB_STEP_SUMMARY": str(summary),
                                                 "RUNNER_TEMP": str(temp)})
        ran.append(name)
        codes[name] = proc.returncode
        logs[name] = proc.stdout + proc.stderr
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1) for line in out.read_text().splitlines()
                                       if "=" in line)
        if proc.returncode != 0 and not step.get("continue-on-error"):
            failed = True
    return {"ran": ran, "codes": codes, "outputs": outputs, "summary": summary.read_text(),
            "logs": logs, "failed": failed}

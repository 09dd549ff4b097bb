"""Answers from the atlas data shipped with rngdrift (``explain.json.gz``, made by
``rngdrift atlas RUN --ship``): standard library only, so ``rngdrift explain`` needs no
pandas, no network and no cell, and answers in a blink.

    load(path)                     the data (UserError when missing or of another format)
    resolve(data, spec, option)    a cell from '2.3.1', 'torch2.3', 'tv0.18', a cell id
    answer(data, old, new, api)    the text: the report's findings of that upgrade, the
                                   folded count, where it was measured, how to check yours
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from ..errors import UserError

FORMAT = 1
DATA = Path(__file__).with_name("explain.json.gz")


def load(path: Path = DATA) -> dict:
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise UserError(f"{path}: no atlas data (make it with `rngdrift atlas RUN --ship`)") \
            from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not atlas data ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{path}: atlas data of another format (this rngdrift reads "
                        f"format {FORMAT}); remake it with `rngdrift atlas RUN --ship`")
    return data


def _versions(data: dict) -> list[dict]:
    return [dict(zip(("cell", "torch", "torchvision", "python"), row)) for row in data["cells"]]


def known(data: dict) -> str:
    cells = _versions(data)
    return ", ".join(c["torch"] for c in cells)


def resolve(data: dict, spec: str, option: str) -> int:
    """The index of the cell ``spec`` names: a cell id, a torch version ('1.10', '2.3.1',
    'torch2.3') or a torchvision one ('tv0.11', 'torchvision0.11', or a bare '0.11');
    of several, the newest. The same rules as ``rngdrift report --from``."""
    cells = _versions(data)
    for i, c in enumerate(cells):
        if spec == c["cell"]:
            return i
    text = spec.strip().lower()
    fields = ("torch", "torchvision")
    for prefix, field in (("torchvision", "torchvision"), ("tv", "torchvision"),
                          ("torch", "torch")):
        if text.startswith(prefix):
            text, fields = text[len(prefix):].lstrip("=-"), (field,)
            break
    for field in fields:
        hits = [i for i, c in enumerate(cells)
                if c[field] == text or c[field].startswith(text + ".")]
        if hits:
            return hits[-1]
    raise UserError(f"{option} {spec}: not in the atlas data (made from run {data['run']} on "
                    f"{data['platform']}; it has torch {known(data)}). To measure it: "
                    "rngdrift check --from ... --to ..., or run the matrix with that pair")


def api_names(data: dict, name: str) -> set[str]:
    """The API pages ``name`` stands for: a page name or one of its aliases, any case;
    else every page whose name contains it."""
    wanted = name.strip().lower()
    exact = {page for page, aliases in data["apis"].items()
             if wanted in (a.lower() for a in (page, *aliases))}
    if exact:
        return exact
    found = {page for page in data["apis"] if wanted in page.lower()}
    if not found:
        raise UserError(f"--api {name}: no such API in the atlas data (it knows "
                        f"{', '.join(sorted(data['apis']))})")
    return found


def pins(cell: dict) -> str:
    return f"torch=={cell['torch']} torchvision=={cell['torchvision']}"


def answer(data: dict, old: int, new: int, api: str | None = None) -> str:
    if old >= new:
        cells = _versions(data)
        raise UserError(f"--from {cells[old]['cell']} is not older than --to {cells[new]['cell']}")
    strings, records = data["strings"], data["findings"]
    head, found, folded = data["pairs"][f"{old}-{new}"]
    shown = [records[i] for i in found]
    lines = [strings[head].rstrip("\n"), ""]
    if api is not None:
        pages = api_names(data, api)
        shown = [r for r in shown if pages & {strings[n] for n in r[2]}]
        lines += [f"Only the findings touching {', '.join(f'`{p}`' for p in sorted(pages))}: "
                  f"{len(shown)} of {len(found)}.", ""]
    for record in shown:
        lines.append(strings[record[1]].rstrip("\n"))
        lines.append("")
    if not found:
        lines += ["Nothing changes between these two cells.", ""]
    cells = _versions(data)
    if folded:
        lines += [f"Also changed: {folded} rows of unseeded noise, availability or harness "
                  f"recipe changes (`rngdrift report RUN --from {cells[old]['torch']} --to "
                  f"{cells[new]['torch']}` on rngdrift's run `{data['run']}` lists them).", ""]
    platform_rows = sum(r[4] for r in shown)
    measured = f"Measured on {data['platform']} (run `{data['run']}`, {data['made']})"
    if platform_rows:
        measured += (f"; {platform_rows} of these rows are known to differ on other CPU "
                     "classes at the same pins (platform_dependence.csv)")
    lines += [measured + ".", "",
              "Check your own code across this upgrade:", "",
              f'    rngdrift check --from "{pins(cells[old])}" --to "{pins(cells[new])}"', ""]
    return "\n".join(lines)

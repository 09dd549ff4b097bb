"""Re-record the trimmed index responses tests/test_lock.py builds a lock from.

    python tests/data/pypi/record.py        (needs the network; rewrites this folder)

Keeps, from the live PEP 691 pages, only the releases below and of those only the
Linux x86_64 wheels plus one other file (so filtering is exercised); and stores the
METADATA of the torchvision wheel the lock reads, so the tests can serve it from a
wheel they build. Yanked releases stay in (the lock must skip them).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from _rngdrift.harness.matrix import lock  # noqa: E402

KEEP = {
    "torch": ["1.0.0", "1.1.0", "1.2.0", "1.3.1", "1.5.0", "1.10.0", "2.0.0", "2.0.1",
              "2.14.0", "2.14.1", "2.15.0"],
    "torchvision": ["0.2.2.post3", "0.3.0", "0.4.0", "0.4.2", "0.6.0", "0.11.0", "0.11.1",
                    "0.15.0", "0.15.1", "0.15.2", "0.29.0", "0.29.1", "0.29.2"],
    "numpy": ["1.21.6", "1.24.4", "1.26.4"],
    "pillow": ["7.0.0", "8.4.0", "9.5.0", "10.4.0"],
}


def trimmed(name: str) -> dict:
    url = f"{lock.DEFAULT_INDEX}{name}/"
    body, _ = lock.http_fetch(url, {"Accept": lock.SIMPLE_JSON})
    page = json.loads(body)
    files = []
    for version in KEEP[name]:
        mine = [f for f in page["files"] if (lock.parse_wheel(f["filename"]) or
                                             lock.Wheel("", "", (), (), ())).version == version]
        linux = [f for f in mine if lock.linux_x86_64(lock.parse_wheel(f["filename"]))]
        other = [f for f in mine if f not in linux][:1]
        files += sorted(linux + other, key=lambda f: f["filename"])
    return {"meta": page["meta"], "name": page["name"], "versions": KEEP[name], "files": files}


def main() -> None:
    (HERE / "metadata").mkdir(exist_ok=True)
    for name in KEEP:
        page = trimmed(name)
        (HERE / f"{name}.json").write_text(json.dumps(page, indent=1, sort_keys=True) + "\n")
        if name != "torchvision":
            continue
        project = lock.read_project(lock.DEFAULT_INDEX, name, lock.http_fetch)
        for version in KEEP[name]:
            files = sorted((f for f in project.get(version, []) if lock.linux_x86_64(f.wheel)),
                           key=lambda f: f.wheel.filename)
            if files:
                text = lock.read_metadata(files[0], lock.http_fetch)
                # only the headers the lock reads: the description is long
                head = "\n".join(line for line in text.split("\n\n")[0].splitlines()
                                 if line.split(":")[0] in ("Metadata-Version", "Name", "Version",
                                                           "Requires-Dist", "Requires-Python"))
                (HERE / "metadata" / f"{files[0].wheel.filename}.METADATA").write_text(head + "\n")


if __name__ == "__main__":
    main()

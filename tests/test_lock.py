"""harness.lock: the lock made from recorded index responses (tests/data/pypi/), offline.

The recorded pages are real PEP 691 responses trimmed to a few releases
(tests/data/pypi/record.py re-records them); wheels are served as zips built here
around each release's recorded METADATA, through HTTP-style range requests.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from _rngdrift.harness.matrix import compat, index, lock

DATA = Path(__file__).resolve().parent / "data" / "pypi"
INDEX = "https://pypi.org/simple/"


class RecordedIndex:
    """A fetch function over tests/data/pypi that logs every request it answers."""

    def __init__(self, drop_versions=(), core_metadata=False, break_url=None, html=False,
                 metadata_first=False, corrupt=None):
        self.drop = set(drop_versions)
        self.corrupt = corrupt
        self.metadata_first = metadata_first
        self.core_metadata = core_metadata
        self.break_url = break_url
        self.html = html
        self.requests: list[tuple[str, str | None]] = []

    def page(self, name: str) -> dict:
        page = json.loads((DATA / f"{name}.json").read_text())
        page["files"] = [f for f in page["files"]
                         if (index.parse_wheel(f["filename"]) or index.Wheel("", "", (), (), ()))
                         .version not in self.drop or not name.startswith("torch")]
        for entry in page["files"]:
            entry["core-metadata"] = self.core_metadata
        return page

    @staticmethod
    def wheel(filename: str, metadata_first: bool = False) -> bytes:
        metadata = (DATA / "metadata" / f"{filename}.METADATA").read_text()
        version = filename.split("-")[1]
        members = [("torchvision/_C.so", bytes(range(256)) * 4096),  # bigger than the tail
                   (f"torchvision-{version}.dist-info/METADATA", metadata.encode()),
                   (f"torchvision-{version}.dist-info/RECORD", b"")]
        if metadata_first:  # METADATA outside the tail the first request reads
            members.insert(0, members.pop(1))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
            for name, data in members:
                wheel.writestr(name, data, zipfile.ZIP_STORED if name.endswith(".so") else None)
        return buffer.getvalue()

    def __call__(self, url: str, headers: dict) -> tuple[bytes, dict]:
        self.requests.append((url, headers.get("Range")))
        if self.break_url and self.break_url in url:
            raise lock.LockError(f"{url}: HTTP 503 Service Unavailable")
        if url.startswith(INDEX):
            name = url[len(INDEX):].strip("/")
            if self.html:
                return b"<html></html>", {"content-type": "text/html"}
            return json.dumps(self.page(name)).encode(), {"content-type": index.SIMPLE_JSON}
        filename = url.rsplit("/", 1)[1]
        if filename.endswith(".metadata"):
            return (DATA / "metadata" / f"{filename[:-9]}.METADATA").read_bytes(), {}
        body = self.wheel(filename, self.metadata_first)
        if self.corrupt and self.corrupt in filename:
            body = b"PK" + bytes(len(body) - 2)  # a truncated download: no central directory
        spec = headers.get("Range", "")
        if not spec:
            return body, {}
        start, _, stop = spec[len("bytes="):].partition("-")
        first = len(body) - int(stop) if not start else int(start)
        last = len(body) - 1 if not start else min(int(stop), len(body) - 1)
        first = max(first, 0)
        return body[first:last + 1], {"content-range": f"bytes {first}-{last}/{len(body)}"}


@pytest.fixture(scope="module")
def built():
    return lock.build(INDEX, RecordedIndex(), made="2026-01-01T00:00:00Z")


def cell_ids(data):
    return [f"py{c['python']}-torch{c['torch']}-tv{c['torchvision']}" for c in data["cells"]]


def test_the_recorded_index_gives_every_pair_with_its_python_and_pins(built):
    assert built["index"] == INDEX and built["made"] == "2026-01-01T00:00:00Z"
    assert cell_ids(built) == [
        "py3.7-torch1.1.0-tv0.3.0", "py3.7-torch1.2.0-tv0.4.0", "py3.7-torch1.3.1-tv0.4.2",
        "py3.8-torch1.5.0-tv0.6.0", "py3.8-torch1.10.0-tv0.11.1", "py3.8-torch2.0.0-tv0.15.1",
        "py3.8-torch2.0.1-tv0.15.2", "py3.10-torch2.14.0-tv0.29.0",
        "py3.10-torch2.14.1-tv0.29.1", "py3.11-torch2.15.0-tv0.29.2"]
    old = built["cells"][1]
    assert old["requirements"] == ["torch==1.2.0", "torchvision==0.4.0", "numpy==1.21.6",
                                   "pillow==8.4.0", "setuptools<70"]
    assert "PILLOW_VERSION" in old["pins_limited"][0]
    newest = built["cells"][-1]
    assert newest["requirements"] == ["torch==2.15.0", "torchvision==0.29.2", "numpy==1.24.4",
                                      "pillow==10.4.0"]
    assert "pins_limited" not in newest


def test_torchvision_pairs_by_its_own_requirement_on_torch(built):
    tv = {t["version"]: t for t in built["torchvision"]}
    assert (tv["0.4.0"]["requires_torch"], tv["0.4.0"]["torch"], tv["0.4.0"]["paired_by"]) == \
        ("==1.2.0", "1.2.0", "exact")
    # loose requirements are recorded as they are and pair with the torch published
    # just before (torchvision 0.3.0 went out three weeks after torch 1.1.0)
    assert (tv["0.3.0"]["requires_torch"], tv["0.3.0"]["torch"], tv["0.3.0"]["paired_by"]) == \
        (">=1.1.0", "1.1.0", "published-with")
    assert [(tv[v]["requires_torch"], tv[v]["torch"]) for v in ("0.29.0", "0.29.1", "0.29.2")] \
        == [("==2.14.0", "2.14.0"), (">=2.14.0", "2.14.1"), (">=2.14.0", "2.15.0")]
    # yanked releases (0.11.0 pins torch==1.10.0+cu102, which PyPI never had) are not there
    assert not {"0.2.2.post3", "0.11.0", "0.15.0"} & set(tv)
    torch = {t["version"]: t for t in built["torch"]}
    assert torch["1.0.0"]["torchvision"] == [] and torch["1.2.0"]["torchvision"] == ["0.4.0"]


def test_pythons_come_from_the_wheel_tags(built):
    torch = {t["version"]: t["pythons"] for t in built["torch"]}
    tv = {t["version"]: t["pythons"] for t in built["torchvision"]}
    assert torch["1.2.0"] == ["2.7", "3.5", "3.6", "3.7"]
    assert torch["2.15.0"] == ["3.11", "3.12", "3.13", "3.14", "3.15"]  # not cp314t
    # a py3-none wheel: every CPython 3 the index knows that Requires-Python allows
    assert tv["0.29.2"] == ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
    assert built["pins"] == [
        {"python": "3.7", "numpy": "1.21.6", "pillow": "9.5.0"},
        {"python": "3.8", "numpy": "1.24.4", "pillow": "10.4.0"},
        {"python": "3.10", "numpy": "1.24.4", "pillow": "10.4.0"},
        {"python": "3.11", "numpy": "1.24.4", "pillow": "10.4.0"}]


@pytest.mark.parametrize("filename,requires,pythons", [
    ("torch-1.2.0-cp37-cp37m-manylinux1_x86_64.whl", None, {"3.7"}),
    ("torch-2.15.0-cp314-cp314t-manylinux_2_28_x86_64.whl", None, set()),
    ("x-1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", None,
     {"3.9", "3.10", "3.11"}),
    ("x-1.0-py3-none-any.whl", ">=3.10,!=3.14.1", {"3.10", "3.11"}),
    ("x-1.0-py2.py3-none-any.whl", "<3.8", {"2.7", "3.7"}),
])
def test_wheel_tags_name_the_pythons(filename, requires, pythons):
    known = ["2.7", "3.7", "3.8", "3.9", "3.10", "3.11"]
    assert index.wheel_pythons(index.parse_wheel(filename), requires, known) == pythons


def test_only_linux_x86_64_wheels_count():
    assert index.linux_x86_64(index.parse_wheel("torch-1.2.0-cp37-cp37m-manylinux1_x86_64.whl"))
    assert index.linux_x86_64(index.parse_wheel("tv-0.2.2-py2.py3-none-any.whl"))
    for name in ("torch-1.2.0-cp37-none-macosx_10_7_x86_64.whl",
                 "torch-2.15.0-cp311-cp311-manylinux_2_28_aarch64.whl",
                 "torch-2.15.0-cp311-cp311-win_amd64.whl"):
        assert not index.linux_x86_64(index.parse_wheel(name)), name
    assert index.parse_wheel("torchvision-0.1.6.tar.gz") is None


@pytest.mark.parametrize("line,spec", [
    ("Requires-Dist: torch (==1.2.0)", "==1.2.0"),
    ("Requires-Dist: torch ==2.4.0", "==2.4.0"),
    ("Requires-Dist: torch>=2.14.0", ">=2.14.0"),
    ("Requires-Dist: torch", ""),
    ("Requires-Dist: torch (==1.10.0+cu102)", "==1.10.0+cu102"),
    ("Requires-Dist: torchaudio (==2.0)\nRequires-Dist: scipy ; extra == 'scipy'", None),
    ("Requires-Dist: torch (>=2.0) ; extra == 'export'", None),
])
def test_the_requirement_on_torch_is_read_from_requires_dist(line, spec):
    metadata = "Metadata-Version: 2.1\nName: torchvision\nRequires-Dist: numpy\n" + line + "\n"
    assert index.torch_requirement(metadata) == spec


def test_specifiers_follow_pep_440():
    assert index.satisfies("1.10.0", "==1.10.0")
    assert not index.satisfies("1.10.0", "==1.10.0+cu102")  # a local pin wants that build
    assert index.satisfies("1.10.0+cu102", "==1.10.0")
    assert index.satisfies("8.4.0", "<9,!=7.0.*") and not index.satisfies("7.0.0", "<9,!=7.0.*")
    assert index.satisfies("2.14.1", "~=2.14.0") and not index.satisfies("2.15.0", "~=2.14.0")
    assert index.python_allowed("3.14", ">=3.10,!=3.14.1")
    assert not index.python_allowed("3.9", ">=3.10")
    assert index.vkey("0.2.2.post3") > index.vkey("0.2.2") and index.vkey("0.10.0") > index.vkey("0.9.1")


def test_pins_are_the_matrix_pins_or_the_nearest_the_python_has():
    def release(version, pythons):
        return lock.Release(version, pythons, None, [])
    numpy = [release("1.21.6", ["3.7", "3.8"]), release("1.24.4", ["3.8", "3.11"]),
             release("1.26.4", ["3.9", "3.12"])]
    assert lock.pick_pin("1.24.4", numpy, "3.8") == "1.24.4"
    assert lock.pick_pin("1.24.4", numpy, "3.7") == "1.21.6"   # newest older it has
    assert lock.pick_pin("1.24.4", numpy, "3.12") == "1.26.4"  # else oldest newer
    assert lock.pick_pin("1.24.4", numpy, "3.8", "<1.22") == "1.21.6"
    assert lock.pick_pin("1.24.4", numpy, "3.6") is None


def test_the_lock_is_deterministic_and_an_unchanged_refresh_keeps_the_file(tmp_path):
    first = lock.build(INDEX, RecordedIndex(), workers=1, made="2026-01-01T00:00:00Z")
    second = lock.build(INDEX, RecordedIndex(), workers=8, made="2026-02-02T00:00:00Z")
    assert lock.render(first).replace("2026-01-01", "2026-02-02") == lock.render(second)
    path = tmp_path / "matrix.lock.json"
    assert lock.write(first, path) is True
    before = path.read_bytes()
    assert lock.write(second, path) is False  # only `made` differs: untouched
    assert path.read_bytes() == before
    assert list(json.loads(before)) == sorted(json.loads(before))


def test_main_writes_then_leaves_the_lock_byte_identical(tmp_path, capsys):
    out = tmp_path / "matrix.lock.json"
    assert lock.main(["--out", str(out)], fetch=RecordedIndex()) == 0
    written = out.read_bytes()
    assert "written" in capsys.readouterr().out
    assert lock.main(["--out", str(out)], fetch=RecordedIndex()) == 0
    assert out.read_bytes() == written
    assert "unchanged" in capsys.readouterr().out


def test_a_new_release_is_announced_and_joins_the_default_matrix(tmp_path, capsys):
    out = tmp_path / "matrix.lock.json"
    assert lock.main(["--out", str(out)], fetch=RecordedIndex(drop_versions={"2.15.0", "0.29.2"})) == 0
    before = json.loads(out.read_text())
    cells, _ = compat.default_cells(before)
    assert cells[-1].id == "py3.10-torch2.14.1-tv0.29.1"
    capsys.readouterr()
    assert lock.main(["--out", str(out)], fetch=RecordedIndex()) == 0
    assert "added py3.11-torch2.15.0-tv0.29.2" in capsys.readouterr().out
    cells, _ = compat.default_cells(json.loads(out.read_text()))
    assert cells[-1] == compat.Cell("3.11", "2.15.0", "0.29.2", "1.24.4", "10.4.0")
    assert "py3.10-torch2.14.1-tv0.29.1" not in [c.id for c in cells]


def test_core_metadata_files_are_used_where_the_index_has_them():
    index = RecordedIndex(core_metadata=True)
    data = lock.build(INDEX, index, made="x")
    assert cell_ids(data)[-1] == "py3.11-torch2.15.0-tv0.29.2"
    assert not [url for url, rng in index.requests if rng]  # no wheel was opened


@pytest.mark.parametrize("metadata_first,per_wheel", [(False, 1), (True, 2)])
def test_wheel_metadata_costs_one_or_two_range_requests(metadata_first, per_wheel):
    index = RecordedIndex(metadata_first=metadata_first)
    data = lock.build(INDEX, index, made="x")
    assert cell_ids(data)[-1] == "py3.11-torch2.15.0-tv0.29.2"
    wheel_requests = [url for url, rng in index.requests if url.endswith(".whl")]
    wheels = set(wheel_requests)
    assert wheels and all(rng for url, rng in index.requests if url.endswith(".whl"))
    assert len(wheel_requests) == per_wheel * len(wheels)


@pytest.mark.parametrize("index,message", [
    (RecordedIndex(break_url="/torchvision/"), "HTTP 503"),
    (RecordedIndex(break_url="torchvision-0.4.0"), "torchvision-0.4.0"),
    (RecordedIndex(html=True), "not the JSON simple API"),
    (RecordedIndex(corrupt="torchvision-0.4.2"), "cannot read the wheel's METADATA"),
])
def test_a_failure_is_one_line_exit_2_and_the_old_lock_untouched(tmp_path, capsys, index,
                                                                  message):
    out = tmp_path / "matrix.lock.json"
    out.write_text("the old lock\n")
    assert lock.main(["--out", str(out)], fetch=index) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "left as it was" in err
    assert out.read_text() == "the old lock\n"
    assert [p.name for p in tmp_path.iterdir()] == ["matrix.lock.json"]


def test_unparseable_json_is_a_clear_error():
    def fetch(url, headers):
        return b"{not json", {"content-type": index.SIMPLE_JSON}
    with pytest.raises(lock.LockError, match="not a PEP 691 project page"):
        index.read_project(INDEX, "torch", fetch)


def test_a_server_that_ignores_range_still_gives_the_metadata():
    wheel = RecordedIndex.wheel("torchvision-0.4.0-cp27-cp27m-manylinux1_x86_64.whl")
    file = index.File("https://files.example/torchvision-0.4.0-cp27-cp27m-manylinux1_x86_64.whl",
                     index.parse_wheel("torchvision-0.4.0-cp27-cp27m-manylinux1_x86_64.whl"),
                     None, None, False)
    text = index.read_metadata(file, lambda url, headers: (wheel, {}))
    assert index.torch_requirement(text) == "==1.2.0"


def test_the_committed_lock_is_current_format_and_sorted():
    text = lock.LOCK_PATH.read_text()
    data = json.loads(text)
    assert data["format"] == lock.FORMAT and lock.render(data) == text
    assert [c["torch"] for c in data["cells"]] == sorted((c["torch"] for c in data["cells"]),
                                                         key=index.vkey)

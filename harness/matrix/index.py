"""Reading a package index: versions and specifiers, wheel file names, and the PEP 691
JSON simple API with each wheel's core metadata (a ``.metadata`` file where the index
has one, else the wheel's METADATA read by HTTP range requests, as pip and uv do).

Standard library only; ``harness.lock`` builds the lock from what this reads.
"""
from __future__ import annotations

import dataclasses
import email.parser
import http.client
import io
import json
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from typing import Callable, Iterable

TIMEOUT_S = 30.0      # one read of the socket
DEADLINE_S = 300.0    # one whole answer (``--timeout``); torch's JSON page is a few MB
MAX_BODY = 32 << 20   # one answer: PyPI's torch page is under 1 MB, a wheel's tail 256 KB
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

# fetch(url, headers) -> (body, lower-cased response headers); raises on failure.
Fetch = Callable[[str, dict], "tuple[bytes, dict]"]


class LockError(Exception):
    """The index could not be read or understood; the message says what and where."""


# -- versions and specifiers -------------------------------------------------------

_VERSION = re.compile(r"(\d+(?:\.\d+)*)(?:\.?post(\d+))?(?:\+([a-z0-9.]+))?")


@dataclasses.dataclass(frozen=True, order=True)
class Version:
    """A final release (``1.2.0``, ``0.2.2.post3``, ``1.10.0+cu102``); pre-releases
    and dev releases are not versions the matrix installs, so they do not parse."""
    release: tuple
    post: int = -1
    local: str = ""

    @classmethod
    def parse(cls, text: str) -> "Version | None":
        match = _VERSION.fullmatch(text.strip().lower())
        if not match:
            return None
        release, post, local = match.groups()
        return cls(tuple(int(p) for p in release.split(".")), int(post) if post else -1,
                   local or "")

    def padded(self, n: int) -> tuple:
        return self.release + (0,) * (n - len(self.release))


def vkey(text: str) -> tuple:
    """Sort key for version strings; strings that do not parse sort first, by text."""
    version = Version.parse(text)
    return (1, version.padded(6), version.post, version.local) if version else (0, (), -1, text)


def _compare(candidate: Version, op: str, target_text: str) -> bool:
    wildcard = target_text.endswith(".*")
    target = Version.parse(target_text[:-2] if wildcard else target_text)
    if target is None:
        raise ValueError(f"cannot read version {target_text!r}")
    if wildcard:
        if op not in ("==", "!="):
            raise ValueError(f"wildcard with {op}")
        n = len(target.release)
        equal = candidate.padded(n)[:n] == target.release
        return equal if op == "==" else not equal
    n = max(len(candidate.release), len(target.release))
    if op in ("==", "!=", "==="):
        # A local label in the specifier must match; one only on the candidate is ignored.
        equal = (candidate.padded(n), candidate.post) == (target.padded(n), target.post) and \
            (not target.local or candidate.local == target.local)
        return equal if op != "!=" else not equal
    if op == "~=":
        prefix = target.release[:-1]
        return candidate >= target and candidate.padded(len(prefix))[:len(prefix)] == prefix
    left, right = (candidate.padded(n), candidate.post), (target.padded(n), target.post)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


_CLAUSE = re.compile(r"(===|==|!=|<=|>=|~=|<|>)\s*([^\s,]+)")


def satisfies(version: str, spec: str) -> bool:
    """Whether ``version`` meets a PEP 440 specifier like ``>=3.10,!=3.14.1`` ('' meets all)."""
    candidate = Version.parse(version)
    if candidate is None:
        raise ValueError(f"cannot read version {version!r}")
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = _CLAUSE.fullmatch(clause)
        if not match:
            raise ValueError(f"cannot read specifier {clause!r}")
        if not _compare(candidate, *match.groups()):
            return False
    return True


def python_allowed(python: str, requires_python: str | None) -> bool:
    """Whether some patch release of Python X.Y meets ``Requires-Python``."""
    if not requires_python:
        return True
    return any(satisfies(f"{python}.{patch}", requires_python) for patch in (0, 99))


# -- wheel file names -----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Wheel:
    filename: str
    version: str
    python_tags: tuple
    abi_tags: tuple
    platforms: tuple


def parse_wheel(filename: str) -> Wheel | None:
    """Split ``name-version[-build]-python-abi-platform.whl``; None for other files."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        return None
    return Wheel(filename, parts[1], tuple(parts[-3].split(".")), tuple(parts[-2].split(".")),
                 tuple(parts[-1].split(".")))


def linux_x86_64(wheel: Wheel) -> bool:
    return any(p == "any" or re.fullmatch(r"(many)?linux\w*_x86_64", p) for p in wheel.platforms)


def wheel_pythons(wheel: Wheel, requires_python: str | None, known: Iterable[str]) -> set[str]:
    """The CPython X.Y versions a wheel installs on.

    ``cp37-cp37m`` is Python 3.7; ``cp39-abi3`` every known Python from 3.9;
    ``py3``/``py2.py3`` every known Python of that major; free-threaded builds
    (``cp314t``) are not the interpreters the matrix runs. ``Requires-Python``
    narrows each."""
    known = sorted(set(known), key=vkey)
    found = set()
    for tag in wheel.python_tags:
        match = re.fullmatch(r"(cp|py)(\d)(\d*)", tag)
        if not match:
            continue
        kind, major, minor = match.groups()
        if kind == "cp" and minor:
            xy = f"{major}.{minor}"
            if "abi3" in wheel.abi_tags:
                found |= {p for p in known if p.split(".")[0] == major and vkey(p) >= vkey(xy)}
            elif any(abi.startswith(f"cp{major}{minor}") and not abi.endswith("t")
                     for abi in wheel.abi_tags) or "none" in wheel.abi_tags:
                found.add(xy)
        elif kind == "py" and not minor:
            found |= {p for p in known if p.split(".")[0] == major}
        elif kind == "py":
            found.add(f"{major}.{minor}")
    return {p for p in found if python_allowed(p, requires_python)}


# -- the index ---------------------------------------------------------------------------

class _Watched(threading.local):
    """The sockets the current thread's request opened, for its deadline to close."""
    sockets: list = []


_WATCHED = _Watched()


class _WatchedHTTP(http.client.HTTPConnection):
    def connect(self):
        super().connect()
        _WATCHED.sockets.append(self.sock)


class _WatchedHTTPS(http.client.HTTPSConnection):
    def connect(self):
        super().connect()
        _WATCHED.sockets.append(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_WatchedHTTP, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        # Python < 3.12 passes check_hostname too (3.12 moved it into the context).
        extra = ({"check_hostname": self._check_hostname}
                 if hasattr(self, "_check_hostname") else {})
        return self.do_open(_WatchedHTTPS, req, context=self._context, **extra)


_OPENER = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)


def _shut(sockets: list) -> None:
    for sock in list(sockets):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def http_fetch(url: str, headers: dict, deadline: float = DEADLINE_S) -> tuple[bytes, dict]:
    """The body and headers of ``url``: within ``deadline`` s for the whole answer (a server
    trickling a byte at a time is cut off) and MAX_BODY bytes (an endless body is refused
    once it is that long). Any failure is a LockError."""
    request = urllib.request.Request(url, headers={"User-Agent": "rngdrift-lock", **headers})
    _WATCHED.sockets = []
    late = threading.Event()
    timer = threading.Timer(deadline, lambda sockets=_WATCHED.sockets: (late.set(),
                                                                          _shut(sockets)))
    timer.daemon = True
    timer.start()
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            body = response.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise LockError(f"{url}: an answer larger than {MAX_BODY >> 20} MiB; "
                                "not a package index page")
            answer = body, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        raise LockError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        if late.is_set():
            raise LockError(f"{url}: no complete answer within {deadline:g} s") from None
        reason = getattr(exc, "reason", None) or exc
        raise LockError(f"{url}: {reason!s:.200}") from None
    finally:
        timer.cancel()
    if late.is_set():  # cut off at the deadline: what came may be short
        raise LockError(f"{url}: no complete answer within {deadline:g} s")
    return answer


@dataclasses.dataclass(frozen=True)
class File:
    url: str
    wheel: Wheel
    requires_python: str | None
    uploaded: str | None
    has_metadata: bool


def read_project(index: str, name: str, fetch: Fetch) -> dict[str, list[File]]:
    """{version: [non-yanked wheel files]} of one project from its simple-API JSON page."""
    url = urllib.parse.urljoin(index.rstrip("/") + "/", f"{name}/")
    body, headers = fetch(url, {"Accept": SIMPLE_JSON})
    kind = headers.get("content-type", "").split(";")[0].strip()
    if kind and "json" not in kind:
        raise LockError(f"{url}: served {kind}, not the JSON simple API (PEP 691) the lock reads")
    try:
        page = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        page = None
    entries = page.get("files") if isinstance(page, dict) else None
    if not isinstance(entries, list):
        raise LockError(f"{url}: not a PEP 691 project page (no 'files' list)")
    releases: dict[str, list[File]] = {}
    for entry in entries:
        fields = entry if isinstance(entry, dict) else {}
        filename, link = fields.get("filename"), fields.get("url")
        if not isinstance(filename, str) or not isinstance(link, str):
            raise LockError(f"{url}: a file entry without filename/url: {entry!r:.120}")
        wheel = parse_wheel(filename)
        if wheel is None or fields.get("yanked"):
            continue
        requires, uploaded = fields.get("requires-python"), fields.get("upload-time")
        if not isinstance(requires, (str, type(None))) or not isinstance(uploaded,
                                                                       (str, type(None))):
            raise LockError(f"{url}: {filename}: requires-python or upload-time is not text")
        releases.setdefault(wheel.version, []).append(File(
            urllib.parse.urljoin(url, link), wheel, requires, uploaded,
            bool(fields.get("core-metadata") or fields.get("data-dist-info-metadata"))))
    return releases


class _RangeReader(io.RawIOBase):
    """A remote file that zipfile can read: HTTP range requests, cached in blocks.

    The first request takes the file's tail (where a wheel keeps its central
    directory and, usually, its ``.dist-info``), so a METADATA read costs one or two
    requests instead of the whole wheel."""
    BLOCK = 1 << 16

    def __init__(self, url: str, fetch: Fetch):
        self.url, self.fetch, self.pos = url, fetch, 0
        body, headers = fetch(url, {"Range": f"bytes=-{4 * self.BLOCK}"})
        total = headers.get("content-range", "").rpartition("/")[2]
        self.size = int(total) if total.isdigit() else len(body)  # 200: the server sent it all
        self.blocks = [(self.size - len(body), body)]

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = base + offset
        return self.pos

    def read(self, n=-1):
        end = self.size if n is None or n < 0 else min(self.size, self.pos + n)
        if end <= self.pos:
            return b""
        for start, data in self.blocks:
            if start <= self.pos and end <= start + len(data):
                out = data[self.pos - start:end - start]
                break
        else:
            stop = min(self.size, max(end, self.pos + self.BLOCK))
            body, _ = self.fetch(self.url, {"Range": f"bytes={self.pos}-{stop - 1}"})
            if len(body) < end - self.pos:
                raise LockError(f"{self.url}: short range response")
            self.blocks.append((self.pos, body))
            out = body[:end - self.pos]
        self.pos += len(out)
        return out


def read_metadata(file: File, fetch: Fetch) -> str:
    """A wheel's core metadata: PEP 658 ``<url>.metadata`` if the index has it, else
    the ``.dist-info/METADATA`` member read out of the remote wheel."""
    if file.has_metadata:
        body, _ = fetch(file.url + ".metadata", {})
        return body.decode("utf-8", "replace")
    try:
        with zipfile.ZipFile(_RangeReader(file.url, fetch)) as wheel:
            names = [n for n in wheel.namelist()
                     if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
            if len(names) != 1:
                raise LockError(f"{file.url}: {len(names)} .dist-info/METADATA files in the wheel")
            return wheel.read(names[0]).decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error) as exc:
        raise LockError(f"{file.url}: cannot read the wheel's METADATA ({exc})") from None


_REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?([^;()]*)\)?\s*")


def torch_requirement(metadata: str) -> str | None:
    """The specifier torchvision's metadata puts on torch ('' = any torch), or None
    when it names no torch. Requirements that only hold for an extra are skipped."""
    message = email.parser.HeaderParser().parsestr(metadata)
    for line in message.get_all("Requires-Dist") or []:
        requirement, _, marker = line.partition(";")
        if "extra" in marker:
            continue
        match = _REQUIREMENT.fullmatch(requirement.strip())
        if not match:
            raise LockError(f"cannot read requirement {line!r}")
        name, spec = match.groups()
        if re.sub(r"[-_.]+", "-", name).lower() == "torch":
            return re.sub(r"\s+", "", spec)
    return None



"""Look at report.html as people do: headless Chromium, at a desktop and a phone width.

    measure(page, width)        where the verdict sits, how wide the page is, at ``width``
    screenshot(page, width, out)

A narrow viewport is a frame of that width inside a wrapper page (headless
Chromium will not open a window narrower than 500 px), so the page's own
``<meta name=viewport>`` and media queries apply as on a phone. Nothing is fetched
from the network. ``nox -s screenshots`` regenerates the README's pictures.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import UserError

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--hide-scrollbars", "--allow-file-access-from-files",
         "--disable-web-security")
HEIGHT = 900

# Runs inside the wrapper once the frame has loaded: what the tests assert on.
_PROBE = """
<script>
function probe() {
  var doc = document.getElementById('page').contentDocument, win = doc.defaultView;
  var verdict = doc.getElementById('verdict'), first = doc.querySelector('ol.findings li');
  var wide = [];
  doc.querySelectorAll('body *').forEach(function (el) {
    if (el.closest('.scroll')) return;
    var box = el.getBoundingClientRect();
    if (box.right > win.innerWidth + 1 && box.width > 0) wide.push(el.tagName + '.' + el.className);
  });
  var heat = null, box = doc.querySelector('.heatbox');
  if (box && box.querySelector('thead th:last-child')) {
    var b = box.getBoundingClientRect(), last = box.querySelector('thead th:last-child');
    var l = last.getBoundingClientRect();
    heat = {box_top: b.top, box_bottom: b.bottom, box_right: b.right,
            newest_visible: l.right <= b.right + 1 && l.right <= win.innerWidth + 1,
            rows: box.querySelectorAll('tbody tr').length,
            scrolls_down: box.scrollHeight > box.clientHeight + 1};
    box.scrollTop = 400; box.scrollLeft = 300;
    var th = box.querySelector('thead th'), name = box.querySelector('tbody td.n1');
    b = box.getBoundingClientRect();
    heat.header_sticks = Math.abs(th.getBoundingClientRect().top - b.top) < 3;
    heat.names_stick = !name || Math.abs(name.getBoundingClientRect().left - b.left) < 3;
    box.scrollTop = 0; box.scrollLeft = 0;
  }
  document.body.setAttribute('data-probe', JSON.stringify({
    heatmap: heat,
    width: win.innerWidth, height: win.innerHeight,
    scroll_width: doc.documentElement.scrollWidth,
    verdict_top: verdict ? verdict.getBoundingClientRect().top : null,
    first_finding_bottom: first ? first.getBoundingClientRect().bottom : null,
    first_screen: doc.body.innerText.slice(0, 4000),
    overflowing: wide.slice(0, 10)}));
}
</script>
"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _wrapper(page: Path, width: int, height: int, folder: Path, anchor: str = "") -> Path:
    wrapper = folder / "wrapper.html"
    src = page.resolve().as_uri() + (f"#{anchor}" if anchor else "")
    wrapper.write_text(
        f'<!DOCTYPE html><html><body style="margin:0" onload="probe()">{_PROBE}'
        f'<iframe id="page" src="{src}" width="{width}" height="{height}" '
        'style="border:0;display:block"></iframe></body></html>')
    return wrapper


def _run(args: list[str], folder: Path, timeout: float = 120) -> str:
    binary = chromium()
    if binary is None:
        raise UserError("no Chromium found (Debian: apt-get install -y chromium)")
    proc = subprocess.run([binary, *FLAGS, f"--user-data-dir={folder / 'profile'}", *args],
                          capture_output=True, text=True, timeout=timeout)
    return proc.stdout


def measure(page: Path, width: int, height: int = HEIGHT) -> dict:
    """Layout facts of ``page`` in a ``width`` x ``height`` viewport."""
    with tempfile.TemporaryDirectory(prefix="rngdrift-browser-") as tmp:
        folder = Path(tmp)
        wrapper = _wrapper(page, width, height, folder)
        dom = _run([f"--window-size={max(width, 500)},{height}", "--virtual-time-budget=5000",
                    "--dump-dom", wrapper.as_uri()], folder)
    found = re.search(r'data-probe="([^"]*)"', dom)
    if not found:
        raise RuntimeError("Chromium printed no measurements")
    import html
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, width: int, out: Path, height: int = HEIGHT, anchor: str = "") -> Path:
    """A PNG of the first ``height`` pixels of ``page`` at ``width`` (scrolled to
    ``anchor``, e.g. ``heatmap``, where given)."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rngdrift-browser-") as tmp:
        folder = Path(tmp)
        wrapper = _wrapper(page, width, height, folder, anchor)
        _run([f"--window-size={max(width, 500)},{height}", "--virtual-time-budget=5000",
              f"--screenshot={out}", wrapper.as_uri()], folder)
    if not out.exists():
        raise RuntimeError(f"Chromium wrote no screenshot to {out}")
    if width < 500:  # the window is at least 500 px wide: crop to the frame
        _crop(out, width)
    return out


def _crop(path: Path, width: int) -> None:
    """Keep the left ``width`` pixels of a PNG (standard library only)."""
    import struct
    import zlib
    data = path.read_bytes()
    w, h, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or width >= w:
        return
    chunks, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = w * channels
    rows, prev = [], bytearray(stride)
    for y in range(h):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        rows.append(_unfilter(line[0], bytearray(line[1:]), prev, channels))
        prev = rows[-1]
    cropped = b"".join(b"\x00" + bytes(row[:width * channels]) for row in rows)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xffffffff)
    header = struct.pack(">IIBBBBB", width, h, 8, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(cropped, 9)) + chunk(b"IEND", b""))


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> bytearray:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up, corner = prev[i], (prev[i - bpp] if i >= bpp else 0)
        if kind == 1:
            line[i] = (line[i] + left) & 0xff
        elif kind == 2:
            line[i] = (line[i] + up) & 0xff
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xff
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xff
    return line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m _rngdrift.harness.report.browser",
                                     description="Screenshots of a report.html for the README.")
    parser.add_argument("page", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    for width in (1400, 400):
        print(screenshot(args.page, width, args.out / f"report-{width}.png"))
    print(screenshot(args.page, 1400, args.out / "report-heatmap-1400.png", anchor="heatmap"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A hostile package index behind `nox -s lock -- --index-url http://127.0.0.1:…`: a real
HTTP server on the loopback interface, the lock's real fetch (urllib, sockets). Each
attack is one line on stderr, exit 2, no traceback, no escape sequence reaching the
terminal, and the old lock left as it was (docs/hardening.md, "The package index").
"""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from _rngdrift.harness.matrix import index, lock

ROOT = Path(__file__).resolve().parent.parent
GOOD_FILE = {"filename": "torch-1.5.0-cp38-cp38-manylinux1_x86_64.whl",
             "url": "torch-1.5.0-cp38-cp38-manylinux1_x86_64.whl", "requires-python": ">=3.6"}


def _page(files) -> bytes:
    return json.dumps({"meta": {"api-version": "1.0"}, "name": "torch", "files": files}).encode()


ATTACKS = {
    # path: (status, reason, headers, body chunks, seconds between chunks)
    "nested": (200, "OK", {}, [b"[" * 200_000 + b"]" * 200_000], 0),
    "files-null": (200, "OK", {}, [b'{"files": null}'], 0),
    "files-int": (200, "OK", {}, [b'{"files": 7}'], 0),
    "entry-int": (200, "OK", {}, [_page([5])], 0),
    "requires-int": (200, "OK", {}, [_page([dict(GOOD_FILE, **{"requires-python": 3})])], 0),
    "endless": (200, "OK", {}, None, 0),
    "trickle": (200, "OK", {"Content-Length": "1000"}, [b"{"] * 1000, 10),
    "escape": (503, "Service \x1b[2J\x1b[31mUnavailable\x07", {}, [b"down"], 0),
}


class Hostile(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        attack = self.path.strip("/").split("/")[0]
        status, reason, headers, chunks, pause = ATTACKS[attack]
        self.send_response(status, reason)
        self.send_header("Content-Type", index.SIMPLE_JSON)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            if chunks is None:  # an endless body
                block = b" " * (1 << 20)
                while True:
                    self.wfile.write(block)
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("attack, message", [
    ("nested", "not a PEP 691 project page (no 'files' list)"),
    ("files-null", "not a PEP 691 project page (no 'files' list)"),
    ("files-int", "not a PEP 691 project page (no 'files' list)"),
    ("entry-int", "a file entry without filename/url: 5"),
    ("requires-int", "requires-python or upload-time is not text"),
    ("endless", f"an answer larger than {index.MAX_BODY >> 20} MiB"),
    ("trickle", "no complete answer within 3 s"),
    ("escape", "HTTP 503 Service \\x1b[2J\\x1b[31mUnavailable\\x07"),
])
def test_a_hostile_index_is_one_line_exit_2_and_the_lock_untouched(server, tmp_path, capsys,
                                                                   attack, message):
    out = tmp_path / "matrix.lock.json"
    out.write_text("the old lock\n")
    started = time.monotonic()
    assert lock.main(["--index-url", f"{server}/{attack}/", "--out", str(out),
                      "--timeout", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "left as it was" in err, err
    assert "\x1b" not in err and "\x07" not in err and "Traceback" not in err
    assert out.read_text() == "the old lock\n"
    assert time.monotonic() - started < 60


def test_nox_s_lock_against_a_hostile_index_prints_one_line(server, tmp_path):
    """The session itself: its one line, nox's exit status 2, nothing raw on the terminal."""
    out = tmp_path / "matrix.lock.json"
    proc = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "lock", "--", "--index-url", f"{server}/escape/",
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.startswith("rngdrift lock:")]
    assert len(lines) == 1 and "HTTP 503 Service \\x1b[2J" in lines[0]
    assert "\x1b[2J" not in proc.stdout + proc.stderr and not out.exists()


def test_lock_write_follows_no_planted_link(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me")
    out = tmp_path / "matrix.lock.json"
    for guess in range(os.getpid() - 5, os.getpid() + 50):  # the old predictable names
        (tmp_path / f".{out.name}.tmp-{guess}").symlink_to(target)
    assert lock.write({"format": lock.FORMAT, "cells": []}, out)
    assert target.read_text() == "keep me"
    assert json.loads(out.read_text())["cells"] == [] and not out.is_symlink()

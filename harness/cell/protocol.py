"""What the processes of a cell say to each other, and how a child is started.

Two channels:

* the **results pipe**, child -> runner: JSON lines ``start``, ``result`` and
  ``done`` (``send``; the runner splits them with ``split_lines``);
* the **control socket**, runner <-> zygote: one JSON message per datagram-like
  send with file descriptors attached (``send_message``/``recv_message``).

A child's command line is built by ``child_argv`` and read by ``parse_child_args``,
so the two sides cannot drift apart.
"""
import argparse
import array
import json
import os
import socket
from collections import namedtuple

_MAX_FDS = 4

# One scenario's outcome: rows are (metric, kind, value) triples.
Result = namedtuple("Result", "scenario status detail rows")


# -- results pipe ------------------------------------------------------------------
def _encode(message):
    return (json.dumps(message, sort_keys=True) + "\n").encode("utf-8")


def send(fd, message):
    data = _encode(message)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def started(name):
    return {"event": "start", "scenario": name}


def finished(result):
    return {"event": "result", "scenario": result.scenario, "status": result.status,
            "detail": result.detail, "rows": [list(r) for r in result.rows]}


DONE = {"event": "done"}


def split_lines(buffer):
    """(messages, malformed lines, the unfinished rest) of what a child sent so far.

    Only JSON objects count as messages; anything else cannot come from our
    child and is returned as malformed, never acted on.
    """
    messages, malformed = [], []
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        try:
            message = json.loads(line.decode("utf-8"))
        except ValueError:
            message = None
        if isinstance(message, dict):
            messages.append(message)
        else:
            malformed.append(line)
    return messages, malformed, buffer


def result_of(message, default_status="error"):
    """The Result a ``result`` message carries."""
    return Result(message["scenario"], message.get("status", default_status),
                  message.get("detail", ""), [tuple(r) for r in message.get("rows", [])])


# -- control socket (runner <-> zygote) ----------------------------------------------
def send_message(sock, message, fds=()):
    ancillary = []
    if fds:
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", list(fds)))]
    sock.sendmsg([_encode(message)], ancillary)


def recv_message(sock, timeout=None):
    """One JSON line and any fds sent with it; (None, []) at EOF or on timeout."""
    sock.settimeout(timeout)
    fds = array.array("i")
    try:
        data, ancdata, _, _ = sock.recvmsg(65536, socket.CMSG_LEN(_MAX_FDS * fds.itemsize))
    except socket.timeout:
        return None, []
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - (len(payload) % fds.itemsize)])
    if not data:
        return None, list(fds)
    while not data.endswith(b"\n"):  # a long message (thousands of test names) in pieces
        more = sock.recv(65536)
        if not more:
            return None, list(fds)
        data += more
    return json.loads(data.decode("utf-8")), list(fds)


# -- a child's command line -----------------------------------------------------------
def child_argv(mode, parent, names, memory_limit=None, fd=None, inflight=None):
    """Arguments of a child that runs ``names`` under ``mode`` (``fd``: its results pipe;
    a forked child gets its pipe from the zygote instead; ``inflight``: the file it
    names its running scenario in)."""
    argv = [] if fd is None else ["--fd", str(fd)]
    argv += ["--mode", mode, "--parent", str(parent)]
    if memory_limit:
        argv += ["--memory-limit", str(memory_limit)]
    if inflight:
        argv += ["--inflight", inflight]
    # "--scenario=NAME": a name that starts with "-" cannot pass for an option.
    return argv + ["--scenario=" + name for name in names]


def paths_argv(builtin, user, usercode=None):
    """Where a child (or zygote) loads scenarios from: built-in and user paths, and the
    file describing the user's calls, scripts, tests and checks (``usercode.py``)."""
    return (["--builtin-path=" + path for path in builtin]
            + ["--scenarios-path=" + path for path in user]
            + (["--usercode=" + usercode] if usercode else []))


def zygote_argv(control_fd, parent):
    return ["--zygote", str(control_fd), "--parent", str(parent)]


def _parser():
    parser = argparse.ArgumentParser(prog="_rngdrift.harness.cell.child")
    parser.add_argument("--fd", type=int)
    parser.add_argument("--mode")
    parser.add_argument("--scenario", action="append", default=[])
    parser.add_argument("--builtin-path", action="append", default=[])
    parser.add_argument("--scenarios-path", action="append", default=[])
    parser.add_argument("--usercode", help="JSON file: the user's calls, scripts, tests")
    parser.add_argument("--parent", type=int, help="the runner's pid: die with it")
    parser.add_argument("--memory-limit", type=int, help="bytes of data this process may map")
    parser.add_argument("--inflight", help="file to name the running scenario in (keeper.py)")
    parser.add_argument("--zygote", type=int, metavar="CONTROL_FD",
                        help="serve fork requests on this socket instead of running")
    return parser


def parse_child_args(argv):
    return _parser().parse_args(argv)

"""Run a user's program (a script, one pytest test) in a fork of the scenario's process.

    outcome = forked.run(body)   # body() runs in the fork; outcome.result is what it returned

The fork starts exactly where the scenario starts: generators restored to a fresh
program's state and seeded by the mode, torch already imported (by the zygote), the
attribution counting. So the user's program sees the seeding mode applied before its
own first line, and costs a fork (milliseconds) instead of a new interpreter (~10 s
of ``import torch`` on torch 2.x). What it prints is captured (the last of it goes
into error rows, ``--metric`` patterns read it) and then copied to the cell log;
``rngdrift.record`` values, the exit status and what it drew come back over a pipe
and are counted as the scenario's own. It exits the way a program does (``atexit``
handlers run: DataLoader workers shut down and report), then ``os._exit``.

A hang is the supervisor's business: it kills the child's process group, which
the fork belongs to; the stack dump it asks for (SIGUSR1) is passed on to the
fork, so the ``timeout`` row says where the user's program was.
"""
import atexit
import faulthandler
import gc
import io
import json
import os
import random
import select
import signal
import sys
import tempfile
import traceback
from collections import namedtuple

from . import attribution, metrics, sink, tracing
from .loader import where_raised
from .processes import describe_exit, stack_summary
from .safetext import visible

# What one fork gave: ``result`` (what body returned, JSON), ``code`` (exit status:
# SystemExit's, 1 after an exception, -N killed by signal N), ``error`` (one line for
# an exception), ``recorded`` (rngdrift.record metrics), ``output`` (what it printed).
Outcome = namedtuple("Outcome", "result code error recorded output")
# What of a program's output is kept for --metric and copied to the log; how often the
# file it writes to is cut back to that while it runs.
OUTPUT_LIMIT = 8 << 20
CAP_INTERVAL = 0.02


def _exit_code(exc):
    """The status a program's interpreter would exit with: ``sys.exit(-11)`` is 245, not
    death by SIGSEGV (the system keeps the low 8 bits)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write("%s\n" % (code,))  # what the interpreter prints for sys.exit("why")
    return 1


def _describe(exc):
    """'ValueError: message (at train.py:12 in main)' at the innermost frame."""
    text = " | ".join(p.strip() for p in ("%s: %s" % (type(exc).__name__, exc)).splitlines()
                      if p.strip())
    return (text if len(text) <= 300 else text[:297] + "...") + where_raised(exc)


def _fresh_exit():
    """What a fresh program does at its exit: multiprocessing's shutdown (its children
    and finalizers: DataLoader workers end and report) and the handlers the program
    registers itself; not those of the process it was forked from (torch 2.x's take
    25 ms), nor that process's children to wait for."""
    try:
        atexit._clear()
    except AttributeError:
        pass
    try:
        import multiprocessing.process
        import multiprocessing.util
        multiprocessing.process._children.clear()
        atexit.register(multiprocessing.util._exit_function)
    except (ImportError, AttributeError):
        pass


def _set_random_state(state):
    """Python reseeds ``random`` in every forked child (3.7+); the program must see
    the seeded state the scenario started with. Not counted as the program's call."""
    was = tracing._active[0]
    tracing._active[0] = False
    try:
        setstate = getattr(random.setstate, "__rngdrift_original__", random.setstate)
        setstate(state)
    finally:
        tracing._active[0] = was


def _in_fork(body, out_fd, report_fd):
    log = os.fdopen(os.dup(2), "w")  # the cell log: where a stack dump must go
    _dump_on_usr1(log)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (IOError, OSError, ValueError):
            pass
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    # Streams of its own on those descriptors, as a program starts with (whatever this
    # process had put in their place), written through like PYTHONUNBUFFERED's.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True,
                                  errors="backslashreplace")
    _fresh_exit()
    recorder = metrics.Recorder()
    sink.receive(recorder.record)
    result, code, error = None, 0, None
    try:
        result = body()
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException as exc:  # the program's failure: printed as Python would
        traceback.print_exc()
        code, error = 1, _describe(exc)
    counted = attribution.counted_here()
    sink.receive(None)
    try:
        atexit._run_exitfuncs()  # as a program's exit does: workers shut down, report
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (IOError, OSError, ValueError):
            pass
    report = {"result": result, "code": code, "error": error, "counted": counted,
              "recorded": recorder.encodable()}
    try:
        data = json.dumps(report).encode("utf-8")
    except (TypeError, ValueError) as exc:
        data = json.dumps({"code": 1, "error": "rngdrift: cannot send the result back: %s"
                           % exc, "counted": counted, "recorded": []}).encode("utf-8")
    while data:
        data = data[os.write(report_fd, data):]


class _passing_on_dumps(object):
    """While waiting: SIGUSR1 (the supervisor asking where a hung child is) goes to the
    fork, whose stack is the one that matters; faulthandler's own handler after."""

    def __init__(self, pid):
        self.pid = pid

    def __enter__(self):
        def forward(signum, frame):
            try:
                os.kill(self.pid, signal.SIGUSR1)
            except OSError:
                pass
        signal.signal(signal.SIGUSR1, forward)
        return self

    def __exit__(self, *exc):
        _dump_on_usr1(sys.stderr)
        return False


def _dump_on_usr1(log):
    """faulthandler's SIGUSR1 stack dump into ``log``, installed afresh: faulthandler
    does not reinstall a handler it believes is there, whatever replaced it since."""
    if hasattr(faulthandler, "register"):
        faulthandler.unregister(signal.SIGUSR1)
        faulthandler.register(signal.SIGUSR1, file=log, all_threads=True)


def _cap_output(path):
    """Keep the program's output file within OUTPUT_LIMIT while it writes (it appends,
    O_APPEND): its first and last halves stay. Returns the bytes dropped."""
    half = OUTPUT_LIMIT // 2
    try:
        with open(path, "r+b") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= OUTPUT_LIMIT:
                return 0
            handle.seek(size - half)
            tail_part = handle.read(half)
            handle.truncate(half)
            handle.seek(half)
            handle.write(tail_part)
            return size - half - len(tail_part)
    except (IOError, OSError):
        return 0


def _wait_report(fd, pid, out_path):
    """(what the fork sent back, output bytes dropped): read its report pipe until EOF,
    or until the fork has exited (a process it started may hold the pipe), capping its
    output every CAP_INTERVAL."""
    chunks, dropped = [], 0
    while True:
        dropped += _cap_output(out_path)
        ready, _, _ = select.select([fd], [], [], CAP_INTERVAL)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        elif _exited_without_reaping(pid):
            os.set_blocking(fd, False)
            try:
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except BlockingIOError:
                pass
            break
    return b"".join(chunks), dropped


def _exited_without_reaping(pid):
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None and info.si_pid == pid


def _read_output(path, dropped=0):
    """What the program printed (capped as it wrote), with a note where output was left out."""
    half = OUTPUT_LIMIT // 2
    dropped += _cap_output(path)
    with open(path, "rb") as handle:
        data = handle.read()
    if dropped:
        note = ("\n[rngdrift: %d bytes of output left out here]\n" % dropped).encode()
        data = data[:half] + note + data[half:]
    return data.decode("utf-8", "replace")


def run(body, title="program", echo=True):
    """Run ``body()`` in a fork (see the module doc) and return its Outcome; ``echo``:
    copy what it printed to this process's output (the cell log)."""
    handle, out_path = tempfile.mkstemp(prefix="rngdrift-output-")
    os.close(handle)
    # O_APPEND: the fork writes at the end while _cap_output cuts the middle out.
    out_fd = os.open(out_path, os.O_WRONLY | os.O_APPEND)
    read_fd, write_fd = os.pipe()
    state = random.getstate()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    # What exists now (torch, the harness) is frozen for the fork's garbage collector: a
    # full collection there (pytest runs several) would otherwise walk, and so copy, every
    # inherited page; 0.2-1 s per collection with torch 2.x loaded.
    gc.freeze()
    try:
        pid = os.fork()
    except BaseException:
        gc.unfreeze()
        raise
    if pid:
        gc.unfreeze()
    if pid == 0:  # the fork: never returns
        code = 70
        try:
            _set_random_state(state)  # first: before an import's checkpoint sees the reseed
            os.close(read_fd)
            _in_fork(body, out_fd, write_fd)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    os.close(out_fd)
    try:
        with _passing_on_dumps(pid):
            data, dropped = _wait_report(read_fd, pid, out_path)
            _, status = os.waitpid(pid, 0)
    finally:
        os.close(read_fd)
    try:
        output = _read_output(out_path, dropped)
    finally:
        os.unlink(out_path)
    if echo:
        sys.stdout.write("--- %s output ---\n%s%s--- end of %s output ---\n"
                         % (title, output, "" if output.endswith("\n") or not output else "\n",
                            title))
        sys.stdout.flush()
    try:
        report = json.loads(data.decode("utf-8")) if data else None
    except ValueError:
        report = None
    if report is None:  # it died before reporting (a crash, os._exit)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return Outcome(None, code, None, {}, output)
    attribution.absorb(report.get("counted"))
    return Outcome(report.get("result"), report.get("code", 0), report.get("error"),
                   metrics.decode(report.get("recorded", [])), output)


def _before(output, *markers):
    """``output`` up to the last of ``markers`` (a traceback or a crash dump after it)."""
    cut = max(output.rfind(marker) for marker in markers)
    return output[:cut] if cut >= 0 else output


def failure(outcome, what="script"):
    """The one-line detail of a program that did not end well, or None: what it raised
    or how it ended, where it crashed, and the last lines it printed before that."""
    if outcome.error:
        said = tail(_before(outcome.output, "Traceback (most recent call last)"))
        return "%s raised %s%s" % (what, outcome.error, "; output: " + said if said else "")
    if outcome.code:
        where = stack_summary(outcome.output) if outcome.code < 0 else ""
        said = tail(_before(outcome.output, "Fatal Python error", "Current thread 0x"))
        return "%s %s%s; output: %s" % (what, describe_exit(outcome.code),
                                        " at " + where if where else "", said or "(none)")
    return None


def tail(output, lines=3, limit=300):
    """The last non-empty lines of a program's output, on one line."""
    kept = [line.strip() for line in output.splitlines() if line.strip()]
    text = visible(" | ".join(kept[-lines:]))
    return text if len(text) <= limit else "..." + text[-(limit - 3):]

"""The cell runner: fan (seeding mode, repeat) jobs out to fresh child processes.

Each job is one child process that imports torch once and runs the selected
scenarios in order. The runner watches every child through its results pipe:

* a scenario that runs past its timeout gets ``status=timeout``; the child is
  asked where it is (faulthandler), then it and its DataLoader workers (one
  process group, its own session) are killed and a new child picks up the next
  scenario;
* a child that dies (segfault, os._exit, OOM kill) gives the running scenario
  ``status=error`` with the exit signal or code and the tail of its log, and a
  new child goes on;
* a child that dies or hangs before starting any scenario (broken import)
  marks every remaining scenario of that job ``error``/``timeout`` with the tail
  of its log;
* an interrupt (Ctrl-C, SIGTERM, the parent going away) kills every child group
  before the runner exits: nothing is left running.

Each child writes its stdout/stderr to a log of its own, appended to the cell's
log when it ends, so logs of parallel children never interleave. Finished jobs
can be journalled (``Journal``) so an interrupted cell resumes mid-way.

Rows are sorted into a fixed order before the cell CSV is written atomically, so
the file does not depend on scheduling.
"""
import errno
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time

from . import schema, zygote

# Slowest real scenario: a few seconds on a laptop CPU. 120 s leaves 20x and more
# for slow shared CI runners yet bounds what a deadlocked DataLoader costs (one
# timeout per hanging scenario, seeding mode and repeat).
DEFAULT_TIMEOUT = 120.0
# Importing torch 2.x from a cold disk cache on a busy runner takes tens of
# seconds; a child that has not started its first scenario by then is hung.
STARTUP_TIMEOUT = 180.0
# After a child reports it is done it gets this long to exit before its group is killed.
EXIT_GRACE = 10.0
# How long a timed-out child gets to dump its Python stack before SIGKILL.
DUMP_GRACE = 1.0
POLL_INTERVAL = 0.25
# RLIMIT_DATA counts private writable memory, not reserved address space: torch
# 2.11 with CUDA initialised on an H100 maps 1.6 GiB of data (and 18 GiB of
# address space, which is why RLIMIT_AS is not used); a CPU-only torch 2.15
# import 0.8 GiB. 4 GiB leaves room for real scenarios on top.
MIN_MEMORY_LIMIT = 4 << 30
DETAIL_LIMIT = 500


class Interrupted(Exception):
    """The run was stopped from outside (SIGTERM, the parent process gone)."""


# -- small pure helpers ------------------------------------------------------
def _signal_name(code):
    try:
        return signal.Signals(-code).name
    except (ValueError, AttributeError):
        return "signal %d" % -code


def describe_exit(code):
    if code is None:
        return "still running"
    if code < 0:
        return "killed by %s" % _signal_name(code)
    return "exited with code %d" % code


def _clip(text, limit=DETAIL_LIMIT):
    return text if len(text) <= limit else text[:limit - 3] + "..."


_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')
_LIBRARY = re.compile(r"/(site|dist)-packages/|/lib/python\d\.\d+/|/harness/cell/child\.py$|^<")


def stack_summary(text):
    """Where a child was, from the last faulthandler dump in its log.

    'innermost frame < ... < innermost frame of scenario code', e.g.
    'selectors.py:415 in select < ... < faults.py:62 in hang_worker'.
    faulthandler prints the innermost frame first; the thread that ran the
    scenario is the one marked 'Current thread'.
    """
    starts = [m.start() for m in re.finditer(r"^Current thread 0x", text, flags=re.M)]
    if not starts:
        return ""
    frames = []
    for line in text[starts[-1]:].splitlines()[1:]:
        match = _FRAME.match(line)
        if not match:
            break
        frames.append((match.group("file"), match.group("line"), match.group("func")))
    frames = [f for f in frames
              if not f[0].endswith(("runpy.py", "child.py", "<frozen runpy>"))] or frames
    if not frames:
        return ""
    own = [f for f in frames if not _LIBRARY.search(f[0])]
    chosen = [frames[0]]
    if own and own[0] is not frames[0]:
        chosen += ["..."] if frames.index(own[0]) > 1 else []
        chosen.append(own[0])
    elif len(own) > 1:
        chosen.append(own[1])
    return " < ".join(f if f == "..." else "%s:%s in %s" % (os.path.basename(f[0]), f[1], f[2])
                      for f in chosen)


def parse_size(text):
    """Bytes from '8G', '512M', '1.5g', '1048576'; None for '0', 'none' or 'off'."""
    value = str(text).strip().lower()
    if value in ("0", "none", "off", "unlimited"):
        return None
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    match = re.match(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", value)
    if not match:
        raise ValueError("memory size %r: use a number with K, M, G or T (e.g. 8G), "
                         "or 'none'" % text)
    return int(float(match.group(1)) * units.get(match.group(2), 1))


def physical_memory():
    """Total RAM in bytes, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_memory_limit(jobs, total=None):
    """Each child may use RAM / (jobs + 1): every child at its limit still leaves
    room for the runner, the host and the rest of the machine. Never less than
    MIN_MEMORY_LIMIT (or all of RAM where there is less), which real scenarios need."""
    total = physical_memory() if total is None else total
    if not total:
        return None
    return max(total // (max(1, jobs) + 1), min(MIN_MEMORY_LIMIT, total))


def format_size(size):
    if size is None:
        return "none"
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= factor:
            return "%.1f%s" % (size / float(factor), unit)
    return str(size)


# -- jobs and their children ---------------------------------------------------
class Job(object):
    """One (seeding mode, repeat): the scenarios still to run and the live child."""

    def __init__(self, mode, repeat, names):
        self.mode = mode
        self.repeat = repeat
        self.pending = list(names)
        self.results = []  # (scenario, status, detail, rows)
        self.proc = None
        self.fd = None
        self.eof = False
        self.buffer = b""
        self.current = None
        self.started_at = None
        self.started_any = False
        self.spawned_at = None
        self.spawns = 0
        self.done = False
        self.done_at = None
        self.log = None

    @property
    def key(self):
        return (self.mode, self.repeat)


def _kill_group(pid):
    """SIGKILL a child's process group (the child is its leader: its own session).

    Called only while the child is unreaped, so the group id cannot have been
    reused by an unrelated process.
    """
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _has_exited(proc):
    """True once the child has exited, without reaping it (its pid keeps the group id)."""
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    except (AttributeError, OSError):  # no waitid: poll() reaps, still fine for a leader
        return proc.poll() is not None
    return info is not None and info.si_pid == proc.pid


class Runner(object):
    """Run every (mode, repeat) job; ``run`` returns the finished jobs.

    ``child_cmd`` is the command that starts a child and ``child_env(mode)`` its
    environment (tests use a stand-in speaking the same pipe protocol); ``done``
    are jobs finished earlier (from a journal), returned as they are and not run
    again.
    """

    def __init__(self, names, timeouts, modes, repeats, jobs, log_path,
                 scenario_paths=(), default_timeout=DEFAULT_TIMEOUT,
                 startup_timeout=None, memory_limit=None, child_cmd=None, done=(),
                 watch_parent=True, child_env=None, start="fork"):
        self.names = list(names)
        self.timeouts = timeouts
        self.modes = list(modes)
        self.repeats = repeats
        self.parallel = max(1, jobs)
        self.log_path = log_path
        self.scenario_paths = list(scenario_paths)
        self.default_timeout = default_timeout
        self.startup_timeout = (startup_timeout if startup_timeout is not None
                                else max(STARTUP_TIMEOUT, default_timeout))
        self.memory_limit = memory_limit
        self.child_cmd = list(child_cmd or [sys.executable, "-m", "harness.cell.child"])
        self.child_env = child_env
        self.done = dict((job.key, job) for job in done)
        self.parent = os.getppid() if watch_parent else None
        self.selector = selectors.DefaultSelector()
        self.active = []
        # "fork": children forked from per-repeat zygotes (see zygote.py); "spawn":
        # a new interpreter per child. Stand-in children (tests) always spawn.
        self.start = start if child_cmd is None else "spawn"
        self.zygotes = {}

    # -- child processes -------------------------------------------------
    def _env(self, mode):
        if self.child_env is None:
            from . import seeding  # imports torch: only where a real child is started
            self.child_env = seeding.child_env
        env = self.child_env(mode)
        env["OMP_NUM_THREADS"] = "1"
        env["MKL_NUM_THREADS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    @staticmethod
    def _zygote_key(mode, repeat):
        # Hash seeds are fixed at interpreter start: ``full`` sets PYTHONHASHSEED, so
        # its repeats may share a zygote; other modes get one zygote per repeat.
        return ("full", 0) if mode == "full" else ("repeat", repeat)

    def _start_zygote(self, mode, repeat):
        key = self._zygote_key(mode, repeat)
        if key not in self.zygotes:
            log = "%s.zygote-%s%d.part" % (self.log_path, key[0], key[1])
            cmd = self.child_cmd
            for path in self.scenario_paths:
                cmd = cmd + ["--scenarios-path", path]
            self.zygotes[key] = zygote.Zygote(cmd, self._env(mode), log, os.getpid())
        return self.zygotes[key]

    def _fork(self, job, write_fd, log_fd):
        """Fork the job's child from its zygote; None when the zygote cannot start."""
        z = self._start_zygote(job.mode, job.repeat)
        try:
            z.wait_ready(self.startup_timeout)
            argv = ["--mode", job.mode, "--parent", str(os.getpid())]
            if self.memory_limit:
                argv += ["--memory-limit", str(self.memory_limit)]
            for name in job.pending:
                argv += ["--scenario", name]
            return zygote.Adopted(z.fork(argv, [write_fd, log_fd]))
        except (zygote.ZygoteFailed, OSError) as exc:
            text = self._merge_zygote(z)
            where = stack_summary(text)
            detail = "%s before running any scenario%s: %s" % (
                exc, " at " + where if where else "", log_tail_text(text))
            status = "timeout" if "hung" in str(exc) else "error"
            for name in list(job.pending):
                self._record(job, name, status, detail)
            return None

    def _merge_zygote(self, z):
        z.close()
        self.zygotes = dict((k, v) for k, v in self.zygotes.items() if v is not z)
        return self._append_log(z.log_path)

    def _spawn(self, job):
        if self.start == "fork":
            return self._spawn_forked(job)
        read_fd, write_fd = os.pipe()
        cmd = self.child_cmd + ["--fd", str(write_fd), "--mode", job.mode,
                                "--parent", str(os.getpid())]
        if self.memory_limit:
            cmd += ["--memory-limit", str(self.memory_limit)]
        for name in job.pending:
            cmd += ["--scenario", name]
        for path in self.scenario_paths:
            cmd += ["--scenarios-path", path]
        env = self._env(job.mode)
        log = self._open_log(job)
        try:
            job.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, pass_fds=(write_fd,), start_new_session=True)
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
            log.close()
        self._watch(job, read_fd)

    def _open_log(self, job):
        job.spawns += 1
        job.log = "%s.%s-r%d-%d.part" % (self.log_path, job.mode, job.repeat, job.spawns)
        log = open(job.log, "wb")
        log.write(("=== child mode=%s repeat=%d scenarios=%d (%s) ===\n"
                   % (job.mode, job.repeat, len(job.pending), job.pending[0])).encode())
        log.flush()
        return log

    def _spawn_forked(self, job):
        read_fd, write_fd = os.pipe()
        log = self._open_log(job)
        try:
            proc = self._fork(job, write_fd, log.fileno())
        finally:
            os.close(write_fd)
            log.close()
        if proc is None:
            os.close(read_fd)
            self._merge_log(job)
            return
        job.proc = proc
        self._watch(job, read_fd)

    def _watch(self, job, read_fd):
        os.set_blocking(read_fd, False)
        job.fd = read_fd
        job.eof = False
        job.spawned_at = time.time()
        job.buffer = b""
        job.current = None
        job.started_any = False
        job.done = False
        job.done_at = None
        self.selector.register(read_fd, selectors.EVENT_READ, job)

    def _merge_log(self, job):
        """Append the child's own log to the cell log; returns the child's log text."""
        if not job.log:
            return ""
        text = self._append_log(job.log)
        job.log = None
        return text

    def _append_log(self, path):
        """Move a process's own log file onto the end of the cell log; returns its text."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except (IOError, OSError):
            data = b""
        with open(self.log_path, "ab") as cell_log:
            cell_log.write(b"\n" + data)
        try:
            os.unlink(path)
        except OSError:
            pass
        return data.decode("utf-8", "replace")

    def _finish_child(self, job):
        """The child is gone or must go: read what is left, kill its group, reap it.

        Returns (exit code, the child's log text).
        """
        self._read(job)
        _kill_group(job.proc.pid)  # workers that outlived their parent go too
        code = job.proc.wait()
        if not job.eof:
            self.selector.unregister(job.fd)
        os.close(job.fd)
        job.fd = None
        return code, self._merge_log(job)

    def _record(self, job, name, status, detail, rows=()):
        job.results.append((name, status, _clip(detail), list(rows)))
        if name in job.pending:
            job.pending.remove(name)

    def _handle(self, job, message):
        event = message.get("event")
        if event == "start" and message.get("scenario") in job.pending:
            job.current = message["scenario"]
            job.started_at = time.time()
            job.started_any = True
        elif event == "result" and message.get("scenario") in job.pending:
            self._record(job, message["scenario"], message.get("status", "error"),
                         message.get("detail", ""),
                         [tuple(r) for r in message.get("rows", [])])
            job.current = None
        elif event == "done":
            job.done = True
            job.done_at = time.time()

    def _read(self, job):
        """Read whatever the child has sent; mark EOF when every writer is gone."""
        while not job.eof:
            try:
                chunk = os.read(job.fd, 65536)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                    break
                raise
            if not chunk:
                job.eof = True
                self.selector.unregister(job.fd)
                break
            job.buffer += chunk
        while b"\n" in job.buffer:
            line, job.buffer = job.buffer.split(b"\n", 1)
            try:
                message = json.loads(line.decode("utf-8"))
            except ValueError:
                message = None
            if isinstance(message, dict):
                self._handle(job, message)
            else:  # cannot come from our child; keep it visible, never act on it
                with open(self.log_path, "ab") as log:
                    log.write(b"[runner] ignored a malformed results line: " + line[:200] + b"\n")

    def _after_exit(self, job, code, text):
        """The child is gone: decide what its pending scenarios become."""
        if not job.pending:
            return
        where, tail = stack_summary(text), log_tail_text(text)
        said = "; at " + where if where else "; log: " + tail if tail else ""
        if job.current is not None:
            self._record(job, job.current, "error", "child process %s while running this "
                         "scenario%s" % (describe_exit(code), said))
            job.current = None
        elif not job.started_any or job.done:
            # Broken before its first scenario (or it skipped some): another child
            # would fail the same way, so the rest of this job ends here.
            detail = "child process %s before running %s%s" % (
                describe_exit(code), "any scenario" if not job.started_any else "it", said)
            for name in list(job.pending):
                self._record(job, name, "error", detail)
        if job.pending:
            self._spawn(job)

    def _kill_for_timeout(self, job):
        """Ask the child for its stack (SIGUSR1 -> faulthandler), then kill its group."""
        try:
            job.proc.send_signal(signal.SIGUSR1)
        except OSError:
            pass
        deadline = time.time() + DUMP_GRACE
        while time.time() < deadline and not _has_exited(job.proc):
            time.sleep(0.05)
        return self._finish_child(job)

    def _supervise(self, job, now):
        """One look at a live job: exited, finished, or past a time limit."""
        if job.fd is None:  # never started (its zygote failed): already recorded
            return
        if _has_exited(job.proc) or (job.done and (job.eof or now - job.done_at > EXIT_GRACE)):
            code, text = self._finish_child(job)
            self._after_exit(job, code, text)
            return
        if job.current is None:
            if not job.started_any and now - job.spawned_at > self.startup_timeout:
                # Hung in its imports: nothing of this job can run.
                code, text = self._kill_for_timeout(job)
                where = stack_summary(text)
                detail = "child process hung for %gs before running any scenario%s: %s" % (
                    self.startup_timeout, " at " + where if where else "", log_tail_text(text))
                for name in list(job.pending):
                    self._record(job, name, "timeout", detail)
            return
        limit = self.timeouts.get(job.current) or self.default_timeout
        if now - job.started_at <= limit:
            return
        name = job.current
        code, text = self._kill_for_timeout(job)
        if name in job.pending:  # its result may have arrived meanwhile
            where = stack_summary(text)
            self._record(job, name, "timeout", "no result after %gs; process group killed%s"
                         % (limit, "; was at " + where if where else ""))
        job.current = None
        if job.pending:
            self._spawn(job)

    def stop_all(self):
        """Kill every live child group and keep their logs (interrupts end here)."""
        for job in self.active:
            if job.fd is not None:
                try:
                    self._finish_child(job)
                except OSError:
                    pass
        self.active = []
        self.close_zygotes()

    def close_zygotes(self):
        for z in list(self.zygotes.values()):
            self._merge_zygote(z)

    def _reap_strays(self):
        """Reap orphans (e.g. DataLoader workers) adopted by this subreaper."""
        known = set(job.proc.pid for job in self.active if job.proc is not None)
        known.update(z.proc.pid for z in self.zygotes.values())
        for _ in range(16):
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except (ChildProcessError, OSError, AttributeError):
                return
            if info is None or info.si_pid in known or info.si_pid == 0:
                return
            try:
                os.waitpid(info.si_pid, 0)
            except ChildProcessError:
                return

    def _check_parent(self):
        if self.parent is not None and os.getppid() != self.parent:
            raise Interrupted("the process that started this runner (pid %d) is gone"
                              % self.parent)

    # -- main loop -------------------------------------------------------
    def run(self, progress=None):
        queue = []
        finished = []
        for mode in self.modes:
            for repeat in range(1, self.repeats + 1):
                if (mode, repeat) in self.done:
                    finished.append(self.done[(mode, repeat)])
                else:
                    queue.append(Job(mode, repeat, self.names))
        if self.start == "fork" and not zygote.become_subreaper():
            self.start = "spawn"
        try:
            if self.start == "fork":  # import in every zygote at once
                for job in queue:
                    self._start_zygote(job.mode, job.repeat)
            while queue or self.active:
                while queue and len(self.active) < self.parallel:
                    job = queue.pop(0)
                    self._spawn(job)
                    self.active.append(job)
                for key, _ in self.selector.select(timeout=POLL_INTERVAL):
                    self._read(key.data)
                now = time.time()
                for job in list(self.active):
                    self._supervise(job, now)
                    if job.fd is None:
                        self.active.remove(job)
                        finished.append(job)
                        if progress:
                            progress(job)
                if self.start == "fork":
                    self._reap_strays()
                self._check_parent()
        except BaseException:
            self.stop_all()
            raise
        self.close_zygotes()
        return finished


def log_tail_text(text, lines=3):
    """The last non-empty lines of a child's log, minus our own header line."""
    kept = [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith("=== child ")]
    return " | ".join(kept[-lines:])


# -- journal: finished jobs survive an interrupt -----------------------------------
class Journal(object):
    """Finished jobs of one cell, one JSON line each, so an interrupted cell resumes mid-way.

    The first line is a header (cell, run, versions, scenario names); a journal
    whose header differs from the current run's is ignored. A torn last line
    (the runner killed while appending) is ignored too. The journal is deleted
    once the cell CSV is written.
    """

    def __init__(self, path, header):
        self.path = path
        self.header = header

    def load(self):
        """Jobs finished by an earlier, interrupted run of the same cell; [] when none."""
        try:
            with open(self.path, "rb") as handle:
                lines = handle.read().split(b"\n")
        except (IOError, OSError):
            return []
        records = []
        for line in lines:
            try:
                records.append(json.loads(line.decode("utf-8")))
            except ValueError:
                continue
        if not records or records[0] != {"header": self.header}:
            return []
        jobs = {}
        for record in records[1:]:
            try:
                job = Job(record["mode"], int(record["repeat"]), [])
                job.results = [(name, status, detail, [tuple(r) for r in rows])
                               for name, status, detail, rows in record["results"]]
            except (KeyError, TypeError, ValueError):
                continue
            if sorted(r[0] for r in job.results) == sorted(self.header["names"]):
                jobs[job.key] = job
        return [jobs[key] for key in sorted(jobs)]

    def start(self, jobs=()):
        """Begin the journal afresh, keeping ``jobs`` (those loaded for a resume)."""
        text = json.dumps({"header": self.header}, sort_keys=True) + "\n"
        text += "".join(self._line(job) for job in jobs)
        schema.write_atomic(self.path, text)

    def append(self, job):
        with open(self.path, "a") as handle:
            handle.write(self._line(job))
            handle.flush()
            os.fsync(handle.fileno())

    def remove(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass

    @staticmethod
    def _line(job):
        return json.dumps({"mode": job.mode, "repeat": job.repeat,
                           "results": [list(r) for r in job.results]}, sort_keys=True) + "\n"


def build_rows(jobs, names, modes, meta):
    """Flatten job results into schema rows in a fixed order."""
    order = dict((name, i) for i, name in enumerate(names))
    mode_order = dict((mode, i) for i, mode in enumerate(modes))
    rows = []
    for job in sorted(jobs, key=lambda j: (mode_order[j.mode], j.repeat)):
        for name, status, detail, metric_rows in sorted(job.results, key=lambda r: order[r[0]]):
            base = dict(meta)
            base.update(scenario=name, seeding=job.mode, repeat=str(job.repeat))
            status_row = dict(base, metric=schema.STATUS_METRIC, kind="text",
                              value=status, status=status, detail=detail)
            rows.append(status_row)
            for metric, kind, value in metric_rows:
                rows.append(dict(base, metric=metric, kind=kind, value=value,
                                 status="ok", detail=""))
    return rows

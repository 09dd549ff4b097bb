"""The cell runner: fan (seeding mode, repeat) jobs out to fresh child processes.

Each job is one child process that imports torch once and runs the selected
scenarios in order. The runner watches every child through its results pipe:

* a scenario that runs past its timeout gets ``status=timeout``; the child and
  its DataLoader workers (same process group) are killed and a new child picks
  up the next scenario;
* a child that dies (segfault, os._exit, OOM kill) gives the running scenario
  ``status=error`` with the exit signal or code, and a new child goes on;
* a child that dies before starting any scenario (broken import) marks every
  remaining scenario of that job ``error`` with the tail of its log.

Rows are sorted into a fixed order before the cell CSV is written atomically, so
the file does not depend on scheduling.
"""
import os
import selectors
import signal
import subprocess
import sys
import time

from . import schema, seeding

DEFAULT_TIMEOUT = 120.0
LOG_TAIL_LINES = 5


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


def log_tail(path, lines=LOG_TAIL_LINES):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])


class Job(object):
    """One (seeding mode, repeat): the scenarios still to run and the live child."""

    def __init__(self, mode, repeat, names):
        self.mode = mode
        self.repeat = repeat
        self.pending = list(names)
        self.results = []  # (scenario, status, detail, rows)
        self.proc = None
        self.fd = None
        self.buffer = b""
        self.current = None
        self.started_at = None
        self.started_any = False
        self.spawned_at = None
        self.done = False


class Runner(object):
    def __init__(self, names, timeouts, modes, repeats, jobs, log_path,
                 scenario_paths=(), default_timeout=DEFAULT_TIMEOUT):
        self.names = list(names)
        self.timeouts = timeouts
        self.modes = list(modes)
        self.repeats = repeats
        self.parallel = max(1, jobs)
        self.log_path = log_path
        self.scenario_paths = list(scenario_paths)
        self.default_timeout = default_timeout
        self.selector = selectors.DefaultSelector()

    # -- child processes -------------------------------------------------
    def _spawn(self, job):
        read_fd, write_fd = os.pipe()
        cmd = [sys.executable, "-m", "harness.cell.child", "--fd", str(write_fd),
               "--mode", job.mode]
        for name in job.pending:
            cmd += ["--scenario", name]
        for path in self.scenario_paths:
            cmd += ["--scenarios-path", path]
        env = seeding.child_env(job.mode)
        env["OMP_NUM_THREADS"] = "1"
        env["MKL_NUM_THREADS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        log = open(self.log_path, "ab")
        log.write(("\n=== child mode=%s repeat=%d scenarios=%d ===\n"
                   % (job.mode, job.repeat, len(job.pending))).encode())
        log.flush()
        try:
            job.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, pass_fds=(write_fd,), start_new_session=True)
        finally:
            os.close(write_fd)
            log.close()
        job.fd = read_fd
        job.spawned_at = time.time()
        job.buffer = b""
        job.current = None
        job.started_any = False
        self.selector.register(read_fd, selectors.EVENT_READ, job)

    def _close(self, job, kill):
        if kill and job.proc.poll() is None:
            try:
                os.killpg(job.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        code = job.proc.wait()
        if kill:
            # Workers may outlive a child that exited on its own; end the group.
            try:
                os.killpg(job.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        self.selector.unregister(job.fd)
        os.close(job.fd)
        job.fd = None
        return code

    def _record(self, job, name, status, detail, rows=()):
        job.results.append((name, status, detail, list(rows)))
        if name in job.pending:
            job.pending.remove(name)

    def _handle(self, job, message):
        event = message.get("event")
        if event == "start":
            job.current = message["scenario"]
            job.started_at = time.time()
            job.started_any = True
        elif event == "result":
            self._record(job, message["scenario"], message["status"],
                         message.get("detail", ""), [tuple(r) for r in message["rows"]])
            job.current = None
        elif event == "done":
            job.done = True

    def _read(self, job):
        chunk = os.read(job.fd, 65536)
        if not chunk:
            return False
        job.buffer += chunk
        import json
        while b"\n" in job.buffer:
            line, job.buffer = job.buffer.split(b"\n", 1)
            self._handle(job, json.loads(line.decode("utf-8")))
        return True

    def _after_exit(self, job, code):
        """The child is gone: decide what its pending scenarios become."""
        if job.done and not job.pending:
            return
        if job.current is not None:
            self._record(job, job.current, "error",
                         "child process %s while running this scenario" % describe_exit(code))
        elif not job.started_any:
            detail = "child process %s before running any scenario: %s" % (
                describe_exit(code), log_tail(self.log_path))
            for name in list(job.pending):
                self._record(job, name, "error", detail)
        if job.pending:
            self._spawn(job)

    def _check_timeout(self, job, now):
        if job.current is None:
            if not job.started_any and now - job.spawned_at > self.default_timeout:
                # Hung in its imports: nothing of this job can run.
                self._close(job, kill=True)
                detail = "child process hung for %gs before running any scenario: %s" % (
                    self.default_timeout, log_tail(self.log_path))
                for name in list(job.pending):
                    self._record(job, name, "timeout", detail)
            return
        limit = self.timeouts.get(job.current) or self.default_timeout
        if now - job.started_at <= limit:
            return
        name = job.current
        self._close(job, kill=True)
        self._record(job, name, "timeout", "no result after %gs; process group killed" % limit)
        job.current = None
        if job.pending:
            self._spawn(job)

    # -- main loop -------------------------------------------------------
    def run(self, progress=None):
        queue = [Job(mode, repeat, self.names)
                 for mode in self.modes for repeat in range(1, self.repeats + 1)]
        finished = []
        active = []
        while queue or active:
            while queue and len(active) < self.parallel:
                job = queue.pop(0)
                if job.pending:
                    self._spawn(job)
                    active.append(job)
                else:
                    finished.append(job)
            for key, _ in self.selector.select(timeout=0.5):
                job = key.data
                if not self._read(job):
                    code = self._close(job, kill=False)
                    self._after_exit(job, code)
            now = time.time()
            for job in list(active):
                if job.fd is not None:
                    self._check_timeout(job, now)
                if job.fd is None:
                    active.remove(job)
                    finished.append(job)
                    if progress:
                        progress(job)
        return finished


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

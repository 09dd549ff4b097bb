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

How a child starts is the launcher's business (``launcher.py``); finished jobs
can be journalled (``journal.py``) so an interrupted cell resumes mid-way.
"""
import errno
import os
import selectors
import signal
import time
from collections import namedtuple

from . import protocol, zygote
from .launcher import LaunchFailed
from .options import DEFAULT_TIMEOUT
from .processes import (children, clip, describe_exit, has_exited, kill_group, kill_strays,
                        log_tail_text, since_marker, stack_summary)
from .schema import ERROR, TIMEOUT

# Importing torch 2.x from a cold disk cache on a busy runner takes tens of
# seconds; a child that has not started its first scenario by then is hung.
STARTUP_TIMEOUT = 180.0
# After a child reports it is done it gets this long to exit before its group is killed.
EXIT_GRACE = 10.0
# How long a timed-out child gets to dump its Python stack before SIGKILL.
DUMP_GRACE = 1.0
POLL_INTERVAL = 0.25

# What to run: scenario names in order, seeding modes, repeats per mode, and the
# scenarios that set their own timeout ({name: seconds}).
Plan = namedtuple("Plan", "names modes repeats timeouts")


class Interrupted(Exception):
    """The run was stopped from outside (SIGTERM, the parent process gone)."""


class Child(object):
    """The live child process of a job and what it has said so far."""

    def __init__(self, proc, fd):
        self.proc = proc
        self.fd = fd
        self.eof = False
        self.buffer = b""
        self.current = None        # the scenario it is running
        self.current_since = None
        self.started_any = False
        self.spawned_at = time.time()
        self.done_at = None        # when it said "done"


class Job(object):
    """One (seeding mode, repeat): the scenarios still to run, the results so far,
    and the live child (None between children)."""

    def __init__(self, mode, repeat, names):
        self.mode = mode
        self.repeat = repeat
        self.pending = list(names)
        self.results = []  # protocol.Result
        self.child = None
        self.spawns = 0
        self.log = None    # the live child's own log file
        self.log_dropped = 0

    @property
    def key(self):
        return (self.mode, self.repeat)

    def record(self, name, status, detail, rows=()):
        self.results.append(protocol.Result(name, status, clip(detail), list(rows)))
        if name in self.pending:
            self.pending.remove(name)

    def fail_pending(self, status, detail):
        for name in list(self.pending):
            self.record(name, status, detail)


class Runner(object):
    """Run every (mode, repeat) job of ``plan``; ``run`` returns the finished jobs.

    ``done`` are jobs finished earlier (from a journal), returned as they are and
    not run again.
    """

    def __init__(self, plan, launcher, parallel=2, default_timeout=DEFAULT_TIMEOUT,
                 startup_timeout=None, done=(), watch_parent=True, blamed=None):
        self.plan = plan
        self.launcher = launcher
        self.parallel = max(1, parallel)
        self.default_timeout = default_timeout
        self.startup_timeout = (startup_timeout if startup_timeout is not None
                                else max(STARTUP_TIMEOUT, default_timeout))
        launcher.startup_timeout = self.startup_timeout
        self.done = dict((job.key, job) for job in done)
        # {(mode, repeat): {scenario: detail}}: error rows recorded, not run (keeper.py)
        self.blamed = blamed or {}
        self.parent = os.getppid() if watch_parent else None
        self.selector = selectors.DefaultSelector()
        self.active = []
        self.preexisting = set()  # children this process had before the run: not ours

    # -- starting and ending children -------------------------------------------------
    def _launch(self, job):
        try:
            proc, read_fd = self.launcher.start(job)
        except LaunchFailed as exc:
            self.launcher.merge_log(job)
            job.fail_pending(exc.status, exc.detail)
            return
        os.set_blocking(read_fd, False)
        job.child = Child(proc, read_fd)
        self.selector.register(read_fd, selectors.EVENT_READ, job)

    def _finish_child(self, job):
        """The child is gone or must go: read what is left, kill its group, reap it.

        Returns (exit code, the child's log text).
        """
        child = job.child
        self._read(job)
        kill_group(child.proc.pid)  # workers that outlived their parent go too
        code = child.proc.wait()
        if not child.eof:
            self.selector.unregister(child.fd)
        os.close(child.fd)
        job.child = None
        return code, self.launcher.merge_log(job)

    def _kill_for_timeout(self, job):
        """Ask the child for its stack (SIGUSR1 -> faulthandler), then kill its group."""
        proc = job.child.proc
        try:
            proc.send_signal(signal.SIGUSR1)
        except OSError:
            pass
        deadline = time.time() + DUMP_GRACE
        while time.time() < deadline and not has_exited(proc):
            time.sleep(0.05)
        return self._finish_child(job)

    # -- what children say ----------------------------------------------------------
    def _handle(self, job, message):
        child, event = job.child, message.get("event")
        if event == "start" and message.get("scenario") in job.pending:
            child.current = message["scenario"]
            child.current_since = time.time()
            child.started_any = True
        elif event == "result" and message.get("scenario") in job.pending:
            result = protocol.result_of(message)
            job.record(result.scenario, result.status, result.detail, result.rows)
            child.current = None
        elif event == "done":
            child.done_at = time.time()

    def _read(self, job):
        """Read whatever the child has sent; mark EOF when every writer is gone."""
        child = job.child
        while not child.eof:
            try:
                chunk = os.read(child.fd, 65536)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                    break
                raise
            if not chunk:
                child.eof = True
                self.selector.unregister(child.fd)
                break
            child.buffer += chunk
        messages, malformed, child.buffer = protocol.split_lines(child.buffer)
        for message in messages:
            self._handle(job, message)
        for line in malformed:  # cannot come from our child; keep it visible, never act on it
            self.launcher.note(b"[runner] ignored a malformed results line: " + line[:200] + b"\n")

    # -- deciding -------------------------------------------------------------------
    def _after_exit(self, job, code, text, current, started_any, said_done):
        """The child is gone: decide what its pending scenarios become."""
        if not job.pending:
            return
        if current is not None:  # only what this scenario printed, not earlier ones
            text = since_marker(text, current)
        where, tail = stack_summary(text), log_tail_text(text)
        said = "; at " + where if where else "; log: " + tail if tail else ""
        if current is not None:
            job.record(current, ERROR, "child process %s while running this scenario%s"
                       % (describe_exit(code), said))
        elif not started_any or said_done:
            # Broken before its first scenario (or it skipped some): another child
            # would fail the same way, so the rest of this job ends here.
            job.fail_pending(ERROR, "child process %s before running %s%s" % (
                describe_exit(code), "any scenario" if not started_any else "it", said))
        if job.pending:
            self._launch(job)

    def _supervise(self, job, now):
        """One look at a live job: exited, finished, or past a time limit."""
        child = job.child
        if child is None:  # never started (its zygote failed): already recorded
            return
        if has_exited(child.proc):
            # What it sent before it exited is read first: a result (and the next
            # start) still in the pipe decides which scenario its exit belongs to.
            self._read(job)
        said_done = child.done_at is not None
        if has_exited(child.proc) or (said_done and (child.eof or now - child.done_at > EXIT_GRACE)):
            current, started_any = child.current, child.started_any
            code, text = self._finish_child(job)
            self._after_exit(job, code, text, current, started_any, said_done)
            return
        if child.current is None:
            if not child.started_any and now - child.spawned_at > self.startup_timeout:
                # Hung in its imports: nothing of this job can run.
                code, text = self._kill_for_timeout(job)
                where = stack_summary(text)
                job.fail_pending(TIMEOUT, "child process hung for %gs before running any "
                                 "scenario%s: %s" % (self.startup_timeout,
                                                     " at " + where if where else "",
                                                     log_tail_text(text)))
            return
        limit = self.plan.timeouts.get(child.current) or self.default_timeout
        if now - child.current_since <= limit:
            return
        name = child.current
        code, text = self._kill_for_timeout(job)
        if name in job.pending:  # its result may have arrived meanwhile
            where = stack_summary(text)
            job.record(name, TIMEOUT, "no result after %gs; process group killed%s"
                       % (limit, "; was at " + where if where else ""))
        if job.pending:
            self._launch(job)

    def stop_all(self):
        """Kill every live child group and keep their logs (interrupts end here)."""
        for job in self.active:
            if job.child is not None:
                try:
                    self._finish_child(job)
                except OSError:
                    pass
        self.active = []
        self.launcher.close_zygotes()
        kill_strays(self.preexisting)

    def _reap_strays(self):
        """Reap orphans (e.g. DataLoader workers) adopted by this subreaper."""
        known = set(job.child.proc.pid for job in self.active if job.child is not None)
        known.update(self.launcher.zygote_pids())
        known.update(self.preexisting)
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

    # -- main loop -------------------------------------------------------------------
    def run(self, progress=None):
        queue = []
        finished = []
        for mode in self.plan.modes:
            for repeat in range(1, self.plan.repeats + 1):
                if (mode, repeat) in self.done:
                    finished.append(self.done[(mode, repeat)])
                    continue
                job = Job(mode, repeat, self.plan.names)
                for name, detail in sorted(self.blamed.get((mode, repeat), {}).items()):
                    if name in job.pending:
                        job.record(name, ERROR, detail)
                (queue if job.pending else finished).append(job)
        # As a subreaper the runner adopts what its children leave behind (forked
        # children, orphaned workers, setsid daemons) and can kill it at the end.
        self.preexisting = children()
        forking = self.launcher.use_fork(zygote.become_subreaper())
        try:
            if forking:  # import in every zygote at once
                for job in queue:
                    self.launcher.prepare(job.mode, job.repeat)
            while queue or self.active:
                while queue and len(self.active) < self.parallel:
                    job = queue.pop(0)
                    self._launch(job)
                    self.active.append(job)
                for key, _ in self.selector.select(timeout=POLL_INTERVAL):
                    self._read(key.data)
                now = time.time()
                for job in list(self.active):
                    self.launcher.cap_log(job)
                    self._supervise(job, now)
                    if job.child is None:
                        self.active.remove(job)
                        finished.append(job)
                        if progress:
                            progress(job)
                self._reap_strays()
                self._check_parent()
        except BaseException:
            self.stop_all()
            raise
        self.launcher.close_zygotes()
        kill_strays(self.preexisting)  # nothing a scenario started outlives its cell
        return finished

"""Fork server: pay for ``import torch, torchvision`` once per zygote, not per child.

Importing torch 2.x with torchvision (which pulls in ``torch._dynamo``) takes
several seconds of CPU; a cell starts ten children (five seeding modes, two
repeats). A zygote imports everything once and forks a child per request. Each
forked child is still a fresh program for our purposes:

* it draws new OS entropy for Python's ``random``, NumPy and torch
  (``worker.fresh_entropy``), as a new interpreter does;
* string hashing is fixed when an interpreter starts, so the runner keeps one
  zygote per (repeat, hash-seed setting): repeats never share a hash seed unless
  ``full`` fixes it with PYTHONHASHSEED, exactly as with separate interpreters;
* CUDA is never initialised in the zygote (only the child asks for it), so a
  forked child starts CUDA from scratch.

The child is double-forked so that it is re-parented to the runner, which makes
itself a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``): the runner then
waits for, signals and kills it exactly like a child it started itself. The
runner hands the child its results pipe and log file over the control socket
(``SCM_RIGHTS``). Where any of this is unavailable the runner starts plain
subprocesses (``--start spawn``).
"""
import os
import signal
import socket
import subprocess
import sys
import time

from . import protocol, worker

_PR_SET_CHILD_SUBREAPER = 36


# -- runner side -------------------------------------------------------------------
def become_subreaper():
    """Adopt orphaned descendants (Linux). False where the kernel or libc says no."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _returncode(status):
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Adopted(object):
    """A forked child re-parented to the runner, with the Popen calls the runner uses."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid:
                self.returncode = _returncode(status)
        return self.returncode

    def wait(self):
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = _returncode(status)
            except ChildProcessError:
                self.returncode = -signal.SIGKILL
        return self.returncode

    def send_signal(self, sig):
        if self.returncode is None:
            os.kill(self.pid, sig)


class ZygoteFailed(Exception):
    pass


class Zygote(object):
    """A zygote process as seen from the runner."""

    def __init__(self, cmd, env, log_path, parent):
        self.log_path = log_path
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock = ours
        log = open(log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                cmd + protocol.zygote_argv(theirs.fileno(), parent),
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env,
                pass_fds=(theirs.fileno(),), start_new_session=True)
        finally:
            theirs.close()
            log.close()
        self.started = time.time()
        self.ready = False

    def wait_ready(self, timeout):
        if self.ready:
            return
        message, _ = protocol.recv_message(self.sock, max(0.0, timeout - (time.time() - self.started)))
        if not message or message.get("event") != "ready":
            hung = self.proc.poll() is None
            self.close()
            raise ZygoteFailed("zygote %s" % ("hung for %gs while importing" % timeout if hung
                                              else "exited with code %s while importing"
                                              % self.proc.returncode))
        self.ready = True

    def fork(self, argv, fds, timeout=30.0):
        """Start a child running ``worker.serve`` with ``argv``; returns its pid (now our child)."""
        protocol.send_message(self.sock, {"cmd": "fork", "argv": argv}, fds)
        message, _ = protocol.recv_message(self.sock, timeout)
        if not message or "pid" not in message:
            self.close()
            raise ZygoteFailed("zygote did not answer a fork request")
        return int(message["pid"])

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait()


# -- zygote side --------------------------------------------------------------------
def serve_forks(control_fd, runner_pid, builtin_paths, user_paths, usercode=None):
    """The zygote's life: import everything, then fork children on request."""
    sock = socket.socket(fileno=control_fd)
    worker.guard_zygote(runner_pid)
    worker.load(builtin_paths, user_paths, usercode)
    sys.stdout.flush()
    sys.stderr.flush()
    protocol.send_message(sock, {"event": "ready"})
    while True:
        message, fds = protocol.recv_message(sock)
        if message is None:  # the runner closed the socket: done
            return 0
        report_r, report_w = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(report_r)
            grandchild = os.fork()
            if grandchild:
                os.write(report_w, str(grandchild).encode())
                os._exit(0)
            # The child proper: re-parented to the runner once ``middle`` exits.
            os.close(report_w)
            sock.close()
            code = 1
            try:
                code = _run_child(message["argv"], fds, runner_pid)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(report_w)
        for fd in fds:
            os.close(fd)
        pid = int(os.read(report_r, 64) or b"0")
        os.close(report_r)
        os.waitpid(middle, 0)
        protocol.send_message(sock, {"pid": pid})


def _run_child(argv, fds, runner_pid):
    results_fd, log_fd = fds
    os.setsid()
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    deadline = time.time() + 5.0
    while os.getppid() != runner_pid and time.time() < deadline:
        time.sleep(0.001)  # wait until re-parented, so dying with the runner works
    args = protocol.parse_child_args(argv + ["--fd", str(results_fd)])
    worker.guard_process(args.fd, args.parent, args.memory_limit)
    worker.fresh_entropy()
    return worker.serve(args.fd, args.mode, args.scenario, args.inflight)

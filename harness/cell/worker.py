"""The work of one child process: load the scenarios, run them one by one, report.

    guard_process(...)   what the runner relies on, set before torch is imported
    load(builtin, user)  import torch, torchvision and every scenario module
    serve(fd, mode, names)   run the scenarios under one seeding mode, stream results

Used by a spawned child (``child.py``) and by a zygote's forked children
(``zygote.py``) alike.
"""
import faulthandler
import math
import os
import signal
import sys
import time

from . import protocol
from .processes import MARKER
from .safetext import visible
from .schema import (CODE_METRIC, COUNT, ERROR, FINGERPRINT, GOAL_PREFIX, NA, NUMBER, OK, TEXT,
                     TIMING, TIMING_METRIC, name_problem)


# RNGDRIFT_ATTRIBUTION=off runs scenarios without counting anything: what the
# benchmark compares with to measure what attribution costs (benchmarks/costs.py).
ATTRIBUTION = os.environ.get("RNGDRIFT_ATTRIBUTION", "on") != "off"


def _one_line(text, limit=500):
    """One line of at most ``limit`` characters, every one of them printable (a lone
    surrogate or an escape sequence in a message is written as its escape)."""
    text = " | ".join(part.strip() for part in str(text).splitlines() if part.strip())
    text = visible(text if len(text) <= 4 * limit else text[:4 * limit])
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_exception(exc):
    """'ValueError: message (at file.py:12 in func)' for the innermost frame."""
    from .loader import where_raised
    return _one_line("%s: %s%s" % (type(exc).__name__, exc, where_raised(exc)))


def encode_metrics(metrics):
    """[(metric, kind, value-as-text)] from a scenario's returned mapping."""
    from .fingerprint import Fingerprint
    import numpy as np
    import torch

    if not isinstance(metrics, dict):
        raise TypeError("scenario must return a dict of metrics, got %s" % type(metrics).__name__)
    out = []
    for name, value in metrics.items():
        problem = name_problem(name, "metric")
        if problem:
            raise ValueError(visible(problem))
        name = visible(name)  # a lone surrogate (a file name's) is kept as its escape
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, Fingerprint):
            out.append((name, FINGERPRINT, str(value)))
        elif isinstance(value, bool):
            out.append((name, COUNT, str(int(value))))
        elif isinstance(value, int):
            out.append((name, COUNT, str(value)))
        elif isinstance(value, float):
            out.append((name, NUMBER, repr(value) if math.isfinite(value) else str(value)))
        elif isinstance(value, str):
            out.append((name, TEXT, _one_line(value)))
        else:
            raise TypeError("metric %r has unsupported type %s (use fingerprint())"
                            % (name, type(value).__name__))
    return out


def run_one(sc, ctx, installed, snap, process=None):
    """Run a scenario; return its Result. ``snap``: the generators' state a fresh
    program has; ``process``: the process-wide state to put back first (isolation)."""
    from . import codeid, isolation, rngstate, seeding
    from .attribution import Attribution
    from .registry import NotApplicable, ScenarioFailed

    if sc.invalid:
        return protocol.Result(sc.name, ERROR, sc.invalid, [])
    reason = sc.unmet(installed)
    if reason:
        return protocol.Result(sc.name, NA, reason, [])
    if process is not None:
        isolation.restore(process)
    rngstate.restore(snap)
    seeding.reseed(ctx.mode, ctx.seed)
    start = time.time()
    attribution = Attribution() if ATTRIBUTION else None
    try:
        if attribution is None:
            metrics = sc.func(ctx)
        else:
            with attribution:
                metrics = sc.func(ctx)
        rows = encode_metrics(metrics)
    except NotApplicable as exc:
        return protocol.Result(sc.name, NA, _one_line(str(exc)) or "not applicable", [])
    except ScenarioFailed as exc:
        return protocol.Result(sc.name, ERROR, _one_line(str(exc)) or "failed", [])
    except SystemExit as exc:  # a function is not a program: its exit is its failure
        from .loader import where_raised
        return protocol.Result(sc.name, ERROR, _one_line(
            "the scenario called sys.exit(%r)%s; a function run as a scenario (@scenario, "
            "--call) must return its result (a program that exits: --script)"
            % (exc.code, where_raised(exc))), [])
    except Exception as exc:  # the scenario's failure is a result, not ours
        return protocol.Result(sc.name, ERROR, describe_exception(exc), [])
    elapsed = time.time() - start
    rows += attribution.rows() if attribution is not None else []
    goals = dict(sc.goals)
    goals.update(getattr(metrics, "goals", None) or {})  # declared by the code (record, --goal)
    rows += [(GOAL_PREFIX + metric, TEXT, direction) for metric, direction in sorted(goals.items())]
    rows.append((TIMING_METRIC, TIMING, "%.4f" % elapsed))
    code = codeid.of_scenario(sc)
    if code:  # a user scenario: compare tells a change of its code from a drift
        rows.append((CODE_METRIC, TEXT, code))
    return protocol.Result(sc.name, OK, "", rows)


def _die_with_parent(parent):
    """Linux: SIGKILL this process when the runner dies, even by SIGKILL."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent and os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def guard_zygote(parent):
    """A zygote dies with the runner and prints its stack if it crashes."""
    faulthandler.enable()
    if sys.platform.startswith("linux"):
        _die_with_parent(parent)


def guard_process(fd, parent, memory_limit):
    """What the runner relies on, set before torch is imported.

    * faulthandler: a crash prints the Python stack to the log, and SIGUSR1 (sent
      by the runner before it kills a timed-out child) dumps where it hangs;
    * the results pipe is not inherited by programs a scenario starts (forked
      DataLoader workers still hold it; the runner copes);
    * the process dies with the runner;
    * RLIMIT_DATA caps private writable memory (heap and anonymous maps, not the
      address space that CUDA reserves), so a runaway allocation raises
      MemoryError or fails torch's allocator instead of exhausting the machine.
    """
    faulthandler.enable()
    if hasattr(faulthandler, "register"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    os.set_inheritable(fd, False)
    if sys.platform.startswith("linux"):
        _die_with_parent(parent)
    if memory_limit:
        import resource
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            memory_limit = min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (memory_limit, hard))


def load(builtin_paths, user_paths, usercode_path=None):
    # builtin_paths: the canonical scenario packages, by name (loader.load_builtin)
    """Import torch, torchvision and every scenario: the expensive part of a start."""
    import torch
    torch.set_num_threads(1)
    from . import attribution, loader, tracing, usercode

    loader.load_builtin(builtin_paths)
    loader.load_paths(user_paths)
    if usercode_path:
        usercode.register(usercode.load_spec(usercode_path))
    if ATTRIBUTION:
        tracing.install()
        attribution.install()


def _mark(inflight, name):
    """Say which scenario runs now where it survives this process and the runner: the
    log (for people and error rows) and the ``inflight`` file (``keeper.py``: a scenario
    that kills the runner is told from the one running alongside it)."""
    if name:
        for stream in (sys.stdout, sys.stderr):  # what the last scenario printed comes first
            try:
                stream.flush()
            except (IOError, OSError, ValueError, AttributeError):
                pass
        try:
            os.write(1, ("\n" + MARKER % name + "\n").encode("utf-8", "backslashreplace"))
        except OSError:
            pass
    if inflight:
        try:
            with open(inflight, "w") as handle:
                handle.write(name)
        except (IOError, OSError):
            pass


def _await_read(fd):
    """Wait until the runner has read all we sent. A runner that a scenario killed
    reads nothing more, so this child never marks the next scenario as running: the
    one that killed it stays named in the inflight file (PR_SET_PDEATHSIG ends us)."""
    try:
        import fcntl
        import struct
        import termios
    except ImportError:
        return
    pause = 0.0002
    while True:
        try:
            unread = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except (IOError, OSError):
            return
        if unread <= 0:
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def serve(fd, mode, names, inflight=None):
    """Run ``names`` under ``mode`` and stream their results to ``fd``."""
    from . import environment, isolation, registry, rngstate, seeding

    installed = environment.installed_versions()
    device = "cuda" if installed["cuda"] else "cpu"
    seeding.apply_process_flags(mode)
    # The state a fresh program sees after its imports; every scenario starts here.
    snap, process = rngstate.snapshot(), isolation.snapshot()
    ctx = seeding.Context(mode, device=device)
    for name in names:
        _mark(inflight, name)
        protocol.send(fd, protocol.started(name))
        result = run_one(registry.SCENARIOS[name], ctx, installed, snap, process)
        protocol.send(fd, protocol.finished(result))
        if inflight:
            _await_read(fd)
        _mark(inflight, "")
    protocol.send(fd, protocol.DONE)
    sys.stdout.flush()
    return 0


def fresh_entropy():
    """Draw new OS entropy for every generator, as a newly started interpreter does.

    A process forked from a zygote inherits the zygote's generator states; a fresh
    interpreter seeds Python's ``random``, NumPy's global state and torch's default
    generator from the OS (torch has done so since at least 1.5: its initial seed
    differs from run to run). CUDA generators start lazily in the child.
    """
    import random
    import numpy as np
    import torch
    random.seed()
    np.random.seed()
    torch.seed()

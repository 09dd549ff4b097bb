"""Process groups of two CPU ranks for the distributed scenarios (not a scenario module).

``run_ranks(ctx, target)`` starts WORLD rank processes the way ``torchrun``
starts them, joined by a ``gloo`` process group, and returns what
``target(ctx, rank, world)`` returned in each of them, in rank order.

* Rendezvous goes through a file store in a fresh temporary directory, never a
  network address, so no port is chosen; gloo itself is bound to the loopback
  interface (GLOO_SOCKET_IFNAME) and lets the kernel pick its ports.
* Ranks are forked (spawning would import torch again, ~10 s per rank on torch
  2.x). Each one then looks like a freshly started rank process: it draws new
  OS entropy for every generator, as a new interpreter does, and applies the
  seeding mode as a user's ``set_seed`` at the top of the script would, with
  the same seed in every rank or ``seed + rank`` (``seed_per_rank``).
* Results come back pickled over one pipe per rank. A rank that raises, dies
  or gives no result within ``deadline`` seconds makes ``run_ranks`` raise
  ``RankFailure`` naming the rank and why. Whatever happens, every rank (and
  any process it started) is gone and the directory removed when it returns.
"""
import datetime
import multiprocessing
import os
import pickle
import random
import shutil
import signal
import socket
import tempfile
import time
import traceback
from multiprocessing.connection import wait

import numpy as np
import torch
import torch.distributed as dist

WORLD = 2
# Whole launch, well under the runner's 120 s scenario timeout; a real launch
# takes about a second.
DEADLINE = 60.0
# After one rank failed, how long the others get to report (a rank blocked in a
# collective raises as soon as its peer's connection closes).
FAILURE_GRACE = 2.0
# How long a rank that sent its result gets to exit before it is killed.
EXIT_GRACE = 5.0
_PR_SET_PDEATHSIG = 1


class RankFailure(RuntimeError):
    """A rank raised, died or hung; the message names each rank and why."""


def fresh_entropy():
    """New OS entropy for random, NumPy and torch, as a newly started interpreter draws."""
    random.seed()
    np.random.seed()
    torch.seed()


def _die_with_parent():
    """Linux: the rank is SIGKILLed when the scenario process dies, however it dies."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _loopback():
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (OSError, AttributeError):
        return None
    return "lo" if "lo" in names else None


def _describe(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        where = " (at %s:%d in %s)" % (os.path.basename(frames[-1].filename),
                                       frames[-1].lineno, frames[-1].name)
    text = "%s: %s%s" % (type(exc).__name__, exc, where)
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def _rank_main(rank, world, init_method, seed, conn, release, ctx, target, args, deadline):
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the scenario died before prctl took effect
        os._exit(1)
    release[1].close()  # the parent's end: its closing is the signal to exit
    torch.set_num_threads(1)
    fresh_entropy()
    ctx.reseed(seed)
    loopback = _loopback()
    if loopback:
        os.environ["GLOO_SOCKET_IFNAME"] = loopback
    joined = False
    try:
        try:
            # Collectives give up at half the deadline, so a rank stuck waiting
            # for a dead or hung peer says so before the launch is killed.
            dist.init_process_group("gloo", init_method=init_method, rank=rank,
                                    world_size=world,
                                    timeout=datetime.timedelta(seconds=deadline / 2.0))
            joined = True
            message = ("ok", target(ctx, rank, world, *args))
        except BaseException as exc:  # reported to the parent, which raises
            message = ("error", _describe(exc))
        if _report(conn, message) == "ok":
            # A rank that tears down its connections while a peer is still in a
            # collective (or still connecting: a target may use none) breaks the
            # peer. So every rank waits until all have reported. A rank that
            # failed leaves at once: its peers' collectives then fail instead of
            # hanging.
            release[0].poll(deadline)
    finally:
        if joined:
            dist.destroy_process_group()


def _report(conn, message):
    """Send ``message`` to the parent; the status sent."""
    # Plain pickle, not multiprocessing's: tensors travel as bytes, not shared memory.
    try:
        data = pickle.dumps(message, protocol=2)
    except Exception as exc:
        message = ("error", _describe(exc) + " (pickling its result)")
        data = pickle.dumps(message, protocol=2)
    conn.send_bytes(data)
    conn.close()
    return message[0]


def describe_exit(code):
    if code is None:
        return "still running"
    if code < 0:
        try:
            return "killed by %s" % signal.Signals(-code).name
        except ValueError:
            return "killed by signal %d" % -code
    return "exited with code %d" % code


def _descendants(pid):
    """Pids of every live process below ``pid`` (Linux /proc; [] elsewhere)."""
    children = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (IOError, OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc):
    """SIGKILL a rank and whatever it started (DataLoader workers)."""
    for pid in [proc.pid] + _descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _collect(procs, conns, deadline):
    """({rank: result}, [(order, rank, why)]) once every rank reported or gave up."""
    pending = dict(enumerate(zip(procs, conns)))
    results, failures = {}, []
    start = time.time()
    failed_at = None
    while pending:
        limit = start + deadline
        if failed_at is not None:
            limit = min(limit, failed_at + FAILURE_GRACE)
        left = limit - time.time()
        if left <= 0:
            break
        ready = set(wait([c for _, c in pending.values()] +
                         [p.sentinel for p, _ in pending.values()], timeout=left))
        for rank, (proc, conn) in sorted(pending.items()):
            if conn not in ready and proc.sentinel not in ready:
                continue
            message = None
            if conn.poll():
                try:
                    message = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError):
                    message = None
            if message is None:
                proc.join(1.0)
                failures.append((0, rank, "died (%s) before reporting"
                                 % describe_exit(proc.exitcode)))
            elif message[0] == "ok":
                results[rank] = message[1]
            else:
                failures.append((2, rank, "raised " + message[1]))
            del pending[rank]
            if failures and failed_at is None:
                failed_at = time.time()
    for rank in sorted(pending):
        failures.append((1, rank, "gave no result in %.1fs%s (hung; killed)" % (
            time.time() - start, "" if failed_at is None else ", after another rank failed")))
    return results, failures


def _stop(procs, failed):
    """Join every rank; kill those still there (at once when the launch failed)."""
    end = time.time() + (0 if failed else EXIT_GRACE)
    for proc in procs:
        proc.join(max(0.0, end - time.time()))
    for proc in procs:
        if proc.is_alive():
            _kill_tree(proc)
            proc.join(5.0)


def run_ranks(ctx, target, args=(), seed_per_rank=False, world=WORLD, deadline=DEADLINE):
    """[target(ctx, rank, world, *args) for each rank], each run in its own rank process.

    Every rank seeds as the mode says with ``ctx.seed``, or ``ctx.seed + rank``
    when ``seed_per_rank``. ``target`` and its result must pickle.
    """
    folder = tempfile.mkdtemp(prefix="rngdrift-dist-")
    init_method = "file://" + os.path.join(folder, "store")
    forking = multiprocessing.get_context("fork")
    release = forking.Pipe(duplex=False)
    procs, conns = [], []
    failures = [(9, -1, "did not finish starting")]
    try:
        for rank in range(world):
            reader, writer = forking.Pipe(duplex=False)
            seed = ctx.seed + rank if seed_per_rank else ctx.seed
            proc = forking.Process(
                target=_rank_main, name="rank%d" % rank,
                args=(rank, world, init_method, seed, writer, release, ctx, target, args,
                      deadline))
            proc.start()
            writer.close()  # only the rank holds it: its death is EOF here
            procs.append(proc)
            conns.append(reader)
        results, failures = _collect(procs, conns, deadline)
    finally:
        for end in release:
            end.close()  # every rank has reported (or is killed next): they may exit
        _stop(procs, bool(failures))
        for conn in conns:
            conn.close()
        shutil.rmtree(folder, ignore_errors=True)
    if failures:
        raise RankFailure("; ".join("rank %d %s" % (rank, why)
                                    for _, rank, why in sorted(failures, key=lambda f: f[0])))
    return [results[rank] for rank in range(world)]

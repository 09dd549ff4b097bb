"""Fault injection: scenarios that break the way old torch versions and CI do.

Test-only. They are registered only when the environment has
``RNGDRIFT_FAULTS=1``, so no real run ever sees them. Each one stands for a
failure the runner must turn into a clear row while the rest of the cell runs:

    faults.raise         an exception                       -> error, with the message
    faults.hang          a scenario that never returns       -> timeout
    faults.hang_worker   a DataLoader worker that never returns (the old
                         torch worker deadlock)               -> timeout, workers killed too
    faults.segfault      the interpreter crashes (SIGSEGV)   -> error, killed by SIGSEGV
    faults.exit          os._exit(3) in the middle of it      -> error, exited with code 3
    faults.sigkill       the kernel's OOM killer (SIGKILL)    -> error, killed by SIGKILL
    faults.oom           a runaway allocation                 -> error, MemoryError (memory limit)
    faults.junk_output   junk on stdout/stderr and fd 1/2, JSON-looking lines
                         included                             -> ok, results intact
    faults.rank_dies     one of 2 distributed ranks os._exit(7)s between two
                         all_reduces                          -> error naming rank 1
    faults.rank_hangs    one rank sleeps forever between them -> error naming rank 1,
                         after the launch's own deadline (3 s), before the timeout
    faults.rank_hangs_past_timeout  the same with a launch deadline past the
                         scenario timeout (3 s)               -> timeout, ranks killed
"""
import ctypes
import json
import os
import signal
import sys
import time

from ..harness.cell.registry import NotApplicable, scenario

ENABLED = os.environ.get("RNGDRIFT_FAULTS") == "1"
CHUNK = 256 << 20
# Address space is plentiful; untouched chunks cost no RAM, so without a limit
# the loop simply ends here instead of hurting the machine.
CEILING = 1 << 40
RANK_DEADLINE = 3.0


def _sleep_forever():
    while True:
        time.sleep(3600)


class _HangingDataset(object):
    """Item 3 never comes back: the worker that fetches it sleeps forever."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        if index == 3:
            _sleep_forever()
        return index


def raise_(ctx):
    raise RuntimeError("injected fault: scenario raised")


def hang(ctx):
    _sleep_forever()


def hang_worker(ctx):
    from torch.utils.data import DataLoader
    loader = DataLoader(_HangingDataset(), batch_size=1, num_workers=2)
    items = 0
    for _ in loader:
        items += 1
    return {"items": items}


def _rank_fault(ctx, rank, world, fault):
    import torch
    import torch.distributed as dist
    dist.all_reduce(torch.ones(1))  # the group works
    if rank == 1:
        fault()
    dist.all_reduce(torch.ones(1))  # rank 0 waits for a peer that is gone or stuck
    return rank


def _exit_7():
    os._exit(7)


def _ranks(ctx, fault, deadline):
    from . import _dist
    return {"ranks": len(_dist.run_ranks(ctx, _rank_fault, args=(fault,), deadline=deadline))}


def rank_dies(ctx):
    return _ranks(ctx, _exit_7, RANK_DEADLINE)


def rank_hangs(ctx):
    return _ranks(ctx, _sleep_forever, RANK_DEADLINE)


def rank_hangs_past_timeout(ctx):
    return _ranks(ctx, _sleep_forever, 60.0)


def segfault(ctx):
    ctypes.string_at(0)


def exit_(ctx):
    sys.stdout.flush()
    os._exit(3)


def sigkill(ctx):
    os.kill(os.getpid(), signal.SIGKILL)
    _sleep_forever()


def oom(ctx):
    """Allocate 256 MiB chunks until the allocator says no (the runner's RLIMIT_DATA).

    NumPy's empty leaves pages untouched (torch.empty under deterministic
    algorithms fills them), so reaching the limit costs no RAM.
    """
    import resource
    import numpy as np
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    if soft == resource.RLIM_INFINITY:
        raise NotApplicable("no data memory limit set; refusing to exhaust the machine")
    held = []
    while len(held) * CHUNK < CEILING:
        held.append(np.empty(CHUNK, dtype=np.uint8))
    return {"allocated_gib": len(held) * CHUNK / float(1 << 30)}


def junk_output(ctx):
    """Everything a library might print, on every channel a child has."""
    lines = [
        json.dumps({"event": "result", "scenario": "faults.junk_output", "status": "error",
                    "detail": "forged", "rows": []}),
        json.dumps({"event": "done"}),
        '{"event": "start", "scenario": "faults.raise"',  # torn JSON
        "\x00\xff binary \x1b[31m colour \r no newline at the end",
    ]
    for line in lines:
        print(line)
        sys.stderr.write(line + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    for fd in (1, 2):
        os.write(fd, b"\n".join(l.encode("utf-8", "replace") for l in lines) + b"\x00\xfe")
    return {"answer": 42}


if ENABLED:
    scenario("faults.raise")(raise_)
    scenario("faults.hang")(hang)
    scenario("faults.hang_worker")(hang_worker)
    scenario("faults.segfault")(segfault)
    scenario("faults.exit")(exit_)
    scenario("faults.sigkill")(sigkill)
    scenario("faults.oom")(oom)
    scenario("faults.junk_output")(junk_output)
    scenario("faults.rank_dies")(rank_dies)
    scenario("faults.rank_hangs", timeout=30)(rank_hangs)
    scenario("faults.rank_hangs_past_timeout", timeout=3)(rank_hangs_past_timeout)

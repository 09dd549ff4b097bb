"""scenarios/_dist.py in the tests venv (the newest torch): rank results, per-rank
seeding, and that a rank that raises, dies or hangs becomes one RankFailure naming it
while every rank, every process a rank started and the store directory are gone."""
from __future__ import annotations

import os
import tempfile
import time

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():
    pytest.skip("torch.distributed is not built in", allow_module_level=True)

from _rngdrift.harness.cell.seeding import Context  # noqa: E402
from _rngdrift.scenarios import _dist  # noqa: E402

DEADLINE = 4.0


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    """run_ranks' store directory goes under tmp_path, where the tests can see it."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "stores"))
    os.mkdir(tmp_path / "stores")
    yield tmp_path
    assert os.listdir(tmp_path / "stores") == []


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _seeds(ctx, rank, world):
    total = torch.ones(1) * (rank + 1)
    dist.all_reduce(total)
    return {"rank": dist.get_rank(), "world": dist.get_world_size(), "sum": total.item(),
            "torch_seed": torch.initial_seed(), "pid": os.getpid()}


def test_each_rank_reports_in_rank_order_and_seeds_as_the_mode_says():
    same = _dist.run_ranks(Context("all"), _seeds)
    assert [(r["rank"], r["world"], r["sum"]) for r in same] == [(0, 2, 3.0), (1, 2, 3.0)]
    assert [r["torch_seed"] for r in same] == [0, 0]
    offset = _dist.run_ranks(Context("all", seed=5), _seeds, seed_per_rank=True)
    assert [r["torch_seed"] for r in offset] == [5, 6]
    fresh = _dist.run_ranks(Context("none"), _seeds)
    assert fresh[0]["torch_seed"] != fresh[1]["torch_seed"]  # new OS entropy per rank
    assert not any(alive(r["pid"]) for r in same + offset + fresh)


def _fails(ctx, rank, world, how, folder):
    with open(os.path.join(folder, "rank%d" % rank), "w") as handle:
        handle.write(str(os.getpid()))
    dist.all_reduce(torch.ones(1))
    if rank == 0 and how == "raise":
        raise ValueError("boom")
    if rank == 1 and how == "die":
        os._exit(9)
    if rank == 1 and how == "hang":
        import multiprocessing
        # A process of its own (a DataLoader worker, say) that would outlive it.
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
        child.start()
        with open(os.path.join(folder, "child"), "w") as handle:
            handle.write(str(child.pid))
        time.sleep(60)
    dist.all_reduce(torch.ones(1))
    return rank


def _pids(folder):
    return sorted(int(open(os.path.join(folder, name)).read()) for name in os.listdir(folder))


@pytest.mark.parametrize("how, starts", [
    ("raise", "rank 0 raised ValueError: boom (at test_dist.py:"),
    ("die", "rank 1 died (exited with code 9) before reporting; rank 0 raised RuntimeError: "),
    ("hang", "rank 1 gave no result in "),
])
def test_a_failing_rank_is_named_and_nothing_is_left(private_tmp, how, starts):
    folder = str(private_tmp / "pids")
    os.mkdir(folder)
    start = time.time()
    with pytest.raises(_dist.RankFailure) as failure:
        _dist.run_ranks(Context("all"), _fails, args=(how, folder), deadline=DEADLINE)
    assert time.time() - start < DEADLINE + _dist.FAILURE_GRACE + 2
    assert str(failure.value).startswith(starts), str(failure.value)
    pids = _pids(folder)  # both ranks, and the hung rank's own child
    assert len(pids) == (3 if how == "hang" else 2)
    if how == "hang":
        assert "(hung; killed); rank 0 raised RuntimeError: " in str(failure.value)
    time.sleep(0.2)
    assert [pid for pid in pids if alive(pid)] == []

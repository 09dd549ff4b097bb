"""Run inside a cell: CPU seconds of scenarios with attribution on or off, in one process.

    python -m benchmarks.attribution_cpu on|off ROUNDS OUT.json GLOB [GLOB ...]

Each selected scenario runs ROUNDS times under ``all`` seeding (``worker.run_one``, as a
child runs it); its cost is the fastest round's CPU seconds, this process's and its
reaped children's (DataLoader workers) together, so a busy machine slows the wall clock
but barely these. ``benchmarks/costs.py`` compares ``off`` and ``on``. Python 3.7+,
the cell side only.
"""
import fnmatch
import json
import os
import resource
import sys
import time


def main(argv):
    state, rounds, out, globs = argv[0], int(argv[1]), argv[2], argv[3:]
    os.environ["RNGDRIFT_ATTRIBUTION"] = state  # read when worker is imported
    from _rngdrift.harness.cell import environment, isolation, registry, rngstate, seeding, worker
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    worker.load(["_rngdrift.scenarios"], [os.path.join(root, "examples", "loader_pairs.py")])
    names = [n for n in sorted(registry.SCENARIOS) if any(fnmatch.fnmatch(n, g) for g in globs)]
    installed = environment.installed_versions()
    snap, process = rngstate.snapshot(), isolation.snapshot()
    ctx = seeding.Context("all", device="cpu")
    best = {}
    for _ in range(rounds):
        for name in names:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.process_time()
            result = worker.run_one(registry.SCENARIOS[name], ctx, installed, snap, process)
            own = time.process_time() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            children = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if result.status == "ok":
                best[name] = min(best.get(name, float("inf")), own + children)
    with open(out, "w") as handle:
        json.dump({"cpu_s": sum(best.values()), "scenarios": sorted(best)}, handle)


if __name__ == "__main__":
    main(sys.argv[1:])

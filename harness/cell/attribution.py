"""Which generators a scenario drew from and which random APIs it called, in every
process it ran in: its own, its DataLoader workers and any other process it started.

    with Attribution() as attr:        # around one scenario, in the scenario's process
        metrics = scenario(ctx)
    rows = attr.rows()                 # rng.*, rng.calls.*, rng.worker.*, rng.process.*

Subprocesses report through a spool directory named in the environment
(``RNGDRIFT_SPOOL``), which forked and spawned children inherit:

* a process forked by ``multiprocessing`` (DataLoader workers on fork, ranks of a
  process group, pools) starts counting in its after-fork hook;
* a DataLoader worker, forked or spawned, starts again in its ``worker_init_fn``,
  which every DataLoader built while a scenario runs gets wrapped in
  (``WorkerInit``; the user's own function still runs): so the worker's draws
  count from after the DataLoader seeded it, over ``worker_init_fn``,
  ``__getitem__`` and collate;
* each one writes what it counted to the spool when it exits.

Rows (``count`` unless said): ``rng.<generator>`` 0/1 and ``rng.calls.<api>`` for the
scenario's process; ``rng.worker.<generator>`` (1 when any worker drew from it),
``rng.worker.calls.<api>`` (summed over workers) and ``rng.worker.processes`` for
DataLoader workers; the same under ``rng.process.`` for other processes;
``rng.import.calls.<api>`` for what imports run during the scenario called;
``rng.generator.<api>``, ``rng.worker.generator.<api>``, ``rng.process.generator.<api>``
(text, one per ``calls`` row): which generator those calls drew from, ``global``,
``own`` or ``global+own`` (tracing.py); and ``rng.recipe`` (text): what the ``full``
mode's recipe handed it, in any process.
"""
import functools
import gc
import json
import os
import shutil
import tempfile
import time

from . import rngstate, tracing
from .schema import CALLS_PREFIX, COUNT, GENERATOR_PREFIX, RECIPE_METRIC, RNG_PREFIX, TEXT

SPOOL_ENV = "RNGDRIFT_SPOOL"
ROLES = ("worker", "process")
# How long the scenario's process waits for a subprocess that started counting to
# report after the scenario returned (persistent workers shut down on collection).
REPORT_WAIT = 2.0

_role = [None]  # this process's role when it is a subprocess of a scenario
_current = [None]  # the Attribution counting in this process now


def counted_here():
    """What this process counted since its Attribution began, as ``absorb`` takes it:
    a forked stand-in (a user's script run in a fork) reports it to its parent."""
    draws = tracing._draws[0]
    calls, import_calls = tracing.stop()
    return {"calls": calls, "import_calls": import_calls, "uses": dict(tracing.uses),
            "drew": draws.result() if draws is not None else {}}


def absorb(report):
    """Count ``report`` (``counted_here`` of a fork standing in for this process) as
    this process's own: its draws are the scenario's, not a subprocess's."""
    if _current[0] is not None and report:
        _current[0].absorbed.append(report)


# -- in a subprocess --------------------------------------------------------------------
def _begin(role):
    """Start counting in this subprocess, from its current generator states."""
    spool = os.environ.get(SPOOL_ENV)
    if not spool or not os.path.isdir(spool):
        return
    tracing.install()
    if _role[0] is not None and _role[0] != role:  # a forked DataLoader worker: now a worker
        _unlink(os.path.join(spool, "%s-%d.start" % (_role[0], os.getpid())))
    _role[0] = role
    tracing.start(rngstate.Draws())
    try:
        open(os.path.join(spool, "%s-%d.start" % (role, os.getpid())), "w").close()
    except (IOError, OSError):
        return
    from multiprocessing import util
    util.Finalize(None, _report, args=(spool, role), exitpriority=100)


def _report(spool, role):
    """Write what this subprocess counted (at its exit)."""
    if _role[0] != role:
        return  # superseded (a forked DataLoader worker became a "worker")
    draws = tracing._draws[0]
    calls, _ = tracing.stop()
    record = {"role": role, "pid": os.getpid(), "calls": calls, "uses": dict(tracing.uses),
              "drew": draws.result() if draws is not None else {},
              "recipe": sorted(tracing.recipe)}
    try:
        fd, tmp = tempfile.mkstemp(dir=spool, prefix=".%s-%d-" % (role, os.getpid()))
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle)
        os.rename(tmp, os.path.join(spool, "%s-%d.json" % (role, os.getpid())))
    except (IOError, OSError):
        pass


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _after_fork(_):
    _begin("process")


class WorkerInit(object):
    """A DataLoader's ``worker_init_fn``: begin counting in the worker (after the
    DataLoader seeded it), then call the user's own function, if any. Picklable, so
    spawned workers get it too."""

    def __init__(self, user_fn=None):
        self.user_fn = user_fn

    def __call__(self, worker_id):
        _begin("worker")
        if self.user_fn is not None:
            self.user_fn(worker_id)


def install():
    """Once per process (where scenarios run): the after-fork hook and DataLoader."""
    if getattr(install, "done", False):
        return
    from multiprocessing import util
    util.register_after_fork(install, _after_fork)
    from torch.utils.data import DataLoader
    original = DataLoader.__iter__

    # Only while the iterator starts its workers: the loader's own attribute stays what
    # the program set, so code that fills in a worker_init_fn where there is none
    # (Lightning's seed_everything(workers=True) under a Trainer) still does.
    @functools.wraps(original)
    def __iter__(self):
        own = self.worker_init_fn
        if not os.environ.get(SPOOL_ENV) or getattr(self, "num_workers", 0) <= 0 \
                or isinstance(own, WorkerInit):
            return original(self)
        self.worker_init_fn = WorkerInit(own)
        try:
            return original(self)
        finally:
            self.worker_init_fn = own
    DataLoader.__iter__ = __iter__
    install.done = True


# -- in the scenario's process -------------------------------------------------------------
class Attribution(object):
    """Count around one scenario run in this process and the ones it starts."""

    def __enter__(self):
        self.spool = tempfile.mkdtemp(prefix="rngdrift-spool-")
        os.environ[SPOOL_ENV] = self.spool
        self.draws = rngstate.Draws()
        self.absorbed = []
        _current[0] = self
        tracing.start(self.draws)
        return self

    def __exit__(self, *exc):
        self.recipe = set(tracing.recipe)
        self.calls, self.import_calls = tracing.stop()
        self.uses = dict(tracing.uses)
        self.drew = self.draws.result()
        _current[0] = None
        for report in self.absorbed:  # what a forked stand-in for this process counted
            for api, n in report.get("calls", {}).items():
                self.calls[api] = self.calls.get(api, 0) + int(n)
            _merge_uses(self.uses, report)
            for api, n in report.get("import_calls", {}).items():
                self.import_calls[api] = self.import_calls.get(api, 0) + int(n)
            for name, moved in report.get("drew", {}).items():
                self.drew[name] = int(bool(self.drew.get(name)) or bool(moved))
        os.environ.pop(SPOOL_ENV, None)
        try:
            self.reports = _collect(self.spool)
        finally:
            shutil.rmtree(self.spool, ignore_errors=True)
        for report in self.reports:
            self.recipe.update(report.get("recipe", ()))
        return False

    def rows(self):
        """(metric, kind, value) rows of everything counted."""
        out = [(RNG_PREFIX + name, COUNT, str(self.drew[name])) for name in sorted(self.drew)]
        out += [(CALLS_PREFIX + api, COUNT, str(n)) for api, n in sorted(self.calls.items())]
        out += _use_rows(GENERATOR_PREFIX, self.calls, self.uses)
        out += [(RNG_PREFIX + "import.calls." + api, COUNT, str(n))
                for api, n in sorted(self.import_calls.items())]
        for role in ROLES:
            reports = [r for r in self.reports if r.get("role") == role]
            if not reports:
                continue
            prefix = RNG_PREFIX + role + "."
            out.append((prefix + "processes", COUNT, str(len(reports))))
            drew = sorted(set(g for r in reports for g, moved in r.get("drew", {}).items()
                              if moved))
            for name in sorted(set(g for r in reports for g in r.get("drew", {}))):
                out.append((prefix + name, COUNT, str(int(name in drew))))
            calls, uses = {}, {}
            for report in reports:
                for api, n in report.get("calls", {}).items():
                    calls[api] = calls.get(api, 0) + int(n)
                _merge_uses(uses, report)
            out += [(prefix + "calls." + api, COUNT, str(n)) for api, n in sorted(calls.items())]
            out += _use_rows(prefix + "generator.", calls, uses)
        if self.recipe:  # what the harness's own seeding recipe handed the scenario
            out.append((RECIPE_METRIC, TEXT, ",".join(sorted(self.recipe))))
        return out


def _merge_uses(uses, report):
    for api, bits in report.get("uses", {}).items():
        uses[api] = uses.get(api, 0) | int(bits)


def _use_rows(prefix, calls, uses):
    """``<prefix><api>`` text rows: global, own or global+own, for every API called (an
    API counted without a use, by an older spool report, is left out)."""
    text = tracing.uses_text(uses)
    return [(prefix + api, TEXT, text[api]) for api in sorted(calls) if api in text]


def _collect(spool):
    """The reports subprocesses wrote; waits a little for those that started but
    have not reported yet (workers shut down when their loader is collected)."""
    def pending():
        names = set(os.listdir(spool))
        return [n for n in names if n.endswith(".start") and n[:-6] + ".json" not in names]
    if pending():
        gc.collect()
        deadline = time.time() + REPORT_WAIT
        while pending() and time.time() < deadline:
            time.sleep(0.02)
    reports = []
    for name in sorted(os.listdir(spool)):
        if name.endswith(".json") and not name.startswith("."):
            try:
                with open(os.path.join(spool, name)) as handle:
                    reports.append(json.load(handle))
            except (IOError, OSError, ValueError):
                continue
    return reports

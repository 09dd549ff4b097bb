"""``python -m _rngdrift.harness.cell``: run the selected scenarios of this venv's cell.

    python -m _rngdrift.harness.cell --out results/<run>/cells/<cell>.csv --cell <id> --run-id <run>
    python -m _rngdrift.harness.cell --list [--scenarios PATH]

The canonical scenarios are the package ``_rngdrift.scenarios`` (the ``scenarios``
folder), imported by name (nothing under ``harness.cell`` imports it).
"""
import argparse
import os
import signal
import sys
import tempfile
import time

from . import environment, keeper, limits, loader, options, registry, schema, usercode
from .journal import Journal
from .launcher import Launcher
from .supervisor import Interrupted, Plan, Runner

# ``_rngdrift.scenarios``: a sibling of the package this one lives in (``_rngdrift.harness``)
BUILTIN_SCENARIOS = __package__.split(".")[0] + ".scenarios"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m _rngdrift.harness.cell", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    args = options.add_to(parser, "cell").parse_args(argv)
    args.jobs = args.jobs or options.default_jobs()
    modes = [m for m in args.seeding.split(",") if m]
    unknown = [m for m in modes if m not in schema.MODES]
    if unknown:
        parser.error("unknown seeding mode(s) %s; choose from %s"
                     % (", ".join(unknown), ", ".join(schema.MODES)))
    args.modes = modes
    if args.memory_limit == "auto":
        args.memory_bytes = limits.default_memory_limit(args.jobs)
    else:
        try:
            args.memory_bytes = limits.parse_size(args.memory_limit)
        except ValueError as exc:
            parser.error("--memory-limit: %s" % exc)
    if not args.list and not (args.out and args.cell):
        parser.error("--out and --cell are required")
    return args


def build_rows(jobs, names, modes, meta):
    """Flatten job results into schema rows in a fixed order (independent of scheduling)."""
    order = dict((name, i) for i, name in enumerate(names))
    mode_order = dict((mode, i) for i, mode in enumerate(modes))
    rows = []
    for job in sorted(jobs, key=lambda j: (mode_order[j.mode], j.repeat)):
        for result in sorted(job.results, key=lambda r: order[r.scenario]):
            rows.append(schema.status_row(meta, result.scenario, job.mode, job.repeat,
                                          result.status, result.detail))
            rows += [schema.metric_row(meta, result.scenario, job.mode, job.repeat, metric, kind,
                                       value)
                     for metric, kind, value in result.rows]
    return rows


def main(argv=None):
    args = parse_args(argv)
    # The keeper first: nothing of the user's is imported before it is a subreaper.
    log_path = os.path.splitext(args.out)[0] + ".log" if args.out else None
    return keeper.keep(args.cell or "rngdrift", log_path, lambda restart: _main(args, restart))


def _main(args, restart):
    """The runner (a fork of the keeper; ``restart``: what an earlier runner's death taught)."""
    if restart.count:
        args.resume = True  # what finished before the death is kept
    if restart.serial:
        args.jobs = 1
    spec = usercode.from_args(args)
    try:
        loader.load_builtin([BUILTIN_SCENARIOS])
        loader.load_paths(args.scenarios)
        if usercode.asked(spec):
            usercode.register(spec, collect=True)
    except loader.UserCodeError as exc:  # a user's module: one clear line, no traceback
        sys.stderr.write("rngdrift: %s\n" % exc)
        return 2
    names = registry.select(list(registry.SCENARIOS), args.only, args.skip)
    if args.user_only:
        names = [n for n in names if registry.SCENARIOS[n].user]
    # Scripts and tests first in every child: they run in forks of it, and torch 1.10 and
    # older (1.12 does not) refuse backward() in a fork of a process that ran backward().
    names = ([n for n in names if registry.SCENARIOS[n].forks]
             + [n for n in names if not registry.SCENARIOS[n].forks])
    if args.list:
        for name in names:
            sys.stdout.write(name + "\n")
        return 0
    if not names:
        sys.stderr.write("rngdrift: no scenario matches --only %s --skip %s%s\n"
                         % (args.only, args.skip, " --user-only" if args.user_only else ""))
        return 2
    spec_file = None
    if usercode.wanted(spec):  # every child registers the same scenarios from it
        handle, spec_file = tempfile.mkstemp(prefix="rngdrift-usercode-", suffix=".json")
        os.close(handle)
        usercode.save(spec, spec_file)
    try:
        return _run(args, names, spec, spec_file, restart)
    finally:
        if spec_file:
            os.unlink(spec_file)


def _run(args, names, spec, spec_file, restart):

    installed = environment.installed_versions()
    meta = schema.cell_meta(
        run_id=args.run_id, cell=args.cell, python=installed["python"],
        torch=installed["torch"], torchvision=installed["torchvision"],
        numpy=installed["numpy"], pillow=installed["pillow"],
        platform=environment.platform_text(), device=environment.device_text(installed))
    base = os.path.splitext(args.out)[0]
    started = time.time()
    # Finished jobs are journalled as they end, so an interrupted cell resumes mid-way.
    journal = Journal(base + ".journal", dict(meta._asdict(), names=names))
    kept = journal.load() if args.resume else []
    freeze = environment.freeze_text(args.scenarios, args.cell_requirements, args.freeze_note,
                                     spec, [registry.SCENARIOS[n] for n in names])
    try:
        schema.write_atomic(base + ".freeze.txt", freeze)
        journal.start(kept)
    except (IOError, OSError) as exc:
        sys.stderr.write("rngdrift: %s: cannot write next to %s (%s); nothing ran\n"
                         % (args.cell, args.out, exc.strerror or exc))
        return 2
    if kept:
        sys.stdout.write("[%s] resuming: %d job(s) kept from %s\n"
                         % (args.cell, len(kept), journal.path))
    journal_lost = []

    def progress(job):
        if not journal.append(job) and not journal_lost:
            journal_lost.append(job)
            sys.stderr.write("rngdrift: %s: cannot write %s; the run goes on, but a resume "
                             "would redo finished jobs\n" % (args.cell, journal.path))
        bad = sum(1 for r in job.results if r.status != schema.OK)
        sys.stdout.write("[%s] seeding=%-6s repeat=%d: %d scenarios, %d not ok (%.0fs)\n"
                         % (args.cell, job.mode, job.repeat, len(job.results), bad,
                            time.time() - started))
        sys.stdout.flush()

    plan = Plan(names, args.modes, args.repeats,
                dict((n, registry.SCENARIOS[n].timeout) for n in names
                     if registry.SCENARIOS[n].timeout))
    launcher = Launcher(base + ".log", builtin_paths=[BUILTIN_SCENARIOS],
                        scenario_paths=[os.path.abspath(p) for p in args.scenarios],
                        start=args.start, memory_limit=args.memory_bytes,
                        usercode=spec_file, inflight_dir=restart.inflight)
    work = Runner(plan, launcher, parallel=args.jobs, default_timeout=args.timeout, done=kept,
                  blamed=restart.blamed)
    try:
        with _signals_interrupt():
            jobs = work.run(progress=progress)
    except (KeyboardInterrupt, Interrupted) as exc:
        why = str(exc) or "interrupted"
        sys.stderr.write("rngdrift: %s: %s; every child stopped, %s not written; finished "
                         "jobs are kept in %s (run again with --resume)\n"
                         % (args.cell, why, args.out, journal.path))
        return 130 if isinstance(exc, KeyboardInterrupt) else 143
    rows = schema.with_manifest(build_rows(jobs, names, args.modes, meta))
    text = schema.rows_to_csv_text(rows)
    try:
        schema.write_atomic(args.out, text)
    except (IOError, OSError) as exc:
        sys.stderr.write("rngdrift: %s: cannot write %s (%s); finished jobs are kept in %s "
                         "(run again with --resume once there is room)\n"
                         % (args.cell, args.out, exc.strerror or exc, journal.path))
        return 2
    try:  # the CSV's checksum beside its key: --reuse-from copies only what this run wrote
        schema.write_atomic(base + ".freeze.txt", environment.sealed_freeze_text(freeze, text))
    except (IOError, OSError) as exc:
        sys.stderr.write("rngdrift: %s: cannot record the CSV's checksum in its freeze file "
                         "(%s); a later --reuse-from will run this cell again\n"
                         % (args.cell, exc.strerror or exc))
    journal.remove()
    sys.stdout.write("[%s] wrote %s (%d rows, %.0fs)\n"
                     % (args.cell, args.out, len(rows), time.time() - started))
    return 0


class _signals_interrupt(object):
    """SIGTERM and SIGHUP stop the run like Ctrl-C does (children killed, journal kept)."""

    def __enter__(self):
        self.saved = {}
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self.saved[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise Interrupted("stopped by %s" % signal.Signals(signum).name)

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


if __name__ == "__main__":
    sys.exit(main())

"""``python -m harness.cell``: run the selected scenarios of this venv's cell.

    python -m harness.cell --out results/<run>/cells/<cell>.csv --cell <id> --run-id <run>
    python -m harness.cell --list
"""
import argparse
import os
import platform
import signal
import sys
import time

from . import registry, runner, schema, seeding


def cpu_name():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def platform_text():
    return "%s-%s %s; cpu=%s" % (platform.system(), platform.release(),
                                 platform.machine(), cpu_name())


def device_text(installed):
    if not installed["cuda"]:
        return "cpu"
    import torch
    return "cuda:" + torch.cuda.get_device_name(0)


def freeze_text(scenario_paths=(), requirements=()):
    """Installed distributions as 'name==version' lines (no pip needed: uv venvs have none).

    Comment lines first record what else shaped the cell: each user scenario
    file with its sha256 and each ``--cell-requirements`` file with its lines.
    """
    try:
        from importlib import metadata
        dists = [(d.metadata["Name"], d.version) for d in metadata.distributions()]
    except ImportError:  # Python 3.7
        import pkg_resources
        dists = [(d.project_name, d.version) for d in pkg_resources.working_set]
    lines = sorted(set("%s==%s" % (name, version) for name, version in dists if name),
                   key=str.lower)
    notes = []
    for _, files in registry.user_files(scenario_paths):
        for path in files:
            notes.append("# scenarios: %s sha256=%s" % (path, registry.file_sha256(path)))
    for path in requirements:
        notes.append("# cell-requirements: %s sha256=%s" % (path, registry.file_sha256(path)))
        try:
            with open(path) as handle:
                wanted = [l.strip() for l in handle if l.strip() and not l.startswith("#")]
        except (IOError, OSError):
            wanted = ["(unreadable)"]
        notes += ["#   " + line for line in wanted]
    return "\n".join(notes + lines) + "\n"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m harness.cell", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="cell CSV to write (atomically)")
    parser.add_argument("--cell", help="cell id, e.g. py3.8-torch1.5.0-tv0.6.0")
    parser.add_argument("--run-id", default="adhoc")
    parser.add_argument("--seeding", default=",".join(seeding.MODES),
                        help="comma-separated modes (default: all of %(default)s)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", action="append", default=[], metavar="GLOB")
    parser.add_argument("--skip", action="append", default=[], metavar="GLOB")
    parser.add_argument("--scenarios", action="append", default=[], metavar="PATH",
                        help="extra scenario file, package or directory (repeatable)")
    parser.add_argument("--cell-requirements", action="append", default=[], metavar="FILE",
                        help="requirements file installed into this venv (recorded in the "
                             "freeze file)")
    parser.add_argument("--timeout", type=float, default=runner.DEFAULT_TIMEOUT,
                        help="seconds one scenario may run unless it sets its own "
                             "(default %(default)s)")
    parser.add_argument("--memory-limit", default="auto", metavar="SIZE",
                        help="data memory per child process, e.g. 6G; 'none' for no limit "
                             "(default: RAM / (jobs + 1))")
    parser.add_argument("--resume", action="store_true",
                        help="keep the jobs an interrupted run of this cell journalled")
    parser.add_argument("--start", choices=("fork", "spawn"), default="fork",
                        help="fork children from per-repeat zygotes that import torch once "
                             "(default), or start a new interpreter per child")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="child processes at once (default %(default)s)")
    parser.add_argument("--list", action="store_true", help="list scenarios and exit")
    args = parser.parse_args(argv)
    modes = [m for m in args.seeding.split(",") if m]
    unknown = [m for m in modes if m not in seeding.MODES]
    if unknown:
        parser.error("unknown seeding mode(s) %s; choose from %s"
                     % (", ".join(unknown), ", ".join(seeding.MODES)))
    args.modes = modes
    if args.memory_limit == "auto":
        args.memory_bytes = runner.default_memory_limit(args.jobs)
    else:
        try:
            args.memory_bytes = runner.parse_size(args.memory_limit)
        except ValueError as exc:
            parser.error("--memory-limit: %s" % exc)
    if not args.list and not (args.out and args.cell):
        parser.error("--out and --cell are required")
    return args


def main(argv=None):
    args = parse_args(argv)
    registry.load_builtin()
    try:
        registry.load_paths(args.scenarios)
    except registry.UserCodeError as exc:  # a user's module: one clear line, no traceback
        sys.stderr.write("rngdrift: %s\n" % exc)
        return 2
    names = registry.select(list(registry.SCENARIOS), args.only, args.skip)
    if args.list:
        for name in names:
            sys.stdout.write(name + "\n")
        return 0
    if not names:
        sys.stderr.write("rngdrift: no scenario matches --only %s --skip %s\n"
                         % (args.only, args.skip))
        return 2

    installed = registry.installed_versions()
    meta = {
        "schema_version": schema.SCHEMA_VERSION, "run_id": args.run_id, "cell": args.cell,
        "python": installed["python"], "torch": installed["torch"],
        "torchvision": installed["torchvision"], "numpy": installed["numpy"],
        "pillow": installed["pillow"], "platform": platform_text(),
        "device": device_text(installed),
    }
    base = os.path.splitext(args.out)[0]
    schema.write_atomic(base + ".freeze.txt",
                        freeze_text(args.scenarios, args.cell_requirements))
    log_path = base + ".log"
    timeouts = dict((n, registry.SCENARIOS[n].timeout) for n in names
                    if registry.SCENARIOS[n].timeout)
    started = time.time()
    # Finished jobs are journalled as they end, so an interrupted cell resumes mid-way.
    journal = runner.Journal(base + ".journal", dict(meta, names=names))
    kept = journal.load() if args.resume else []
    journal.start(kept)
    if kept:
        sys.stdout.write("[%s] resuming: %d job(s) kept from %s\n"
                         % (args.cell, len(kept), journal.path))

    def progress(job):
        journal.append(job)
        bad = sum(1 for r in job.results if r[1] != "ok")
        sys.stdout.write("[%s] seeding=%-6s repeat=%d: %d scenarios, %d not ok (%.0fs)\n"
                         % (args.cell, job.mode, job.repeat, len(job.results), bad,
                            time.time() - started))
        sys.stdout.flush()

    work = runner.Runner(names, timeouts, args.modes, args.repeats, args.jobs, log_path,
                         scenario_paths=[os.path.abspath(p) for p in args.scenarios],
                         default_timeout=args.timeout, memory_limit=args.memory_bytes,
                         done=kept, start=args.start)
    try:
        with _signals_interrupt():
            jobs = work.run(progress=progress)
    except (KeyboardInterrupt, runner.Interrupted) as exc:
        why = str(exc) or "interrupted"
        sys.stderr.write("rngdrift: %s: %s; every child stopped, %s not written; finished "
                         "jobs are kept in %s (run again with --resume)\n"
                         % (args.cell, why, args.out, journal.path))
        return 130 if isinstance(exc, KeyboardInterrupt) else 143
    rows = runner.build_rows(jobs, names, args.modes, meta)
    schema.write_csv(args.out, rows)
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
        raise runner.Interrupted("stopped by %s" % signal.Signals(signum).name)

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


if __name__ == "__main__":
    sys.exit(main())

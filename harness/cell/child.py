"""One fresh process: run scenarios under one seeding mode and stream results.

Results go to the parent over a dedicated pipe (``--fd``) as JSON lines, so
anything a scenario or a library prints to stdout/stderr cannot corrupt them.
With ``--zygote`` the process serves fork requests instead (``zygote.py``).
Started by ``harness.cell.supervisor``; not meant to be run by hand.
"""
import sys

from . import protocol, worker, zygote


def main(argv=None):
    args = protocol.parse_child_args(argv)
    if args.zygote is not None:
        return zygote.serve_forks(args.zygote, args.parent, args.builtin_path,
                                  args.scenarios_path, args.usercode)
    worker.guard_process(args.fd, args.parent, args.memory_limit)
    worker.load(args.builtin_path, args.scenarios_path, args.usercode)
    return worker.serve(args.fd, args.mode, args.scenario, args.inflight)


if __name__ == "__main__":
    sys.exit(main())

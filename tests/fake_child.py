"""A stand-in for ``harness.cell.child`` that speaks its pipe protocol without torch.

The scenario name says what to do, so tests of the runner can stage every fault:

    ok.<anything>   a result with one metric row
    hang            never return
    hang_group      start a grandchild (same process group), then never return
    exit3           os._exit(3)
    segv            die by SIGSEGV
    orphan_exit     leave a grandchild holding the results pipe, then exit
    junk            junk on stdout, stderr and the results pipe, then a result
    silent_done     say "done" without running the rest

FAKE_STARTUP=hang (environment) hangs before the first scenario; FAKE_STARTUP=crash
exits 1 with a message; FAKE_PIDS=<file> records every pid this child starts.
"""
import argparse
import faulthandler
import json
import os
import signal
import subprocess
import sys
import time


def send(fd, message):
    os.write(fd, (json.dumps(message) + "\n").encode())


def forever():
    while True:
        time.sleep(3600)


def note_pid(pid):
    path = os.environ.get("FAKE_PIDS")
    if path:
        with open(path, "a") as handle:
            handle.write("%d\n" % pid)


def grandchild(keep_fd=None):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"],
                            pass_fds=(keep_fd,) if keep_fd is not None else ())
    note_pid(proc.pid)
    return proc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--scenario", action="append", default=[])
    parser.add_argument("--scenarios-path", action="append", default=[])
    parser.add_argument("--parent", type=int)
    parser.add_argument("--memory-limit", type=int)
    args = parser.parse_args()
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    note_pid(os.getpid())
    startup = os.environ.get("FAKE_STARTUP")
    if startup == "hang":
        forever()
    if startup == "crash":
        sys.stderr.write("ImportError: no module named torch_fake\n")
        sys.exit(1)
    for name in args.scenario:
        if name == "silent_done":
            break
        send(args.fd, {"event": "start", "scenario": name})
        if name == "hang":
            forever()
        elif name == "hang_group":
            grandchild()
            forever()
        elif name == "exit3":
            os._exit(3)
        elif name == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif name == "orphan_exit":
            grandchild(keep_fd=args.fd)
            os._exit(0)
        elif name == "junk":
            print('{"event": "result", "scenario": "junk", "status": "error"}')
            os.write(1, b"\x00\xff junk")
            sys.stderr.write('{"event": "done"}\n')
            os.write(args.fd, b"not json at all\n" + b'["a", "list"]\n')
        send(args.fd, {"event": "result", "scenario": name, "status": "ok", "detail": "",
                       "rows": [["value", "count", str(len(name))]]})
    send(args.fd, {"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())

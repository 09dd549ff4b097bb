"""Process-wide state a scenario can change, put back before the next one runs.

Scenarios of one job share a process. One that changes the working directory,
the environment, the umask, a signal handler or torch's global settings must not
change what the next scenario sees, so ``snapshot`` is taken once (after the
seeding mode's own flags) and ``restore`` runs before every scenario.
"""
import os
import signal
import sys

# Signals a scenario may install handlers for. Not SIGKILL/SIGSTOP (cannot be
# caught), SIGUSR1 (faulthandler's: the runner asks for a stack with it) or SIGCHLD
# (DataLoader installs its handler once per process and then relies on it).
_SIGNALS = tuple(getattr(signal, name) for name in (
    "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGALRM", "SIGPIPE", "SIGUSR2", "SIGXFSZ")
    if hasattr(signal, name))


def _torch_state():
    import torch
    state = {
        "threads": torch.get_num_threads(),
        "dtype": torch.get_default_dtype(),
        "grad": torch.is_grad_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
    }
    if hasattr(torch, "are_deterministic_algorithms_enabled"):  # torch >= 1.8
        state["deterministic"] = torch.are_deterministic_algorithms_enabled()
    elif hasattr(torch, "is_deterministic"):  # torch 1.7
        state["deterministic"] = torch.is_deterministic()
    return state


def _set_torch_state(state):
    import torch
    if torch.get_num_threads() != state["threads"]:
        torch.set_num_threads(state["threads"])
    torch.set_default_dtype(state["dtype"])
    torch.set_grad_enabled(state["grad"])
    torch.backends.cudnn.deterministic = state["cudnn_deterministic"]
    torch.backends.cudnn.benchmark = state["cudnn_benchmark"]
    if "deterministic" in state:
        if hasattr(torch, "use_deterministic_algorithms"):
            torch.use_deterministic_algorithms(state["deterministic"])
        else:
            torch.set_deterministic(state["deterministic"])


def snapshot():
    umask = os.umask(0)
    os.umask(umask)
    return {
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "umask": umask,
        "signals": dict((sig, signal.getsignal(sig)) for sig in _SIGNALS),
        "sys_path": list(sys.path),
        "torch": _torch_state(),
    }


def restore(snap):
    """Put the process back as ``snapshot`` found it."""
    try:
        os.chdir(snap["cwd"])
    except OSError:  # the scenario removed it: stay where we are
        pass
    if dict(os.environ) != snap["environ"]:
        os.environ.clear()
        os.environ.update(snap["environ"])
    os.umask(snap["umask"])
    for sig, handler in snap["signals"].items():
        if handler is not None and signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)
    sys.path[:] = snap["sys_path"]
    _set_torch_state(snap["torch"])

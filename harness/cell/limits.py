"""Memory sizes: parsing, printing and the default limit per child."""
import os
import re

# RLIMIT_DATA counts private writable memory, not reserved address space: torch
# 2.11 with CUDA initialised on an H100 maps 1.6 GiB of data (and 18 GiB of
# address space, which is why RLIMIT_AS is not used); a CPU-only torch 2.15
# import 0.8 GiB. 4 GiB leaves room for real scenarios on top.
MIN_MEMORY_LIMIT = 4 << 30


def parse_size(text):
    """Bytes from '8G', '512M', '1.5g', '1048576'; None for '0', 'none' or 'off'."""
    value = str(text).strip().lower()
    if value in ("0", "none", "off", "unlimited"):
        return None
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    match = re.match(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", value)
    if not match:
        raise ValueError("memory size %r: use a number with K, M, G or T (e.g. 8G), "
                         "or 'none'" % text)
    return int(float(match.group(1)) * units.get(match.group(2), 1))


def physical_memory():
    """Total RAM in bytes, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_memory_limit(jobs, total=None):
    """Each child may use RAM / (jobs + 1): every child at its limit still leaves
    room for the runner, the host and the rest of the machine. Never less than
    MIN_MEMORY_LIMIT (or all of RAM where there is less), which real scenarios need."""
    total = physical_memory() if total is None else total
    if not total:
        return None
    return max(total // (max(1, jobs) + 1), min(MIN_MEMORY_LIMIT, total))


def format_size(size):
    if size is None:
        return "none"
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= factor:
            return "%.1f%s" % (size / float(factor), unit)
    return str(size)

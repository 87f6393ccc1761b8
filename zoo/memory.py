"""Keeping freed memory in the process for reuse, instead of handing it back to the OS.

Why: torch allocates CPU tensors with the C library's ``malloc``. A recurrent layer's
training workspace grows with the batch's length (about 10 MB for 16 reviews of 600 tokens),
and glibc serves such blocks with ``mmap`` and returns them with ``munmap`` at every step, so the
next step faults every page in again: a step over 600 tokens took about 1.7x as long as one with
the memory reused, and the kernel's page-fault work was a quarter of an epoch's CPU time
(``resource.getrusage``: 5.1 s system time against 23.9 s user). Raising glibc's thresholds
(the largest it allows for ``mmap``, a high trim threshold, a top pad) makes freed blocks stay in
the heap, where the next step finds them: a default-recipe epoch took 8-10% less wall time.

The price is the process's memory staying at its peak instead of shrinking between steps, as
with any caching allocator. Set ``ZOO_KEEP_FREED_MEMORY=0`` to leave ``malloc`` alone; it is also
left alone when ``GLIBC_TUNABLES`` already sets malloc options, and on other C libraries.
"""

from __future__ import annotations

import ctypes
import os
import platform

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_SETTINGS = {
    _M_MMAP_THRESHOLD: 32 * 2**20,  # glibc's maximum on 64-bit systems
    _M_TRIM_THRESHOLD: 2**30,
    _M_TOP_PAD: 256 * 2**20,
}
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's malloc thresholds once per process; whether they are in effect."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if os.environ.get("ZOO_KEEP_FREED_MEMORY", "1") == "0" or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    # Setting any threshold turns off glibc's own adjustment of the others, so set all three.
    return all(mallopt(option, value) == 1 for option, value in _SETTINGS.items())

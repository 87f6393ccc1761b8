"""Keeping freed memory in the process for reuse, instead of handing it back to the OS.

Why: torch allocates CPU tensors with the C library's ``malloc``. A recurrent layer's
training workspace grows with the batch's length (about 10 MB for 16 reviews of 600 tokens),
and glibc serves such blocks with ``mmap`` and returns them with ``munmap`` at every step, so the
next step faults every page in again: an LSTM step over 600 tokens took about 1.5x as long as
one with the memory reused. Raising glibc's thresholds (the largest it allows for ``mmap``, a
high trim threshold, a top pad) keeps freed blocks in the heap, where the next step finds them.
``python benchmarks/memory_reuse.py --rounds 2`` (default-recipe epoch, fresh processes,
medians): system time 4.75 -> 2.75 s, page faults 1.59M -> 0.84M, wall time 16.17 -> 14.75 s.

The price is the process's memory staying at its peak instead of shrinking between steps, as
with any caching allocator, and it applies to the whole process: so zoo changes it only in a
process it owns (:func:`own_process`: its own commands, or a Python user who opts in). Set ``ZOO_KEEP_FREED_MEMORY=0`` to leave ``malloc`` alone; it is also
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
_owned = False


def own_process() -> None:
    """Declare this process zoo's own: keep freed memory, and shard prediction across the cores.

    zoo's commands (``zoo train``, ``predict``, ``serve``...) call it at start. From Python,
    ``zoo.load(RUN).predict(...)`` in someone else's process (a web app, a notebook) leaves the
    process's malloc thresholds and torch's thread count alone unless the host calls this first.
    """
    global _owned
    _owned = True
    keep_freed_memory()


def owns_process() -> bool:
    """Whether :func:`own_process` was called: process-wide settings are then zoo's to change."""
    return _owned


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

"""Giving freed memory back to the system (docs/ui.md "Memory").

glibc's malloc keeps freed blocks for reuse instead of returning them: after a session's screens are dropped and
the next shopper's are built, tens of MB of freed heap stay counted in the station's RSS. `release_free_memory`
asks glibc to hand every free page back (`malloc_trim(0)`), which it does with madvise, also from the middle of
the heap. Nothing live moves; elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import time
from functools import cache

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENA_MAX = 2            # the UI thread and one for every other thread (scanner, workers, Mesa's): not one each
MMAP_THRESHOLD = 256 * 1024   # camera frames (640×480×3 = 900 KB) and texture uploads: mapped, unmapped when freed


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018  (glibc only)
    except (OSError, AttributeError):
        return None   # not glibc (musl, macOS): nothing to tune or trim
    return libc


def tune_malloc() -> bool:
    """Bound glibc's heap growth in this process; call before threads start. True when glibc took the settings.

    By default every thread gets its own arena (up to 8 × cores), and the mmap threshold rises to 32 MB after the
    first large block is freed, so per-frame buffers end up in arenas that keep their high-water mark."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, ARENA_MAX)) and bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    libc = _libc()
    if libc is None:
        return None
    trim = libc.malloc_trim
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> float:
    """Return free heap pages to the system; the milliseconds it took (well under 1 ms here).

    No `gc.collect()` first: a full collection of the UI's ~700,000 objects took 0.7–2.6 s under load, a frozen
    attract loop; the dropped screens are collected by Python's own collections while the next ones are built."""
    started = time.perf_counter()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    return (time.perf_counter() - started) * 1000

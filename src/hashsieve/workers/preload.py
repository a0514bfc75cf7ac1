"""Imported once by the forkserver that starts the hashing workers (scan, media format, ICAP).

It loads the hashing code and its compiled PDQ kernels, so every worker forked from it starts
warm instead of each paying numba's cache load (about 1-2 s per process), and it sets the
per-worker memory limit: a hostile file that makes a decoder allocate without bound meets a
MemoryError (recorded as the file's error) instead of the OOM killer.

It also keeps glibc's allocator from handing every decoded picture's buffers back to the kernel:
by default a fresh process maps each allocation over 128 KB on its own and trims the heap as soon
as 2x that lies free at its top, so every decode page-faults its arrays in again. A worker hashing
one ~100 KB JPEG (1152x864) at a time took 9.6-12.5 ms per picture against 6.6 ms in a process
whose allocator had already adapted (`bench/icap.py`'s pictures, measured 2026-11-26); a scan of
400 photos of 2.6 MP went from 89.8 / 88.8 to 95.9 / 92.1 files/s in two interleaved rounds. Up
to 64 MB of freed memory stays with each worker for the next file; the memory limit bounds it.
"""

import ctypes
import os
import resource

from hashsieve.hashing import content  # noqa: F401  (imported for its side effect: loaded modules)
from hashsieve.hashing.pdq import warm_up

_limit_mb = int(os.environ.get("HASHSIEVE_WORKER_MEMORY_MB") or 0)
if _limit_mb > 0:
    _soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    _bytes = _limit_mb * 1024 * 1024
    if _hard == resource.RLIM_INFINITY or _bytes < _hard:
        resource.setrlimit(resource.RLIMIT_AS, (_bytes, _hard))


def _keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 64 << 20) -> None:
    """glibc mallopt: serve allocations below ``mmap_threshold`` from the heap and give memory
    back only when ``trim_threshold`` lies free (no-op where the C library lacks mallopt)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, mmap_threshold)
    mallopt(m_trim_threshold, trim_threshold)


_keep_freed_memory()
warm_up()

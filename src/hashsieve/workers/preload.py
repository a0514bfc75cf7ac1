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

import os

from hashsieve.hashing import content  # noqa: F401  (imported for its side effect: loaded modules)
from hashsieve.workers.process import limit_memory, prepare_worker

# The local pool's forkserver imports this module: set up every worker it forks.
limit_memory(int(os.environ.get("HASHSIEVE_WORKER_MEMORY_MB") or 0))
prepare_worker()

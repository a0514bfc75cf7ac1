"""How a hashing process prepares itself: the local pool's forkserver preload and a Dask
worker's plugin both call :func:`prepare_worker` (see :mod:`hashsieve.workers.preload` for
why each step is there)."""

from __future__ import annotations

import ctypes
import resource


def limit_memory(limit_mb: int) -> None:
    """Cap this process's address space at ``limit_mb`` MiB (0: no cap). Only for the local
    pool's workers: a Dask worker memory-maps the index and has its own limit (the nanny's)."""
    if limit_mb > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = limit_mb * 1024 * 1024
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 64 << 20) -> None:
    """glibc mallopt: serve allocations below ``mmap_threshold`` from the heap and give memory
    back only when ``trim_threshold`` lies free (no-op where the C library lacks mallopt)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, mmap_threshold)
    mallopt(m_trim_threshold, trim_threshold)


def prepare_worker() -> None:
    """What every hashing process does once before its first file (a Dask worker too,
    through :class:`hashsieve.workers.cluster.WarmUp`): allocator tuned, PDQ kernels warm."""
    from hashsieve.hashing import content  # noqa: F401  (the hashing modules, loaded once)
    from hashsieve.hashing.pdq import warm_up

    keep_freed_memory()
    warm_up()

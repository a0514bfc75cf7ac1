"""Imported once by the forkserver that starts the scan's workers.

It loads the hashing code and its compiled PDQ kernels, so every worker forked from it starts
warm instead of each paying numba's cache load (about 1-2 s per process), and it sets the
per-worker memory limit: a hostile file that makes a decoder allocate without bound meets a
MemoryError (recorded as the file's error) instead of the OOM killer.
"""

import os
import resource

from hashsieve.hashing.pdq import warm_up
from hashsieve.scan import worker  # noqa: F401  (imported for its side effect: loaded modules)

_limit_mb = int(os.environ.get("HASHSIEVE_WORKER_MEMORY_MB") or 0)
if _limit_mb > 0:
    _soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    _bytes = _limit_mb * 1024 * 1024
    if _hard == resource.RLIM_INFINITY or _bytes < _hard:
        resource.setrlimit(resource.RLIMIT_AS, (_bytes, _hard))

warm_up()

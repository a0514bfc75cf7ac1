"""Imported once by the forkserver that starts the scan's workers.

It loads the hashing code and its compiled PDQ kernels, so every worker forked from it starts
warm instead of each paying numba's cache load (about 1-2 s per process).
"""

from hashsieve.hashing.pdq import warm_up
from hashsieve.scan import worker  # noqa: F401  (imported for its side effect: loaded modules)

warm_up()

"""The PDQ index interface: codes in, range queries out. It knows nothing of images or stores.

Codes are ``(n, 32)`` uint8 arrays (PDQ hex order); ids are caller-chosen unsigned integers
(the store's hash-entry ids). Every implementation is exact: a query returns every indexed code
within ``threshold`` bits, which the tests check against brute force.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


# Runtime-checkable so that tests/index can hold every implementation to it.
@runtime_checkable
class PdqIndex(Protocol):
    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        """Index ``codes[i]`` under ``ids[i]`` (appends; no full rebuild)."""
        ...

    def remove(self, ids: np.ndarray) -> None:
        """Forget these ids; unknown ids are ignored."""
        ...

    def query(self, codes: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (query row, id, distance) with distance <= threshold, as three flat arrays."""
        ...

    def __len__(self) -> int: ...

    def save(self, directory: Path) -> None:
        """Persist to ``directory`` as plain arrays (no pickle), atomically."""
        ...

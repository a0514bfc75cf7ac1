"""hashsieve: find known material in seized media and put the new material first.

The library is the product; the CLI, web app and services are thin layers over it::

    from hashsieve import Store, Settings, import_hashset, run_scan
    store = Store(Settings(home=Path("case-home")))
    import_hashset(store, Path("vic.json"), "vic")
    summary = run_scan(store, "op-argos", ["/mnt/evidence"])

Names are imported on first use, so worker processes that only hash files do not pay for the
database and index layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hashsieve.config import VERSION as __version__

_EXPORTS = {
    "Settings": "hashsieve.config",
    "Store": "hashsieve.store",
    "run_scan": "hashsieve.scan.pipeline",
    "import_hashset": "hashsieve.hashsets.catalogue",
    "list_hashsets": "hashsieve.hashsets.catalogue",
    "delete_hashset": "hashsieve.hashsets.catalogue",
    "export_hashset": "hashsieve.hashsets.catalogue",
    "hash_file": "hashsieve.hashing.content",
}

if TYPE_CHECKING:
    from hashsieve.config import Settings
    from hashsieve.hashing.content import hash_file
    from hashsieve.hashsets.catalogue import (
        delete_hashset,
        export_hashset,
        import_hashset,
        list_hashsets,
    )
    from hashsieve.scan.pipeline import run_scan
    from hashsieve.store import Store


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hashsieve' has no attribute {name!r}")


__all__ = [
    "Settings",
    "Store",
    "__version__",
    "delete_hashset",
    "export_hashset",
    "hash_file",
    "import_hashset",
    "list_hashsets",
    "run_scan",
]

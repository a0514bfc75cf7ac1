"""hashsieve: find known material in seized media and put the new material first.

The library is the product; the CLI, web app and services are thin layers over it::

    from hashsieve import Store, Settings, import_hashset, run_scan
    store = Store(Settings(home=Path("case-home")))
    import_hashset(store, Path("vic.json"), "vic")
    summary = run_scan(store, "op-argos", ["/mnt/evidence"])
"""

__version__ = "0.1.0"

from hashsieve.catalogue import (
    delete_hashset,
    export_hashset,
    import_hashset,
    list_hashsets,
)
from hashsieve.config import Settings
from hashsieve.scan.pipeline import run_scan
from hashsieve.store import Store

__all__ = [
    "Settings",
    "Store",
    "__version__",
    "delete_hashset",
    "export_hashset",
    "import_hashset",
    "list_hashsets",
    "run_scan",
]

"""Fuzz disk-image parsing: the forensic image containers and file systems (sources/disk.py over
The Sleuth Kit and the libyal readers, ewf.py), the carver over unallocated space (carve.py),
Windows thumbnail caches (thumbcache.py) and documents' embedded pictures (documents.py).

An input is a file of the evidence, opened as a container by its content (as the scan does),
its files listed and hashed; then the carver runs over the same bytes. Allowed: as for archives
(fuzz/archive.py), and a carve result whose items lie inside the input.
"""

from __future__ import annotations

import io

from fuzz._harness import UnexpectedOutcome, input_file, main
from fuzz.archive import check_container

INSTRUMENT = ("hashsieve.sources",)


def load() -> None:
    import hashsieve.scan.worker
    import hashsieve.sources.archive
    import hashsieve.sources.carve
    import hashsieve.sources.disk
    import hashsieve.sources.documents
    import hashsieve.sources.ewf
    import hashsieve.sources.thumbcache  # noqa: F401


def one_input(data: bytes) -> None:
    from hashsieve.sources.carve import carve

    check_container(input_file(data, "evidence.bin"))
    found = carve(io.BytesIO(data), seconds=10.0)
    for item in found.items:
        if not 0 <= item.offset < item.offset + item.length <= len(data):
            raise UnexpectedOutcome(f"carved item outside the input: {item!r}")


if __name__ == "__main__":
    import sys

    main(sys.modules[__name__])

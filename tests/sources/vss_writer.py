"""A minimal Volume Shadow Copy writer for the tests: no Linux tool writes VSS stores, so this
one writes the structures libvshadow reads (layout from libvshadow's ``vshadow_*.h`` and its
readers, libvshadow-python 20260714): the volume header at 0x1e00, one catalog block, and per
store a store header and a block list whose descriptors map each 16 KiB block of the volume that
changed since the snapshot to a copy of its old content kept inside the volume.

``add_stores(current, snapshots)`` writes into ``current`` (a raw NTFS volume made for the test,
never evidence) one store per earlier state of the same volume, oldest first. As Windows does,
a store saves the blocks that differ from the next newer state (the next store's, or the live
volume's): libvshadow reads a block a store does not hold through the newer stores, then the
volume. All structures go into 16 KiB blocks that are zero in every state (free clusters of a
fresh ``mkntfs -Q`` volume); there is no store bitmap. ``damage`` overwrites a record's type so
libvshadow refuses it: a store header (the whole catalog then fails to open) or a block list
(that store alone)."""

from __future__ import annotations

import struct
import uuid
from pathlib import Path

BLOCK = 0x4000
HEADER_OFFSET = 0x1E00
VSS_GUID = bytes.fromhex("6b87083876c1484eb7ae04046e6cc752")
FILETIME_2020 = 132223104000000000  # 2020-01-01 UTC in 100 ns since 1601


def _record(record_type: int, offset: int, next_offset: int = 0) -> bytes:
    """The 128-byte header every catalog and store block starts with."""
    head = VSS_GUID + struct.pack("<IIqqq", 1, record_type, 0, offset, next_offset)
    return head.ljust(128, b"\0")


def _free_blocks(states: list[bytes]) -> list[int]:
    """Block offsets that are zero in every state, past the first MiB (the boot area, the
    MFT), from the end of the volume backwards, never its last block (the backup boot sector)."""
    size = min(len(s) for s in states)
    zero = bytes(BLOCK)
    found = [
        off
        for off in range(size - 2 * BLOCK, 0x100000, -BLOCK)
        if all(s[off : off + BLOCK] == zero for s in states)
    ]
    return found


def add_stores(current: Path, snapshots: list[bytes]) -> list[tuple[int, int]]:
    """Turns the volume file ``current`` into one with ``len(snapshots)`` shadow copies; returns
    each store's (header, block list) offsets, so a test can damage one."""
    live = current.read_bytes()
    free = _free_blocks([live, *snapshots])
    # one catalog block, then per store: header, block list, and the saved blocks
    newer = [*snapshots[1:], live]
    changed = [
        [o for o in range(0, len(live), BLOCK) if snap[o : o + BLOCK] != then[o : o + BLOCK]]
        for snap, then in zip(snapshots, newer, strict=True)
    ]
    needed = 1 + sum(2 + len(c) for c in changed)
    if len(free) < needed:
        raise ValueError(f"volume too full for shadow copies: {len(free)} free, {needed} needed")
    take = iter(free)
    catalog_offset = next(take)
    writes: dict[int, bytes] = {}
    entries: list[bytes] = []
    headers: list[tuple[int, int]] = []
    for index, (snap, blocks) in enumerate(zip(snapshots, changed, strict=True)):
        store_id = bytes(16)  # libvshadow matches catalog entries 2 and 3 by order, the id zero
        header_offset, list_offset = next(take), next(take)
        headers.append((header_offset, list_offset))
        info = (
            bytes(16)
            + uuid.uuid4().bytes_le
            + uuid.uuid4().bytes_le
            + struct.pack("<IIII", 0, 1, 0x0042000D, 0)
            + struct.pack("<HH", 0, 0)
        )
        writes[header_offset] = (_record(4, header_offset) + info).ljust(BLOCK, b"\0")
        rows = []
        for off in blocks:
            data_offset = next(take)
            writes[data_offset] = snap[off : off + BLOCK]
            rows.append(struct.pack("<qqqII", off, data_offset - list_offset, data_offset, 0, 0))
        if 128 + 32 * len(rows) > BLOCK:
            raise ValueError("more changed blocks than one block list holds")
        writes[list_offset] = (_record(3, list_offset) + b"".join(rows)).ljust(BLOCK, b"\0")
        created = FILETIME_2020 + index * 864_000_000_000  # a day apart, oldest first
        entries.append(
            struct.pack("<qq", 2, len(live)) + store_id + bytes(16) + struct.pack("<q", created)
        )
        entries.append(
            struct.pack("<qq", 3, list_offset)
            + store_id
            + struct.pack("<qqq", header_offset, 0, 0)
            + bytes(16)
            + struct.pack("<q", 0)
        )
    catalog = _record(2, catalog_offset) + b"".join(e.ljust(128, b"\0") for e in entries)
    if len(catalog) > BLOCK:
        raise ValueError("too many stores for one catalog block")
    writes[catalog_offset] = catalog.ljust(BLOCK, b"\0")
    volume_id = uuid.uuid4().bytes_le
    header = (
        VSS_GUID
        + struct.pack("<IIqqqqq", 1, 1, HEADER_OFFSET, 0, 0, catalog_offset, 0x100000)
        + volume_id
        + volume_id
    ).ljust(512, b"\0")
    with current.open("r+b") as fh:
        fh.seek(HEADER_OFFSET)
        fh.write(header)
        for off, data in writes.items():
            fh.seek(off)
            fh.write(data)
    return headers


def damage(current: Path, record_offset: int) -> None:
    """Overwrites the record type of the store record at ``record_offset``."""
    with current.open("r+b") as fh:
        fh.seek(record_offset + 20)
        fh.write(struct.pack("<I", 0x77))

"""A generated case of any size for the grid's tests and bench: rows, not scanned pictures.

``add_case(store, name, n)`` writes ``n`` file rows (bulk inserts, about 100,000 a second) with
the spread a seized card has: mostly new pictures, near-duplicate series and byte-identical
copies, some known (categories 1-3) and known-good files, videos and other files, camera EXIF
on some, GPS on fewer, a few deleted or carved. With ``pictures``, the first files are real
benign JPEGs written there (generated flat colours and stripes), so their thumbnails render;
the others are paths that do not exist (their thumbnails are placeholders).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from PIL import Image
from sqlalchemy import Table, insert, select

from hashsieve.store import Store
from hashsieve.store.models import Case, FileRecord, Scan

FILES = cast(Table, FileRecord.__table__)
CAMERAS = [
    ("Canon", "EOS 80D"),
    ("NIKON CORPORATION", "NIKON D7500"),
    ("Apple", "iPhone 12"),
    ("samsung", "SM-G991B"),
]
START = datetime(2016, 1, 1, tzinfo=UTC).timestamp()
SPAN = 9 * 365 * 86400


@dataclass
class Generated:
    case_id: int
    files: int
    groups: int


def _picture(path: Path, i: int) -> None:
    rnd = random.Random(i)
    image = Image.new("RGB", (96, 72), tuple(rnd.randrange(256) for _ in range(3)))
    stripe = tuple(rnd.randrange(256) for _ in range(3))
    for x in range(rnd.randrange(4, 40), 96, rnd.randrange(8, 24)):
        image.paste(stripe, (x, 0, x + 4, 72))
    image.save(path, "JPEG", quality=70)


def add_case(
    store: Store,
    name: str,
    n: int,
    *,
    seed: int = 19,
    pictures: Path | None = None,
    real: int = 0,
    real_groups: int = 0,
    batch: int = 20_000,
) -> Generated:
    """Write a case of ``n`` files; the first ``real`` are JPEGs under ``pictures``.

    With ``real_groups``, the first file of every group of at least that many files is a
    picture too (a hard link to one of 256 generated ones), so the first screen of the grid,
    largest groups first, shows real thumbnails in a case of a million rows.
    """
    rnd = random.Random(seed)
    with store.session() as s:
        case = Case(name=name)
        s.add(case)
        s.flush()
        scan = Scan(case_id=case.id, root=json.dumps(["/evidence"]), status="completed", files=n)
        s.add(scan)
        s.flush()
        case_id, scan_id = case.id, scan.id
        first = (s.scalar(select(FileRecord.id).order_by(FileRecord.id.desc()).limit(1)) or 0) + 1
    if pictures is not None:
        pictures.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    i = 0
    groups = 0
    while i < n:
        roll = rnd.random()
        size = 1 if roll < 0.7 else (rnd.randint(2, 4) if roll < 0.95 else rnd.randint(5, 40))
        size = min(size, n - i)
        groups += 1
        gid = first + i
        copies = size > 1 and rnd.random() < 0.3  # byte-identical copies, else a series
        v = rnd.random()
        verdict, category, kind = "new", None, "image"
        if size == 1 or copies:
            if v < 0.10:
                verdict, category = "known", rnd.choice((1, 1, 2, 3))
            elif v < 0.13:
                verdict = "known-good"
            elif v < 0.15:
                verdict, kind = "other", "other"
            elif v < 0.16:
                verdict = "unreadable"
            elif v < 0.19:
                kind = "video"
        camera = rnd.choice(CAMERAS) if rnd.random() < 0.4 else None
        taken = START + rnd.random() * SPAN
        for k in range(size):
            fid = first + i
            path = f"/evidence/dir{i // 1000:04d}/sub{(i // 50) % 20:02d}/IMG_{i:07d}.jpg"
            if kind == "video":
                path = path[:-4] + ".mp4"
            if pictures is not None and i < real:
                file = pictures / f"p{i:07d}.jpg"
                _picture(file, i)
                path = str(file)
            elif pictures is not None and real_groups and k == 0 and size >= real_groups:
                pool = pictures / "pool" / f"{fid % 256:03d}.jpg"
                if not pool.exists():
                    pool.parent.mkdir(exist_ok=True)
                    _picture(pool, fid % 256)
                file = pictures / f"g{i:07d}.jpg"
                os.link(pool, file)
                path = str(file)
            sha = hashlib.sha256(f"{seed}:{gid if copies else fid}".encode()).hexdigest()
            meta: dict[str, Any] | None = None
            if camera is not None:
                when = datetime.fromtimestamp(taken + k * 2, UTC)
                meta = {
                    "Make": camera[0],
                    "Model": camera[1],
                    "BodySerialNumber": f"SN{gid % 97:04d}",
                    "DateTimeOriginal": when.strftime("%Y:%m:%d %H:%M:%S"),
                }
                if rnd.random() < 0.3:
                    meta["GPSLatitude"] = round(rnd.uniform(-60, 60), 5)
                    meta["GPSLongitude"] = round(rnd.uniform(-150, 150), 5)
            recovered = None
            if rnd.random() < 0.02:
                recovered = rnd.choice(("deleted", "carved"))
            rows.append(
                {
                    "id": fid,
                    "case_id": case_id,
                    "scan_id": scan_id,
                    "path_key": path.encode(),
                    "path_text": path,
                    "size": rnd.randint(20_000, 6_000_000) if kind != "video" else 40_000_000,
                    "mtime_ns": int((START + rnd.random() * SPAN) * 1e9),
                    "md5": sha[:32],
                    "sha1": sha[:40],
                    "sha256": sha,
                    "media_kind": kind,
                    "mime": "image/jpeg" if kind == "image" else None,
                    "width": rnd.choice((640, 1024, 1600, 3024, 4000)) if kind == "image" else None,
                    "height": rnd.choice((480, 768, 1200, 3024)) if kind == "image" else None,
                    "pdq": None,
                    "quality": None,
                    "verdict": verdict,
                    "category": category,
                    "group_id": gid,
                    "group_size": size,
                    "metadata_json": json.dumps(meta) if meta else None,
                    "recovered": recovered,
                }
            )
            i += 1
        if len(rows) >= batch:
            _flush(store, rows)
    _flush(store, rows)
    return Generated(case_id, n, groups)


def _flush(store: Store, rows: list[dict[str, Any]]) -> None:
    if rows:
        with store.session() as s:
            s.execute(insert(FILES), rows)
        rows.clear()

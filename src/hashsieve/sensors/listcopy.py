"""A sensor's copy of the console's hash list, and matching a hashed file against it.

Crypto digests are held only as keyed digests (HMAC-SHA256 under the console's list key, cut to
16 bytes): the copy answers "is this file's digest listed?" for a file in hand, but the listed
digests cannot be read back out of it, nor looked up elsewhere. Its limit: whoever holds the
machine holds the key too, so they can test files they already have against the list.

PDQ codes (and the reference parts of known originals, ``pdq-crop`` / ``pdq-top``) are held as
they are: a Hamming distance needs the real bits, and no keyed form keeps
distances. A PDQ code does not let anyone rebuild the picture, but it does reveal the list's
perceptual hashes; a console can leave them out (``hashlist?pdq=false``; agent ``--no-pdq``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashsieve.config import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from hashsieve.hashing.content import FileResult
from hashsieve.hashing.pdq import DIHEDRAL_NAMES, PDQ_BYTES
from hashsieve.hashing.reference import PART_ALGORITHMS, regions_by_table
from hashsieve.index.pdq_index import BruteForcePdqIndex
from hashsieve.sensors.console import keyed_digest

CRYPTO = ("md5", "sha1", "sha256")


@dataclass
class ListCopy:
    """Entries by keyed digest, PDQ codes in an exact index, and the version they make up."""

    version: str = "0"
    key: bytes = b""
    hashsets: dict[int, str] = field(default_factory=dict)
    #: keyed digest -> [(entry id, hash set id, algorithm, category)]
    keyed: dict[bytes, list[tuple[int, int, str, int | None]]] = field(default_factory=dict)
    #: PDQ entry id -> (hash set id, category, code)
    pdq: dict[int, tuple[int, int | None, bytes]] = field(default_factory=dict)
    #: Reference parts of known originals: algorithm -> {entry id -> (hash set id, category, code)}
    parts: dict[str, dict[int, tuple[int, int | None, bytes]]] = field(
        default_factory=lambda: {algo: {} for algo in PART_ALGORITHMS}
    )
    pdq_threshold: int = PDQ_MATCH_THRESHOLD
    pdq_min_quality: int = PDQ_MIN_QUALITY
    #: Part entry id -> the id of its original's plain PDQ entry (one original, told once).
    part_group: dict[int, int] = field(default_factory=dict)
    _indexes: dict[str, BruteForcePdqIndex] = field(default_factory=dict)

    def __len__(self) -> int:
        parts = sum(len(v) for v in self.parts.values())
        return sum(len(v) for v in self.keyed.values()) + len(self.pdq) + parts

    @property
    def wants_parts(self) -> bool:
        """Whether files need their upper parts hashed (``HashOptions.parts``) for this list."""
        return bool(self.parts["pdq-top"])

    def apply(self, payload: dict[str, Any], *, use_pdq: bool = True) -> None:
        """Apply a ``/api/sensors/hashlist`` answer (a full list or the changes since ours)."""
        if payload.get("since", "0") != self.version and payload.get("since") != "0":
            raise ValueError("the list changes do not start at this copy's version")
        if payload.get("since") == "0":
            self.keyed.clear()
            self.pdq.clear()
            for table in self.parts.values():
                table.clear()
            self.part_group.clear()
        key = bytes.fromhex(payload["key"])
        if self.key and key != self.key:
            raise ValueError("the console's list key changed: fetch the whole list")
        self.key = key
        gone = set(payload.get("remove") or [])
        if gone:
            self.keyed = {
                k: kept
                for k, v in self.keyed.items()
                if (kept := [e for e in v if e[1] not in gone])
            }
            self.pdq = {i: v for i, v in self.pdq.items() if v[0] not in gone}
            self.parts = {
                algo: {i: v for i, v in table.items() if v[0] not in gone}
                for algo, table in self.parts.items()
            }
            still = {i for table in self.parts.values() for i in table}
            self.part_group = {i: g for i, g in self.part_group.items() if i in still}
        for entry_id, set_id, algorithm, value, category, *group in payload.get("entries") or []:
            if algorithm == "pdq":
                if use_pdq:
                    self.pdq[entry_id] = (set_id, category, bytes.fromhex(value))
            elif algorithm in self.parts:
                if use_pdq:
                    self.parts[algorithm][entry_id] = (set_id, category, bytes.fromhex(value))
                    self.part_group[entry_id] = group[0] if group else entry_id
            elif algorithm in CRYPTO:
                self.keyed.setdefault(bytes.fromhex(value), []).append(
                    (entry_id, set_id, algorithm, category)
                )
        self.hashsets = {int(k): v for k, v in (payload.get("hashsets") or {}).items()}
        self.version = payload["version"]
        self._indexes = {}

    def _index(self, table: str) -> BruteForcePdqIndex:
        """The exact index of one PDQ table ("pdq" or a part algorithm), built on first use."""
        index = self._indexes.get(table)
        if index is None:
            entries = self.pdq if table == "pdq" else self.parts[table]
            index = BruteForcePdqIndex()
            if entries:
                ids = np.fromiter(entries, np.uint32, len(entries))
                codes = np.frombuffer(b"".join(v[2] for v in entries.values()), np.uint8)
                index.add(ids, codes.reshape(-1, PDQ_BYTES))
            self._indexes[table] = index
        return index

    def match(self, result: FileResult) -> list[dict[str, Any]]:
        """What of the list ``result`` matches: entry ids, hash sets, algorithm, distance.

        The same regions as the scan's matcher (hashsieve.matching): the whole image with its 8
        dihedral variants, each candidate region at its own threshold, both against plain PDQ
        and the crop parts of known originals, and the upper parts against the upper parts.
        """
        hits: dict[int, dict[str, Any]] = {}
        if self.key:
            for algorithm in CRYPTO:
                digest = getattr(result, algorithm)
                if digest is None:
                    continue
                keyed = keyed_digest(self.key, algorithm, bytes.fromhex(digest))
                for entry_id, set_id, algo, category in self.keyed.get(keyed, ()):
                    if algo == algorithm:
                        hits[entry_id] = self._hit(entry_id, set_id, algo, 0, category)
        # (code, variant, seconds, region, threshold) per table
        queries: dict[str, list[tuple[bytes, str | None, float | None, str | None, int]]] = {
            table: [
                (codes[i * PDQ_BYTES : (i + 1) * PDQ_BYTES], variant, None, region, limit)
                for region, limit, codes in regions
                for i, variant in enumerate(DIHEDRAL_NAMES)
            ]
            for table, regions in regions_by_table(
                result.dihedral,
                result.quality,
                result.candidates,
                min_quality=self.pdq_min_quality,
                threshold=self.pdq_threshold,
            ).items()
        }
        for frame in result.frames or ():
            if frame.quality >= self.pdq_min_quality:
                queries["pdq"].append((frame.code, None, frame.seconds, None, self.pdq_threshold))
        best: dict[int, tuple[tuple[bool, int], dict[str, Any]]] = {}
        for table, rows_of in queries.items():
            entries = self.pdq if table == "pdq" else self.parts[table]
            if not rows_of or not entries:
                continue
            block = np.frombuffer(b"".join(q[0] for q in rows_of), np.uint8)
            rows, ids, dists = self._index(table).query(
                block.reshape(-1, PDQ_BYTES), max(q[4] for q in rows_of)
            )
            for row, entry_id, dist in zip(
                rows.tolist(), ids.tolist(), dists.tolist(), strict=True
            ):
                _code, variant, seconds, region, limit = rows_of[row]
                if dist > limit:
                    continue
                rank = (region is not None, dist)  # the whole image first, then the closest
                if entry_id in best and best[entry_id][0] <= rank:
                    continue
                set_id, category, _ = entries[entry_id]
                hit = self._hit(entry_id, set_id, table, dist, category)
                if variant and variant != "r0":
                    hit["variant"] = variant
                if seconds is not None:
                    hit["seconds"] = round(seconds, 3)
                if region is not None:
                    hit["candidate"] = region
                best[entry_id] = (rank, hit)
        exact = bool(hits)  # a listed digest: the file itself is known, its parts are no news
        plain = {i for i, (_, h) in best.items() if h["algorithm"] == "pdq"}
        closest: dict[int, tuple[tuple[bool, int], dict[str, Any]]] = {}
        for entry_id, (rank, hit) in best.items():
            if hit["algorithm"] == "pdq":
                hits.setdefault(entry_id, hit)
                continue
            group = self.part_group.get(entry_id, entry_id)
            if exact or group in plain:
                continue
            if group not in closest or rank < closest[group][0]:
                closest[group] = (rank, hit)  # of one original's parts, the closest
        for _rank, hit in closest.values():
            hits.setdefault(hit["entry_id"], hit)
        return sorted(hits.values(), key=lambda h: (h["distance"], h["entry_id"]))

    def _hit(
        self, entry_id: int, set_id: int, algorithm: str, distance: int, category: int | None
    ) -> dict[str, Any]:
        return {
            "entry_id": entry_id,
            "hashset": self.hashsets.get(set_id),
            "category": category,
            "algorithm": algorithm,
            "distance": distance,
        }

    # --- on disk (the agent keeps its copy between runs) ---------------------------------------

    def save(self, path: Path) -> None:
        """Write the copy to an SQLite file (keyed digests and PDQ codes, nothing plain)."""
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(tmp) as db:
            db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
            db.execute(
                "CREATE TABLE keyed (value BLOB, entry INT, hashset INT, algo TEXT, cat INT)"
            )
            db.execute("CREATE TABLE pdq (entry INT PRIMARY KEY, hashset INT, cat INT, code BLOB)")
            db.execute(
                "CREATE TABLE parts"
                " (algo TEXT, entry INT, hashset INT, cat INT, code BLOB, grp INT)"
            )
            meta = {
                "version": self.version,
                "key": self.key.hex(),
                "hashsets": json.dumps(self.hashsets),
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.executemany(
                "INSERT INTO keyed VALUES (?, ?, ?, ?, ?)",
                ((k, *e) for k, v in self.keyed.items() for e in v),
            )
            db.executemany(
                "INSERT INTO pdq VALUES (?, ?, ?, ?)", ((i, *v) for i, v in self.pdq.items())
            )
            db.executemany(
                "INSERT INTO parts VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (a, i, *v, self.part_group.get(i, i))
                    for a, table in self.parts.items()
                    for i, v in table.items()
                ),
            )
        db.close()
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ListCopy:
        copy = cls()
        if not path.exists():
            return copy
        db = sqlite3.connect(path)
        try:
            meta = dict(db.execute("SELECT name, value FROM meta"))
            copy.version, copy.key = meta["version"], bytes.fromhex(meta["key"])
            copy.hashsets = {int(k): v for k, v in json.loads(meta["hashsets"]).items()}
            for value, entry, hashset, algo, cat in db.execute("SELECT * FROM keyed"):
                copy.keyed.setdefault(bytes(value), []).append((entry, hashset, algo, cat))
            for entry, hashset, cat, code in db.execute("SELECT * FROM pdq"):
                copy.pdq[entry] = (hashset, cat, bytes(code))
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            # A copy saved before reference parts existed has no such table.
            for algo, entry, hashset, cat, code, group in (
                db.execute("SELECT * FROM parts") if "parts" in tables else ()
            ):
                if algo in copy.parts:
                    copy.parts[algo][entry] = (hashset, cat, bytes(code))
                    copy.part_group[entry] = group
        finally:
            db.close()
        return copy

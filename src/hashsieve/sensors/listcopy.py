"""A sensor's copy of the console's hash list, and matching a hashed file against it.

Crypto digests are held only as keyed digests (HMAC-SHA256 under the console's list key, cut to
16 bytes): the copy answers "is this file's digest listed?" for a file in hand, but the listed
digests cannot be read back out of it, nor looked up elsewhere. Its limit: whoever holds the
machine holds the key too, so they can test files they already have against the list.

PDQ codes are held as they are: a Hamming distance needs the real bits, and no keyed form keeps
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
from hashsieve.hashing.pdq import DIHEDRAL_NAMES, PDQ_BYTES
from hashsieve.index.pdq_index import BruteForcePdqIndex
from hashsieve.scan.worker import FileResult
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
    pdq_threshold: int = PDQ_MATCH_THRESHOLD
    pdq_min_quality: int = PDQ_MIN_QUALITY
    _index: BruteForcePdqIndex | None = None

    def __len__(self) -> int:
        return sum(len(v) for v in self.keyed.values()) + len(self.pdq)

    def apply(self, payload: dict[str, Any], *, use_pdq: bool = True) -> None:
        """Apply a ``/api/sensors/hashlist`` answer (a full list or the changes since ours)."""
        if payload.get("since", "0") != self.version and payload.get("since") != "0":
            raise ValueError("the list changes do not start at this copy's version")
        if payload.get("since") == "0":
            self.keyed.clear()
            self.pdq.clear()
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
        for entry_id, set_id, algorithm, value, category in payload.get("entries") or []:
            if algorithm == "pdq":
                if use_pdq:
                    self.pdq[entry_id] = (set_id, category, bytes.fromhex(value))
            elif algorithm in CRYPTO:
                self.keyed.setdefault(bytes.fromhex(value), []).append(
                    (entry_id, set_id, algorithm, category)
                )
        self.hashsets = {int(k): v for k, v in (payload.get("hashsets") or {}).items()}
        self.version = payload["version"]
        self._index = None

    @property
    def index(self) -> BruteForcePdqIndex:
        if self._index is None:
            index = BruteForcePdqIndex()
            if self.pdq:
                ids = np.fromiter(self.pdq, np.uint32, len(self.pdq))
                codes = np.frombuffer(b"".join(v[2] for v in self.pdq.values()), np.uint8)
                index.add(ids, codes.reshape(-1, PDQ_BYTES))
            self._index = index
        return self._index

    def match(self, result: FileResult) -> list[dict[str, Any]]:
        """What of the list ``result`` matches: entry ids, hash sets, algorithm, distance."""
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
        queries: list[tuple[bytes, str | None, float | None]] = []
        if result.dihedral and (result.quality or 0) >= self.pdq_min_quality:
            codes = result.dihedral
            queries += [
                (codes[i * PDQ_BYTES : (i + 1) * PDQ_BYTES], name, None)
                for i, name in enumerate(DIHEDRAL_NAMES)
            ]
        for frame in result.frames or ():
            if frame.quality >= self.pdq_min_quality:
                queries.append((frame.code, None, frame.seconds))
        if queries and self.pdq:
            rows, ids, dists = self.index.query(
                np.frombuffer(b"".join(q[0] for q in queries), np.uint8).reshape(-1, PDQ_BYTES),
                self.pdq_threshold,
            )
            for row, entry_id, dist in zip(
                rows.tolist(), ids.tolist(), dists.tolist(), strict=True
            ):
                old = hits.get(entry_id)
                if old is not None and old["distance"] <= dist:
                    continue
                set_id, category, _code = self.pdq[entry_id]
                hit = self._hit(entry_id, set_id, "pdq", dist, category)
                _, variant, seconds = queries[row]
                if variant and variant != "r0":
                    hit["variant"] = variant
                if seconds is not None:
                    hit["seconds"] = round(seconds, 3)
                hits[entry_id] = hit
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
        finally:
            db.close()
        return copy

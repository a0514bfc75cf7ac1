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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashsieve.config import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from hashsieve.hashing.algorithms import CRYPTO_ALGORITHMS, PART_ALGORITHMS
from hashsieve.hashing.content import FileResult
from hashsieve.hashing.pdq import PDQ_BYTES
from hashsieve.index.pdq_index import BruteForcePdqIndex
from hashsieve.matching import rules
from hashsieve.matching.hits import KNOWN, Entry, Found, MatchHit
from hashsieve.sensors.console import keyed_digest


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
    _entries: dict[int, Entry] | None = None

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
            elif algorithm in CRYPTO_ALGORITHMS:
                self.keyed.setdefault(bytes.fromhex(value), []).append(
                    (entry_id, set_id, algorithm, category)
                )
        self.hashsets = {int(k): v for k, v in (payload.get("hashsets") or {}).items()}
        self.version = payload["version"]
        self._indexes = {}
        self._entries = None

    @classmethod
    def from_records(
        cls,
        records: Iterable[tuple[int, int, str, bytes, int | None]],
        hashsets: Mapping[int, str] | None = None,
        *,
        original: Mapping[int, int] | None = None,
        pdq_threshold: int = PDQ_MATCH_THRESHOLD,
        pdq_min_quality: int = PDQ_MIN_QUALITY,
    ) -> ListCopy:
        """An in-memory list (no console, no keying secret worth the name) from
        ``(entry id, hash set id, algorithm, raw value, category)`` records, for benchmarks and
        tests that match through the same rule as the sensors. ``original`` maps a part's entry
        id to its original's (the plain PDQ entry's id); a part without one stands alone."""
        key = b"in-memory list"
        original = original or {}
        records = list(records)
        entries = [
            [
                entry_id,
                set_id,
                algo,
                (keyed_digest(key, algo, value) if algo in CRYPTO_ALGORITHMS else value).hex(),
                category,
                *([original.get(entry_id, entry_id)] if algo in PART_ALGORITHMS else []),
            ]
            for entry_id, set_id, algo, value, category in records
        ]
        names = hashsets or {set_id: f"set {set_id}" for _, set_id, *_ in records}
        copy = cls(pdq_threshold=pdq_threshold, pdq_min_quality=pdq_min_quality)
        copy.apply(
            {
                "since": "0",
                "version": "in-memory",
                "key": key.hex(),
                "hashsets": {str(k): v for k, v in names.items()},
                "entries": entries,
            }
        )
        return copy

    # --- KnownHashes (hashsieve.matching.rules) ------------------------------------------------

    def lookup(self, algorithm: str, digests: Sequence[bytes]) -> list[tuple[int, int]]:
        if not self.key:
            return []
        return [
            (row, entry_id)
            for row, digest in enumerate(digests)
            for entry_id, _set, algo, _cat in self.keyed.get(
                keyed_digest(self.key, algorithm, digest), ()
            )
            if algo == algorithm
        ]

    def query(self, table: str, codes: np.ndarray, radius: int) -> Found:
        return self._index(table).query(codes, radius)

    def entries(self, entry_ids: Sequence[int]) -> dict[int, Entry]:
        if self._entries is None:
            self._entries = self._all_entries()
        return {i: self._entries[i] for i in entry_ids if i in self._entries}

    def video_length(self, hashset_id: int, video: str) -> float:
        return 0.0  # the names of known videos stay on the console

    def _all_entries(self) -> dict[int, Entry]:
        # Every list entry is of a known set (the console ships no known-good ones); the names
        # stay on the console, which fills them in from the entry id of an alert's match.
        out: dict[int, Entry] = {}

        def entry(set_id: int, algo: str, category: int | None, original: int) -> Entry:
            name = self.hashsets.get(set_id, "")
            return Entry(set_id, name, KNOWN, "", algo, category, None, (set_id, original))

        for listed in self.keyed.values():
            for entry_id, set_id, algo, category in listed:
                out[entry_id] = entry(set_id, algo, category, entry_id)
        for entry_id, (set_id, category, _code) in self.pdq.items():
            out[entry_id] = entry(set_id, "pdq", category, entry_id)
        for algo, table in self.parts.items():
            for entry_id, (set_id, category, _code) in table.items():
                out[entry_id] = entry(
                    set_id, algo, category, self.part_group.get(entry_id, entry_id)
                )
        return out

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

    def match(self, result: FileResult) -> list[MatchHit]:
        """What of the list ``result`` matches, by the scan's own rule
        (:func:`hashsieve.matching.rules.match`); whether that is worth an alert is
        :func:`hashsieve.matching.rules.known_bad`'s to say."""
        [hits] = rules.match(self, [result])
        return hits

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


def alert_match(hit: MatchHit) -> dict[str, Any]:
    """A hit as a sensor's alert carries it: the entry id, which the console resolves to its
    names, and what matched."""
    out = {"entry_id": hit.entry_id, **hit.as_dict()}
    if not out.get("entry"):
        out.pop("entry", None)
    return out

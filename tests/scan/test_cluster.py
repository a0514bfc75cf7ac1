"""A scan on a real Dask cluster (a LocalCluster of 2 single-threaded worker processes on
loopback): the same rows as the local pool, nothing lost or doubled when a worker or the client
is killed mid-scan, and the workers answer the index questions themselves."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

from hashsieve import run_scan
from hashsieve.config import Settings
from hashsieve.hashing.pdq import pdq_hash
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.store import Store
from tests.sources.disk_builders import MISSING, fat_fs

PICTURES = [jpeg_bytes(photo_like(seed, (320, 240))) for seed in range(40, 49)]
ORIGINAL = photo_like(60, (640, 480))  # listed by PDQ only; the evidence holds it resized
RESIZED = jpeg_bytes(ORIGINAL.resize((320, 240)))
ZIPPED = [jpeg_bytes(photo_like(seed, (320, 240))) for seed in (70, 71)]
ON_DISK = jpeg_bytes(photo_like(80, (320, 240)))
DELETED = jpeg_bytes(photo_like(81, (320, 240)))
LISTED_BY_MD5 = [PICTURES[0], PICTURES[5], ZIPPED[1], DELETED]

ROW = (
    "SELECT f.path_text, f.size, f.md5, f.sha1, f.sha256, f.pdq, f.quality, f.media_kind, "
    'f.verdict, f.category, f.error, f.recovered, f."offset", '
    "m.hashset, m.entry, m.algorithm, m.distance, m.variant, m.candidate "
    "FROM files f LEFT JOIN matches m ON m.file_id = f.id"
)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folders of pictures, a resized known picture, a ZIP, bad input, a symlink and (where the
    Debian tools are) a FAT disk image with a deleted picture."""
    root = tmp_path_factory.mktemp("evidence")
    for i, data in enumerate(PICTURES):
        folder = root / f"dir{i % 3}"
        folder.mkdir(exist_ok=True)
        (folder / f"p{i}.jpg").write_bytes(data)
    (root / "dir0" / "resized.jpg").write_bytes(RESIZED)
    (root / "dir1" / "bundle.zip").write_bytes(
        _zip({"a/z0.jpg": ZIPPED[0], "a/z1.jpg": ZIPPED[1], "notes.txt": b"hello\n"})
    )
    (root / "dir2" / "broken.jpg").write_bytes(PICTURES[3][:700])  # cut short
    (root / "dir2" / "notes.txt").write_text("nothing to see\n")
    (root / "dir2" / "link.jpg").symlink_to(root / "dir0" / "p0.jpg")
    if not MISSING:
        work = tmp_path_factory.mktemp("disk")
        image = fat_fs(
            work / "fat.img", {"DCIM/keep.jpg": ON_DISK}, {"DCIM/gone.jpg": DELETED}, mib=4
        )
        (root / "disk.img").write_bytes(image.read_bytes())
    return root


def _known_list(folder: Path) -> Path:
    listing = folder / "known.txt"
    lines = [f"md5 {hashlib.md5(b).hexdigest()}" for b in LISTED_BY_MD5]
    lines.append(f"pdq {pdq_hash(ORIGINAL).hex}")
    listing.write_text("\n".join(lines) + "\n")
    return listing


def _store(home: Path) -> Store:
    store = Store(Settings(home=home, workers=2))
    import_hashset(store, _known_list(home.parent), "known", category=1)
    return store


def _rows(store: Store) -> list[tuple[Any, ...]]:
    db = store.settings.home / "hashsieve.db"
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(ROW).fetchall(), key=repr)


def _paths_once(store: Store) -> tuple[int, int]:
    with sqlite3.connect(store.settings.home / "hashsieve.db") as conn:
        return conn.execute("SELECT count(*), count(DISTINCT path_key) FROM files").fetchone()


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster, set_as_default=False) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def local_rows(evidence: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    """The local pool's rows for the evidence: what every cluster scan must store."""
    store = _store(tmp_path_factory.mktemp("local") / "home")
    try:
        run_scan(store, "c", [str(evidence)])
        return _rows(store)
    finally:
        store.close()


def test_a_cluster_scan_stores_the_same_rows_as_a_local_one(
    evidence: Path, client: Client, local_rows: list[tuple], tmp_path: Path
) -> None:
    store = _store(tmp_path / "home")
    try:
        summary = run_scan(store, "c", [str(evidence)], cluster=client)
        rows = _rows(store)
        assert rows == local_rows
        assert _paths_once(store)[0] == _paths_once(store)[1]
    finally:
        store.close()
    by_path = {r[0].removeprefix(f"{evidence}/"): r for r in rows}
    # The index questions were answered on the workers: digests, PDQ of a resized copy,
    # members of the ZIP (and of the disk image, deleted or not) are matched.
    assert by_path["dir0/p0.jpg"][8] == "known" and by_path["dir0/p0.jpg"][15] == "md5"
    assert by_path["dir0/resized.jpg"][8] == "known"
    assert by_path["dir0/resized.jpg"][15] == "pdq" and by_path["dir0/resized.jpg"][16] > 0
    assert by_path["dir1/bundle.zip!/a/z1.jpg"][8] == "known"
    assert by_path["dir1/bundle.zip!/a/z0.jpg"][8] == "new"
    assert by_path["dir2/broken.jpg"][10] is not None  # bad input: a recorded error
    assert by_path["dir2/link.jpg"][8] == "other"
    if not MISSING:
        assert by_path["disk.img!/DCIM/keep.jpg"][8] == "new"
        gone = [r for p, r in by_path.items() if p.startswith("disk.img!/") and r[11] == "deleted"]
        assert gone and all(r[8] == "known" for r in gone)
        # Its free clusters carved by a cluster task (scan/listing.py): the deleted picture again.
        carved = [r for p, r in by_path.items() if p.startswith("disk.img!/$Unallocated/@")]
        assert carved and all(r[8] == "known" and r[11] == "carved" for r in carved)
    assert summary.verdicts["known"] >= 5


def test_a_worker_killed_mid_scan_costs_nothing(
    evidence: Path, client: Client, local_rows: list[tuple], tmp_path: Path
) -> None:
    pids = client.run(os.getpid)
    killed: list[int] = []

    class KillAWorker:
        """After the first results are in, SIGKILL one worker process (its nanny restarts it;
        the scheduler gives its tasks to the other)."""

        seen = 0

        def total(self, files: int, size: int, final: bool) -> None: ...

        def more(self, files: int, size: int) -> None: ...

        def advance(self, files: int, size: int) -> None:
            self.seen += files
            if self.seen >= 3 and not killed:
                pid = sorted(pids.values())[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    store = _store(tmp_path / "home")
    try:
        run_scan(store, "c", [str(evidence)], cluster=client, progress=KillAWorker())
        assert killed, "the worker was killed during the scan"
        assert _rows(store) == local_rows  # every file once, none lost, the same verdicts
        assert _paths_once(store)[0] == _paths_once(store)[1]
    finally:
        store.close()
    assert killed[0] not in client.run(os.getpid).values()


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM files").fetchone()[0])


#: A client that SIGKILLs itself once 40 results are in (32 of them committed, 16 per batch).
CLIENT = """
import os, signal, sys
from pathlib import Path
from hashsieve import Settings, Store, run_scan

class KillMe:
    seen = 0
    def total(self, files, size, final): ...
    def more(self, files, size): ...
    def advance(self, files, size):
        self.seen += files
        if self.seen >= 40:
            os.kill(os.getpid(), signal.SIGKILL)

home, evidence, address = sys.argv[1:]
store = Store(Settings(home=Path(home), workers=2, commit_every=16))
run_scan(store, "k", [evidence], cluster=address, progress=KillMe())
"""


def test_the_client_killed_mid_scan_resumes_without_doubles(client: Client, tmp_path: Path) -> None:
    total = 80
    evidence = tmp_path / "many"
    for i in range(total):
        folder = evidence / f"d{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.jpg").write_bytes(jpeg_bytes(photo_like(i, (48, 48)), quality=70))
    home = tmp_path / "home"
    address = client.scheduler.address
    killed = subprocess.run(
        [sys.executable, "-c", CLIENT, str(home), str(evidence), address], capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    done_before = _count(home / "hashsieve.db")
    assert 32 <= done_before < total  # the kill landed mid-scan, after two commits

    store = Store(Settings(home=home, workers=2))
    try:
        summary = run_scan(store, "k", [str(evidence)], cluster=client)
        assert summary.skipped == done_before  # finished work is not redone
        assert summary.files == total - done_before
        assert _paths_once(store) == (total, total)  # each file once
    finally:
        store.close()

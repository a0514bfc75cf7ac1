"""The endpoint agent: watch folders, hash new or changed media, match locally, alert the console.

Events come from fanotify when running as root (one mark per filesystem: close-after-write,
moves in, new folders; hashsieve.sensors.fanotify), otherwise from inotify through watchdog; a
periodic rescan catches what events miss (overflowed queues, network shares, drives mounted
later).
Every path waits until it has been quiet for ``settle`` seconds, so a file written in pieces is
hashed once, whole. Hashing is the scan's own (``hash_file``), throttled to a CPU share; files
above a size limit and content that is not an image or video by its first bytes are skipped.

Only metadata leaves the machine: host, user (the file's owner), path, time, hashes and the
match. Alerts wait in an on-disk outbox until the console has them.
"""

from __future__ import annotations

import logging
import os
import pwd
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashsieve.config import MAX_IMAGE_PIXELS
from hashsieve.hashing.content import HashOptions, hash_file
from hashsieve.hashing.media import MediaKind, sniff
from hashsieve.matching.hits import MatchHit
from hashsieve.matching.rules import known_bad
from hashsieve.sensors.client import (
    ConsoleClient,
    ConsoleError,
    Outbox,
    host_name,
    new_alert_id,
    now_iso,
)
from hashsieve.sensors.listcopy import ListCopy, alert_match

log = logging.getLogger(__name__)

#: Extensions that are never images or videos: skipped without opening the file.
SKIP_SUFFIXES = frozenset(
    [
        ".txt",
        ".log",
        ".md",
        ".json",
        ".xml",
        ".html",
        ".htm",
        ".css",
        ".js",
        ".py",
        ".pyc",
        ".c",
        ".h",
        ".o",
        ".so",
        ".a",
        ".db",
        ".sqlite",
        ".sqlite-wal",
        ".sqlite-shm",
        ".wal",
        ".journal",
        ".lock",
        ".tmp",
        ".part",
        ".crdownload",
        ".swp",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".pdf",
        ".csv",
        ".ini",
        ".conf",
        ".cfg",
        ".yaml",
        ".yml",
        ".toml",
        ".sh",
        ".zip",
        ".gz",
        ".xz",
        ".bz2",
        ".zst",
        ".tar",
        ".7z",
        ".rar",
        ".iso",
        ".deb",
        ".rpm",
        ".exe",
        ".dll",
        ".class",
        ".jar",
        ".ttf",
        ".otf",
        ".woff",
        ".woff2",
        ".mp3",
        ".flac",
        ".ogg",
        ".wav",
        ".m4a",
    ]
)


@dataclass
class AgentOptions:
    roots: list[Path]
    state_dir: Path
    #: Files larger than this are not hashed (bounded time and memory per file).
    max_size: int = 512 * 1024 * 1024
    #: Seconds a path must be quiet before it is hashed (files written in pieces hash once).
    settle: float = 1.0
    #: Full rescan of the roots every so often (0: only at start).
    rescan_seconds: float = 3600.0
    #: Pull list changes from the console every so often.
    refresh_seconds: float = 300.0
    #: Share of one CPU the hashing may use (the thread sleeps in proportion to its work).
    cpu_percent: float = 25.0
    #: Keep PDQ codes in the list copy (they are the real codes: see listcopy's notes).
    use_pdq: bool = True
    watch: bool = True
    #: "auto" (fanotify when root and the kernel allows, else inotify), "fanotify" or "inotify".
    watcher: str = "auto"
    max_pixels: int = MAX_IMAGE_PIXELS
    #: Robust matching (docs/robust-matching.md): candidate regions of each image are hashed
    #: and matched too, as in a scan (letterboxed, windowed, watermarked copies).
    robust: bool = True
    #: Seconds between retries of undelivered alerts.
    retry_seconds: float = 5.0
    stats: dict[str, int] = field(default_factory=dict)


class _State:
    """What the agent has seen: (size, mtime) per path, and the content it alerted for."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS seen (path BLOB PRIMARY KEY, size INTEGER,"
            " mtime_ns INTEGER, sha256 TEXT, alerted TEXT)"
        )
        self.lock = threading.Lock()

    def get(self, key: bytes) -> tuple[int, int, str | None, str | None] | None:
        with self.lock:
            return self.db.execute(
                "SELECT size, mtime_ns, sha256, alerted FROM seen WHERE path = ?", (key,)
            ).fetchone()

    def put(
        self, key: bytes, size: int, mtime_ns: int, sha256: str | None, alerted: str | None
    ) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO seen VALUES (?, ?, ?, ?, ?)",
                (key, size, mtime_ns, sha256, alerted),
            )

    def close(self) -> None:
        self.db.close()


class Agent:
    def __init__(
        self,
        options: AgentOptions,
        client: ConsoleClient | None,
        *,
        lists: ListCopy | None = None,
        on_alert: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.options = options
        self.client = client
        options.state_dir.mkdir(parents=True, exist_ok=True)
        self.list_path = options.state_dir / "list.db"
        self.lists = lists if lists is not None else ListCopy.load(self.list_path)
        self.state = _State(options.state_dir / "agent.db")
        self.outbox = Outbox(options.state_dir / "outbox.db", client, retry=options.retry_seconds)
        self.on_alert = on_alert
        self.host = host_name()
        self.hash_options = HashOptions(max_image_pixels=options.max_pixels, robust=options.robust)
        self.stats = {"hashed": 0, "skipped": 0, "alerts": 0, "events": 0}
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._observer: Any = None
        #: Which event source runs: "fanotify", "inotify", or None (no watching).
        self.watcher: str | None = None
        self._idle = threading.Event()

    # --- life cycle -----------------------------------------------------------------------------

    def start(self) -> Agent:
        self.refresh_list()
        self.outbox.start()
        if self.options.watch:
            self._start_watching()
        for target, name in ((self._worker, "agent-hash"), (self._periodic, "agent-periodic")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            if hasattr(self._observer, "join"):
                self._observer.join(5)
        for thread in self._threads:
            thread.join(10)
        self.outbox.close()
        self.state.close()

    def refresh_list(self) -> bool:
        """Pull what changed in the console's list; keep the saved copy when offline."""
        if self.client is None:
            return False
        try:
            payload = self.client.hashlist(self.lists.version, pdq=self.options.use_pdq)
            try:
                self.lists.apply(payload, use_pdq=self.options.use_pdq)
            except ValueError:  # our copy and the console disagree: start over
                self.lists = ListCopy()
                self.lists.apply(
                    self.client.hashlist("0", pdq=self.options.use_pdq),
                    use_pdq=self.options.use_pdq,
                )
        except ConsoleError as exc:
            log.warning("hash list not refreshed: %s", exc)
            return False
        self.lists.save(self.list_path)
        return True

    def _start_watching(self) -> None:
        from hashsieve.sensors import fanotify

        wanted = self.options.watcher
        if wanted not in ("auto", "fanotify", "inotify"):
            raise ValueError(f"unknown watcher {wanted!r} (auto, fanotify or inotify)")
        if wanted != "inotify" and fanotify.available():
            self._observer = fanotify.FanotifyWatcher(
                self.options.roots, self.enqueue, self.enqueue_tree, on_overflow=self.rescan
            ).start()
            self.watcher = "fanotify"
            return
        if wanted == "fanotify":
            raise RuntimeError("fanotify needs root and Linux 5.9 or later; use --watcher inotify")
        self._start_observer()
        self.watcher = "inotify"

    def _start_observer(self) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        agent = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("deleted", "opened", "closed_no_write", "attrib"):
                    return
                agent.stats["events"] += 1
                paths = [event.src_path, getattr(event, "dest_path", "")]
                if event.event_type == "moved":
                    paths = paths[1:]
                for p in paths:
                    if not p:
                        continue
                    p = os.fsdecode(p)
                    if event.is_directory:
                        if event.event_type in ("created", "moved"):
                            agent.enqueue_tree(Path(p))
                    else:
                        agent.enqueue(p)

        observer = Observer()
        for root in self.options.roots:
            if root.is_dir():
                observer.schedule(Handler(), str(root), recursive=True)
        observer.start()
        self._observer = observer

    # --- queueing -----------------------------------------------------------------------------

    def enqueue(self, path: str) -> None:
        with self._lock:
            self._pending[path] = time.monotonic()
            self._idle.clear()

    def enqueue_tree(self, root: Path) -> None:
        for path in _walk(root):
            self.enqueue(path)

    def rescan(self) -> None:
        for root in self.options.roots:
            self.enqueue_tree(root)

    def wait_idle(self, timeout: float) -> bool:
        """Until nothing is pending (tests, benchmarks)."""
        return self._idle.wait(timeout)

    def _periodic(self) -> None:
        self.rescan()
        next_rescan = time.monotonic() + (self.options.rescan_seconds or float("inf"))
        next_refresh = time.monotonic() + self.options.refresh_seconds
        while not self._stop.wait(1.0):
            now = time.monotonic()
            if now >= next_refresh:
                self.refresh_list()
                next_refresh = now + self.options.refresh_seconds
            if now >= next_rescan:
                self.rescan()
                next_rescan = now + self.options.rescan_seconds

    def _worker(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                ready = [p for p, t in self._pending.items() if now - t >= self.options.settle]
                for p in ready:
                    del self._pending[p]
                if not ready and not self._pending:
                    self._idle.set()
            for path in ready:
                if self._stop.is_set():
                    return
                try:
                    self.process(path)
                except Exception:  # one bad file never stops the agent
                    log.exception("could not process %s", path)
            if not ready:
                self._stop.wait(min(0.1, self.options.settle))

    # --- one file ------------------------------------------------------------------------------

    def process(self, path: str) -> dict[str, Any] | None:
        """Hash ``path`` if it is new or changed media; alert and return the alert on a match."""
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return None
        import stat as stat_

        if not stat_.S_ISREG(st.st_mode) or st.st_size == 0:
            return None
        key = os.fsencode(path)
        old = self.state.get(key)
        if old is not None and (old[0], old[1]) == (st.st_size, st.st_mtime_ns):
            return None
        if st.st_size > self.options.max_size or Path(path).suffix.lower() in SKIP_SUFFIXES:
            self.stats["skipped"] += 1
            self.state.put(key, st.st_size, st.st_mtime_ns, None, old[3] if old else None)
            return None
        try:
            with open(path, "rb") as f:
                head = f.read(512)
        except OSError:
            return None
        if sniff(head)[0] is MediaKind.OTHER:
            self.stats["skipped"] += 1
            self.state.put(key, st.st_size, st.st_mtime_ns, None, old[3] if old else None)
            return None
        started = time.perf_counter()
        # Upper parts are hashed only while the list holds reference parts that need them.
        self.hash_options.parts = self.options.robust and self.lists.wants_parts
        result = hash_file(path, self.hash_options)
        self._throttle(time.perf_counter() - started)
        self.stats["hashed"] += 1
        if result.error and result.sha256 is None:
            return None
        # Only known-bad matches are news: a non-pertinent picture is innocent.
        matches = known_bad(self.lists.match(result))
        alerted = old[3] if old else None
        alert = None
        if matches and alerted != result.sha256:
            alert = self._alert(path, st, result, matches)
            alerted = result.sha256
        self.state.put(
            key,
            result.size or st.st_size,
            result.mtime_ns or st.st_mtime_ns,
            result.sha256,
            alerted,
        )
        return alert

    def _throttle(self, seconds: float) -> None:
        share = max(1.0, min(100.0, self.options.cpu_percent)) / 100.0
        if share < 1.0:
            self._stop.wait(seconds * (1.0 / share - 1.0))

    def _alert(
        self, path: str, st: os.stat_result, result: Any, matches: list[MatchHit]
    ) -> dict[str, Any]:
        try:
            user = pwd.getpwuid(st.st_uid).pw_name
        except KeyError:
            user = str(st.st_uid)
        alert = {
            "alert_id": new_alert_id(),
            "time": now_iso(),
            "source": "file",
            "host": self.host,
            "user": user,
            "location": path,
            "action": "seen",
            "mime": result.mime,
            "size": result.size,
            "hashes": {k: v for k in ("md5", "sha1", "sha256", "pdq") if (v := getattr(result, k))},
            "matches": [alert_match(h) for h in matches],
        }
        self.stats["alerts"] += 1
        self.outbox.put(alert)
        if self.on_alert is not None:
            self.on_alert(alert)
        return alert


def _walk(root: Path) -> Iterable[str]:
    """Every regular file under ``root`` (not following links; unreadable folders skipped)."""
    stack = [os.fspath(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            yield entry.path
                    except OSError:
                        continue
        except OSError:
            continue

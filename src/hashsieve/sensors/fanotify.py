"""fanotify for the agent when it runs as root: one mark per filesystem, no per-folder watches.

inotify needs a watch on every folder of a tree (and a tree of millions of folders exhausts
``fs.inotify.max_user_watches``); fanotify marks a whole filesystem once. The agent asks for
close-after-write events (a file finished being written) and moves into a folder, reported with
the folder's file handle and the entry's name (``FAN_REPORT_DFID_NAME``, Linux 5.9+); the handle
is opened (``open_by_handle_at``, which needs CAP_DAC_READ_SEARCH) and read back as a path, and
events outside the watched roots are dropped. Python has no binding, so this is ctypes over libc;
:func:`available` says whether this machine and user can use it, and the agent falls back to
inotify through watchdog when not.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import select
import struct
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

# linux/fanotify.h
FAN_CLASS_NOTIF = 0x0000_0000
FAN_CLOEXEC = 0x0000_0001
FAN_REPORT_DFID_NAME = 0x0000_0C00  # FAN_REPORT_DIR_FID | FAN_REPORT_NAME
FAN_MARK_ADD = 0x0000_0001
FAN_MARK_FILESYSTEM = 0x0000_0100
FAN_CLOSE_WRITE = 0x0000_0008
FAN_MOVED_TO = 0x0000_0080
FAN_CREATE = 0x0000_0100
FAN_ONDIR = 0x4000_0000
FAN_Q_OVERFLOW = 0x0000_4000
FAN_EVENT_INFO_TYPE_DFID_NAME = 2
AT_FDCWD = -100
_O_PATH = 0o10000000
_METADATA = struct.Struct("=IBBHQii")  # event_len, vers, reserved, metadata_len, mask, fd, pid
_INFO_HEADER = struct.Struct("=BBH")  # info_type, pad, len
_HANDLE_HEADER = struct.Struct("=Ii")  # handle_bytes, handle_type

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.fanotify_mark.argtypes = [
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint64,
            ctypes.c_int,
            ctypes.c_char_p,
        ]
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def available() -> bool:
    """Whether fanotify with directory handles and names can be used here (root, Linux 5.9+)."""
    if os.geteuid() != 0:
        return False
    try:
        fd = _check(
            _lib().fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_DFID_NAME, os.O_RDONLY),
            "fanotify_init",
        )
    except (OSError, AttributeError):
        return False
    os.close(fd)
    return True


class FanotifyWatcher:
    """Report finished writes and moves under ``roots`` to ``on_path`` (files) and ``on_dir``
    (folders created or moved in), from a thread of its own."""

    def __init__(
        self,
        roots: list[Path],
        on_path: Callable[[str], None],
        on_dir: Callable[[Path], None],
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self.roots = [str(r.resolve()) for r in roots if r.is_dir()]
        self.on_path, self.on_dir, self.on_overflow = on_path, on_dir, on_overflow
        self._fd = -1
        self._mounts: list[int] = []  # one open folder per root: open_by_handle_at's mount fd
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None

    def start(self) -> FanotifyWatcher:
        lib = _lib()
        self._fd = _check(
            lib.fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_DFID_NAME, os.O_RDONLY),
            "fanotify_init",
        )
        marked: set[int] = set()
        for root in self.roots:
            self._mounts.append(os.open(root, os.O_RDONLY | os.O_DIRECTORY))
            device = os.stat(root).st_dev
            if device in marked:  # one mark per filesystem
                continue
            mask = FAN_CLOSE_WRITE | FAN_MOVED_TO | FAN_CREATE | FAN_ONDIR
            _check(
                lib.fanotify_mark(
                    self._fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, os.fsencode(root)
                ),
                f"fanotify_mark {root}",
            )
            marked.add(device)
        self._thread = threading.Thread(target=self._run, name="agent-fanotify", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        for fd in (self._fd, *self._mounts, self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fd, self._mounts = -1, []

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self._fd, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = os.read(self._fd, 64 * 1024)
            except OSError as exc:
                log.warning("fanotify read failed: %s", exc)
                return
            for path, mask in self._events(data):
                self._dispatch(path, mask)

    def _events(self, data: bytes) -> list[tuple[str | None, int]]:
        out: list[tuple[str | None, int]] = []
        offset = 0
        while offset + _METADATA.size <= len(data):
            event_len, _vers, _res, meta_len, mask, fd, _pid = _METADATA.unpack_from(data, offset)
            if event_len < _METADATA.size:
                break
            if fd >= 0:  # not with FID reporting, but never leak one
                os.close(fd)
            path = None
            info = offset + meta_len
            while info + _INFO_HEADER.size <= offset + event_len:
                info_type, _pad, info_len = _INFO_HEADER.unpack_from(data, info)
                if info_len == 0:
                    break
                if info_type == FAN_EVENT_INFO_TYPE_DFID_NAME:
                    path = self._path(data[info + _INFO_HEADER.size : info + info_len])
                info += info_len
            out.append((path, mask))
            offset += event_len
        return out

    def _path(self, record: bytes) -> str | None:
        """The path of a DFID_NAME record: fsid (8 bytes), file_handle, then the entry's name."""
        handle_bytes, _type = _HANDLE_HEADER.unpack_from(record, 8)
        handle_end = 8 + _HANDLE_HEADER.size + handle_bytes
        handle = ctypes.create_string_buffer(record[8:handle_end], handle_end - 8)
        name = record[handle_end:].split(b"\0", 1)[0]
        for mount in self._mounts:
            fd = _lib().open_by_handle_at(mount, handle, _O_PATH)
            if fd < 0:
                continue  # a handle of another filesystem: try the next root's
            try:
                folder = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                return None
            finally:
                os.close(fd)
            if name in (b"", b"."):
                return folder
            return os.path.join(folder, os.fsdecode(name))
        return None

    def _dispatch(self, path: str | None, mask: int) -> None:
        if mask & FAN_Q_OVERFLOW:
            if self.on_overflow is not None:
                self.on_overflow()
            return
        if path is None or not any(path == r or path.startswith(r + os.sep) for r in self.roots):
            return
        if mask & FAN_ONDIR:
            if mask & (FAN_CREATE | FAN_MOVED_TO):
                self.on_dir(Path(path))
            return
        if mask & (FAN_CLOSE_WRITE | FAN_MOVED_TO):
            self.on_path(path)

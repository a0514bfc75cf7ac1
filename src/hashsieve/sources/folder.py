"""A folder (or a single file) on a mounted filesystem, walked without ever following a link.

A block device named as the root itself (``hashsieve scan /dev/loop0``) is evidence like a raw
disk image, its size read from the device; one met while walking a folder (``/dev``) is a
special file and never opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from hashsieve.sources.base import SourceFile, SourceProblem


class FolderSource:
    name = "folder"

    def __init__(self, root: str) -> None:
        self.root = root

    def files(self) -> Iterator[SourceFile | SourceProblem]:
        try:
            st = os.lstat(self.root)
        except OSError as exc:
            yield SourceProblem(self.root, "unreadable", exc.strerror or str(exc))
            return
        if stat.S_ISBLK(st.st_mode):
            yield _block_device(self.root, st)
            return
        if not stat.S_ISDIR(st.st_mode):
            yield from _classify(self.root, st)
            return
        # Directories already entered, by (device, inode): bind mounts can loop without links.
        seen: set[tuple[int, int]] = set()
        stack = [self.root]
        while stack:
            folder = stack.pop()
            try:
                dst = os.lstat(folder)
                if (dst.st_dev, dst.st_ino) in seen:
                    yield SourceProblem(folder, "loop", "folder already walked (not entered again)")
                    continue
                seen.add((dst.st_dev, dst.st_ino))
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: os.fsencode(e.name))
            except OSError as exc:
                reason = "permission" if isinstance(exc, PermissionError) else "unreadable"
                yield SourceProblem(folder, reason, exc.strerror or str(exc))
                continue
            subfolders = []
            for entry in entries:
                try:
                    est = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    yield SourceProblem(entry.path, "unreadable", exc.strerror or str(exc))
                    continue
                if stat.S_ISDIR(est.st_mode):
                    subfolders.append(entry.path)
                else:
                    yield from _classify(entry.path, est)
            stack.extend(reversed(subfolders))  # depth-first, in name order


def _block_device(path: str, st: os.stat_result) -> SourceFile | SourceProblem:
    """A block device given as the root: opened read-only for its size (``fstat`` says 0)."""
    from hashsieve.sources.readonly import open_readonly

    try:
        fd = open_readonly(path)
    except OSError as exc:
        reason = "permission" if isinstance(exc, PermissionError) else "unreadable"
        return SourceProblem(path, reason, exc.strerror or str(exc))
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
    except OSError as exc:
        return SourceProblem(path, "unreadable", exc.strerror or str(exc))
    finally:
        os.close(fd)
    return SourceFile(path, size, st.st_mtime_ns)


def _classify(path: str, st: os.stat_result) -> Iterator[SourceFile | SourceProblem]:
    if stat.S_ISREG(st.st_mode):
        yield SourceFile(path, st.st_size, st.st_mtime_ns)
    elif stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        yield SourceProblem(path, "symlink", f"symbolic link to {target!r}, not followed")
    else:
        # FIFOs, sockets and devices: reading them could block forever or read a whole disk.
        yield SourceProblem(path, "special-file", f"not a regular file (mode {st.st_mode:o})")

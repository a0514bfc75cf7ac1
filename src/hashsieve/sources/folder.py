"""A folder (or a single file) on a mounted filesystem, walked without ever following a link."""

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

"""Disk images built for the tests with Debian's own tools, never mounted: ``mkfs.vfat`` and
mtools (``mcopy``, ``mdel`` for a deleted file), ``mkfs.ext4 -d``, ``mkntfs`` and ``ntfscp``
(an alternate data stream), ``sfdisk`` for a partition table and ``ewfacquire`` for a (split)
E01."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hashsieve.sources import archive
from hashsieve.sources.archive import Member, SourceProblem

TOOLS = (
    "mkfs.vfat",
    "mcopy",
    "mdel",
    "mmd",
    "mkfs.ext4",
    "mkntfs",
    "ntfscp",
    "sfdisk",
    "ewfacquire",
)
MISSING = [t for t in TOOLS if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(
    bool(MISSING), reason=f"Debian tools missing: {', '.join(MISSING)} (see .ci/run)"
)
MIB = 1024 * 1024


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def fat_fs(path: Path, files: dict[str, bytes], deleted: dict[str, bytes], mib: int = 8) -> Path:
    """A FAT file system holding ``files``, and ``deleted`` written then deleted (their content
    stays in the free clusters, their directory entries marked unallocated)."""
    _run("mkfs.vfat", "-C", str(path), str(mib * 1024))
    staging = path.with_suffix(".staging")
    staging.mkdir()
    folders: set[str] = set()
    for name, data in [*files.items(), *deleted.items()]:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if folder not in folders:
                _run("mmd", "-i", str(path), f"::/{folder}")
                folders.add(folder)
        local = staging / name.replace("/", "_")
        local.write_bytes(data)
        _run("mcopy", "-i", str(path), str(local), f"::/{name}")
    for name in deleted:
        _run("mdel", "-i", str(path), f"::/{name}")
    shutil.rmtree(staging)
    return path


def ext4_fs(path: Path, files: dict[str, bytes], mib: int = 16) -> Path:
    """An ext4 file system made from a folder of ``files`` (``mkfs.ext4 -d``)."""
    root = path.with_suffix(".root")
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    _run("mkfs.ext4", "-q", "-F", "-d", str(root), str(path), f"{mib}M")
    shutil.rmtree(root)
    return path


def ntfs_fs(path: Path, files: dict[str, bytes], streams: dict[str, bytes], mib: int = 8) -> Path:
    """An NTFS file system (``mkntfs`` on a file) holding ``files`` and, as alternate data
    streams, ``streams`` (named ``file:stream``; written by ``ntfscp -N``)."""
    with open(path, "wb") as image:
        image.truncate(mib * MIB)
    _run("mkntfs", "-F", "-q", "-f", str(path))
    staging = path.with_suffix(".staging")
    staging.mkdir()
    for name, data in [*files.items(), *streams.items()]:
        local = staging / "content"
        local.write_bytes(data)
        if ":" in name:
            base, stream = name.split(":", 1)
            _run("ntfscp", "-f", "-N", stream, str(path), str(local), f"/{base}")
        else:
            _run("ntfscp", "-f", str(path), str(local), f"/{name}")
    shutil.rmtree(staging)
    return path


def partitioned(path: Path, parts: list[tuple[Path, str]]) -> Path:
    """A raw disk with a DOS partition table (``sfdisk``), each file system copied into its
    partition (1 MiB aligned); ``parts`` are (file-system image, partition type)."""
    start = MIB
    layout = []
    for fs, kind in parts:
        size = fs.stat().st_size
        layout.append((start, size, fs, kind))
        start += -(-size // MIB) * MIB
    with open(path, "wb") as disk:
        disk.truncate(start + MIB)
    script = "label: dos\n" + "".join(
        f"start={s // 512}, size={n // 512}, type={k}\n" for s, n, _, k in layout
    )
    subprocess.run(["sfdisk", "-q", str(path)], input=script.encode(), check=True)
    with open(path, "r+b") as disk:
        for offset, _, fs, _ in layout:
            disk.seek(offset)
            disk.write(fs.read_bytes())
    return path


def ewf(
    raw: Path, target: Path, segment_bytes: int | None = None, compression: str = "fast"
) -> Path:
    """An E01 of ``raw`` (split into segments of ``segment_bytes``), with case notes; returns the
    first segment."""
    args = ["ewfacquire", "-u", "-q", "-t", str(target), "-c", compression, "-d", "sha1"]
    args += ["-C", "case-42", "-e", "examiner-a", "-D", "test disk", "-E", "ev-1", "-N", "notes"]
    if segment_bytes:
        args += ["-S", str(segment_bytes)]
    subprocess.run([*args, str(raw)], check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return target.with_suffix(".E01")


def listing(path: Path) -> tuple[dict[str, Member], dict[str, SourceProblem]]:
    """A container's members by their last name, and its problems by their path inside."""
    members: dict[str, Member] = {}
    problems: dict[str, SourceProblem] = {}
    for item in archive.list_members(str(path)):
        if isinstance(item, Member):
            members[item.names[-1]] = item
        else:
            problems[item.path.removeprefix(f"{path}!/")] = item
    return members, problems

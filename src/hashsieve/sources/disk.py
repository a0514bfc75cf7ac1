"""Forensic disk images (EWF ``.E01``/``.Ex01`` sets, raw and split raw, VMDK, VHD/VHDX, QCOW2,
Apple DMG): the files of their file systems as members of a container, read in place, never
mounted or extracted.

The media is read through the field's libraries (libewf, libvmdk, libvhdi, libqcow, libmodi),
each wrapped as a pytsk3 ``Img_Info``; The Sleuth Kit reads the partition table (MBR, GPT, ...)
and the file systems (NTFS, FAT, exFAT, ext, HFS+, ISO 9660), libfsapfs the APFS containers
(:mod:`hashsieve.sources.apfs`). A member is named by its partition (``p1``, ``p2``, ... in
table order; nothing when there is no table), an APFS volume's name, and its path in the file
system: ``disk.E01!/p1/Users/x/a.jpg``, ``mac.dmg!/p2/Macintosh HD - Data/Users/x/a.jpg``.
Deleted files whose content the file system still describes (a name and an inode not reused)
are members too, marked ``recovered="deleted"``; NTFS alternate data streams are members of
their own (``file.dll:here``). With ``shadow_copies`` (``scan --shadow-copies``), an NTFS
volume's Volume Shadow Copies are read too (:mod:`hashsieve.sources.vss`): each store's files
under ``vss1``, ``vss2``, ... (the oldest first), marked ``recovered="shadow"``.

Every segment and extent file is opened read-only (:mod:`hashsieve.sources.readonly`, or by the
libyal library in its read-only mode); nothing is ever written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast

from hashsieve.sources import apfs, magic, vss
from hashsieve.sources.ewf import EwfChunks
from hashsieve.sources.mediaview import Media, iso_time
from hashsieve.sources.mediaview import first_line as _first_line
from hashsieve.sources.readers import ArchiveError, Entry, Reader

__all__ = [
    "DISK_SUFFIXES",
    "DiskReader",
    "ImageInfo",
    "Verification",
    "ends_in_dmg_trailer",
    "has_dmg_trailer",
    "image_info",
    "image_kind",
    "named_like_image",
    "not_an_image",
    "open_image",
    "open_media",
    "peek_kind",
    "stream_kind",
    "unallocated_runs",
    "verify_image",
]

#: Names an examiner's disk images usually have: such a file whose content is no image we read
#: gets a recorded error rather than passing silently as "other".
DISK_SUFFIXES = (
    ".e01",
    ".ex01",
    ".vmdk",
    ".vhd",
    ".vhdx",
    ".qcow2",
    ".qcow",
    ".dd",
    ".raw",
    ".img",
    ".dmg",
)
#: Bytes read to recognise a raw file-system image (ISO 9660's descriptor is at 32 KiB).
PEEK = 34 * 1024
#: Directory levels walked at most (a corrupt file system can describe endless nesting).
MAX_DIR_DEPTH = 256
#: Bytes read from the media per call (reading a member is a loop of these).
READ_BLOCK = 1024 * 1024

_SPLIT_RAW = re.compile(r"^(.*\.)(\d{3})$")


def _peek_raw_fs(head: bytes) -> bool:
    """A file system with no partition table in front of it, known by its superblock."""
    if len(head) >= 1082 and head[1080:1082] == b"\x53\xef":  # ext2/3/4
        return True
    if len(head) >= 1026 and head[1024:1026] in (b"H+", b"HX"):  # HFS+, HFSX
        return True
    if apfs.is_container(head[:512]):
        return True
    return len(head) >= 32774 and head[32769:32774] == b"CD001"  # ISO 9660


def peek_kind(head: bytes) -> str | None:
    """The disk-image MIME type of content starting with ``head`` (:data:`PEEK` bytes see raw
    file systems; 512 are enough for the rest), or None."""
    kind = magic.disk_image_type(head[:512])
    if kind is not None:
        return kind
    return magic.RAW_DISK if _peek_raw_fs(head) else None


def _is_udif_trailer(tail: bytes) -> bool:
    """An Apple UDIF (``.dmg``) trailer: ``koly``, version 4, its own size 512 (big-endian)."""
    return (
        len(tail) == 512
        and tail[:4] == b"koly"
        and int.from_bytes(tail[4:8], "big") == 4
        and int.from_bytes(tail[8:12], "big") == 512
    )


def ends_in_dmg_trailer(stream: IO[bytes]) -> bool:
    """Whether a seekable stream ends in a UDIF trailer; it is left at its start. Its head
    cannot say: a bzip2 DMG's data fork begins as a ``.bz2`` file does, a stored one as the
    disk inside."""
    end = stream.seek(0, os.SEEK_END)
    found = False
    if end >= 1024:
        stream.seek(end - 512)
        found = _is_udif_trailer(stream.read(512))
    stream.seek(0)
    return found


def has_dmg_trailer(path: str) -> bool:
    """Whether the file at ``path`` ends in a UDIF trailer (a DMG's size is no multiple of 512,
    so the scan's second look at unrecognised files asks this too)."""
    from hashsieve.sources.readonly import open_readonly

    try:
        with os.fdopen(open_readonly(path), "rb") as stream:
            return ends_in_dmg_trailer(stream)
    except OSError:
        return False


def not_an_image(stream: IO[bytes], label: str) -> ArchiveError:
    """The error for a file named like an image whose content is none we read. A ``.dmg`` is
    told only by its trailer, so one without is most likely cut short (``corrupt-image``), or
    a kind of DMG not read here: encrypted (``encrcdsa``/``cdsaencr``), a sparse image."""
    if label.lower().endswith(".dmg"):
        stream.seek(0)
        head = stream.read(8)
        end = stream.seek(0, os.SEEK_END)
        stream.seek(max(0, end - 8))
        tail = stream.read(8)
        stream.seek(0)
        if head == b"encrcdsa" or tail == b"cdsaencr":
            return ArchiveError("unsupported-image", f"{label}: an encrypted DMG (no key is asked)")
        if head[:4] == b"sprs":
            return ArchiveError("unsupported-image", f"{label}: a sparse DMG (.sparseimage)")
        return ArchiveError(
            "corrupt-image", f"{label}: no UDIF trailer ('koly') in its last 512 bytes: cut short?"
        )
    return ArchiveError("not-a-disk-image", f"{label}: content is no disk image read here")


def stream_kind(stream: IO[bytes]) -> str | None:
    """The disk-image kind of a seekable stream by its content, head and tail (a DMG is told
    only by its last 512 bytes); the stream is left at its start. None: not one."""
    stream.seek(0)
    head = stream.read(PEEK)
    kind = magic.disk_image_type(head[:512])
    # A DMG's data fork may begin with a partition table of its own: its trailer decides.
    if (kind is None or kind == magic.RAW_DISK) and ends_in_dmg_trailer(stream):
        kind = magic.DMG
    stream.seek(0)
    return kind if kind is not None else peek_kind(head)


def image_kind(path: str) -> str | None:
    """The disk-image kind of the file at ``path`` by its content (None: not one, or unreadable)."""
    from hashsieve.sources.readonly import open_readonly

    try:
        with os.fdopen(open_readonly(path), "rb") as stream:
            return stream_kind(stream)
    except OSError:
        return None


def named_like_image(path: str) -> bool:
    """A name examiners give disk images (the first segment of a split raw set included)."""
    lowered = path.lower()
    if lowered.endswith(DISK_SUFFIXES):
        return True
    split = _SPLIT_RAW.match(os.path.basename(path))
    if split is None:
        return False
    number = int(split.group(2))
    # ``.001`` is the first segment unless a ``.000`` exists beside it.
    return number == 0 or (number == 1 and not os.path.exists(path[:-3] + "000"))


# -- the media: one read(offset, size) over every kind -----------------------------------------


class _Media:
    """The bytes of a disk as one address space (what the image stands for, not its file)."""

    kind: str = "raw"
    size: int = 0
    segments: tuple[str, ...] = ()
    #: Reads that failed (a segment cut short): TSK is given zeros there, and a file whose data
    #: lies there gets an error (:class:`_FileStream` compares this count before and after).
    failures: int = 0
    last_failure: str = ""
    #: The byte ranges given as zeros. TSK caches what it reads (64 KiB blocks), so a later
    #: file in a failed block never reaches :meth:`read`: :class:`_FileStream` checks its
    #: data's runs against these ranges too.
    failed: tuple[tuple[int, int], ...] = ()

    def read(self, offset: int, size: int) -> bytes:
        raise NotImplementedError

    def read_or_zeros(self, offset: int, size: int) -> bytes:
        """What TSK is given: the bytes, or zeros where they cannot be read (counted, so a
        file whose data lies there gets an error rather than zeros' digests)."""
        try:
            return self.read(offset, size)
        except Exception as exc:  # libyal raises OSError; nothing may cross into C
            self.failures += 1
            self.last_failure = f"at {offset:,}: {_first_line(exc)}"
            self.failed += ((offset, offset + size),)
            return bytes(max(0, min(size, self.size - offset)))

    def close(self) -> None:  # most media hold nothing to release
        pass


class _StreamsMedia(_Media):
    """Raw media, possibly split into segment files read back to back."""

    def __init__(self, streams: list[IO[bytes]], segments: tuple[str, ...]) -> None:
        self.streams = streams
        self.segments = segments
        self.kind = "split-raw" if len(streams) > 1 else "raw"
        self.starts: list[int] = []
        total = 0
        for stream in streams:
            self.starts.append(total)
            total += stream.seek(0, os.SEEK_END)
        self.size = total

    def read(self, offset: int, size: int) -> bytes:
        parts: list[bytes] = []
        end = min(offset + size, self.size)
        for index in range(len(self.streams) - 1, -1, -1):
            if self.starts[index] <= offset:
                break
        while offset < end and index < len(self.streams):
            stream, start = self.streams[index], self.starts[index]
            stream.seek(offset - start)
            stop = self.starts[index + 1] if index + 1 < len(self.starts) else self.size
            block = stream.read(min(end, stop) - offset)
            if not block:
                break
            parts.append(block)
            offset += len(block)
            if offset >= stop:
                index += 1
        return b"".join(parts)

    def close(self) -> None:
        for stream in self.streams:
            stream.close()


class _HandleMedia(_Media):
    """A libyal handle (pyewf, pyvmdk, pyvhdi, pyqcow): they all read at an offset."""

    def __init__(self, kind: str, handle: Any, files: list[IO[bytes]], segments: tuple[str, ...]):
        self.kind, self.handle, self.files, self.segments = kind, handle, files, segments
        self.size = int(handle.get_media_size())
        self.chunks: EwfChunks | None = None

    def read(self, offset: int, size: int) -> bytes:
        if self.chunks is not None:  # an EWF set's chunks through zlib (sources/ewf.py)
            return self.chunks.read(offset, size)
        size = max(0, min(size, self.size - offset))
        return cast(bytes, self.handle.read_buffer_at_offset(size, offset)) if size else b""

    def close(self) -> None:
        try:
            self.handle.close()
        finally:
            for stream in self.files:
                stream.close()


class _DmgMedia(_Media):
    """An Apple UDIF image: its chunks through Python's zlib and bz2 (:mod:`.dmg`, 10x
    libmodi's inflate), or libmodi where they are of a kind that reads not (ADC, LZFSE)."""

    kind = "dmg"

    def __init__(self, stream: IO[bytes], label: str) -> None:
        from hashsieve.sources.dmg import UdifChunks

        self.stream, self.segments = stream, (label,)
        self.handle: Any = None
        self.chunks: UdifChunks | None = None
        try:
            self.chunks = UdifChunks(stream)
            self.size = self.chunks.size
        except ValueError:
            import pymodi

            self.handle = pymodi.handle()
            self.handle.open_file_object(stream)
            self.size = int(self.handle.get_media_size())

    def read(self, offset: int, size: int) -> bytes:
        if self.chunks is not None:
            return self.chunks.read(offset, size)
        size = max(0, min(size, self.size - offset))
        return cast(bytes, self.handle.read_buffer_at_offset(size, offset)) if size else b""

    def close(self) -> None:
        try:
            if self.handle is not None:
                self.handle.close()
        finally:
            self.stream.close()


def _open_path(path: str) -> IO[bytes]:
    from hashsieve.sources.readonly import open_readonly

    return os.fdopen(open_readonly(path), "rb")


def _split_raw_segments(path: str) -> list[str]:
    """``x.001``, ``x.002``, ... (or from ``.000``): the segments of a split raw set, in order,
    as far as they run without a gap."""
    split = _SPLIT_RAW.match(path)
    if split is None:
        return [path]
    stem, number = split.group(1), int(split.group(2))
    segments = [path]
    while os.path.isfile(f"{stem}{number + len(segments):03d}"):
        segments.append(f"{stem}{number + len(segments):03d}")
    return segments


def _ewf_segments(path: str) -> list[str]:
    import pyewf

    try:
        segments = [str(s) for s in pyewf.glob(path)] or [path]
    except (OSError, TypeError) as exc:
        raise ArchiveError("corrupt-image", f"{path}: segments not found: {exc}") from exc
    # libewf's glob stops at the first name missing; segments beside the set beyond that gap
    # mean one is missing (libewf would open the rest and fail on every read past it).
    folder, own = os.path.split(path)
    stem = own[: -len(own.split(".")[-1])]
    pattern = re.compile(re.escape(stem) + r"(E[0-9A-Z]{2}|Ex[0-9A-Z]{2})$", re.IGNORECASE)
    found = {os.path.basename(s) for s in segments}
    try:
        beside = sorted(n for n in os.listdir(folder or ".") if pattern.match(n))
    except OSError:
        beside = []
    stray = [n for n in beside if n not in found]
    if stray:
        raise ArchiveError(
            "corrupt-image",
            f"{path}: a segment is missing after {os.path.basename(segments[-1])} "
            f"({', '.join(stray)} found beside it)",
        )
    return segments


def open_media(stream: IO[bytes], label: str, path: str | None = None) -> _Media:
    """The disk behind ``stream`` (the image's first segment, read-only); ``path`` is the file's
    own path in the evidence, from which the other segments are found (None: an image held in
    memory, e.g. inside an archive, read alone). Raises :class:`ArchiveError`."""
    kind = stream_kind(stream)
    try:
        if kind == magic.EWF:
            import pyewf

            handle = pyewf.handle()
            if path is not None:
                names = _ewf_segments(path)
                files = [stream] + [_open_path(n) for n in names[1:]]
            else:
                names, files = [label], [stream]
            handle.open_file_objects(files)
            media = _HandleMedia("ewf", handle, files, tuple(names))
            # libewf checked the set; its chunks are read with zlib, 20x faster (a layout the
            # chunk map does not know is read by libewf).
            with contextlib.suppress(ValueError, OSError):
                media.chunks = EwfChunks(files, int(handle.get_chunk_size()), media.size)
            return media
        if kind == magic.VMDK:
            import pyvmdk

            handle = pyvmdk.handle()
            if path is None:
                raise ArchiveError("unsupported-image", f"{label}: a VMDK inside an archive")
            handle.open(path)  # libvmdk opens the descriptor and its extents read-only
            handle.open_extent_data_files()
            return _HandleMedia("vmdk", handle, [], (path,))
        if kind in (magic.VHD, magic.VHDX):
            import pyvhdi

            handle = pyvhdi.file()
            handle.open_file_object(stream)
            return _HandleMedia("vhd" if kind == magic.VHD else "vhdx", handle, [stream], (label,))
        if kind == magic.DMG:  # UDIF: zlib, bzip2, LZFSE, ADC or raw chunks
            return _DmgMedia(stream, label)
        if kind == magic.QCOW:
            import pyqcow

            handle = pyqcow.file()
            handle.open_file_object(stream)
            return _HandleMedia("qcow", handle, [stream], (label,))
        if kind == magic.RAW_DISK:
            if path is None:
                return _StreamsMedia([stream], (label,))
            names = _split_raw_segments(path)
            return _StreamsMedia([stream] + [_open_path(n) for n in names[1:]], tuple(names))
    except ArchiveError:
        raise
    except (OSError, ValueError, TypeError) as exc:  # libyal raises IOError with its reason
        raise ArchiveError("corrupt-image", f"{label}: {exc}") from exc
    raise ArchiveError("not-a-disk-image", f"{label}: content is no disk image hashsieve reads")


# -- The Sleuth Kit over the media -------------------------------------------------------------


def _tsk() -> Any:
    import pytsk3

    return pytsk3


def _image(media: Media) -> Any:
    """``media`` (a disk, or a shadow copy's view of a volume) as a pytsk3 image (the classic
    ``Img_Info`` subclass over another library)."""
    pytsk3 = _tsk()

    class _Img(pytsk3.Img_Info):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

        def read(self, offset: int, size: int) -> bytes:
            return media.read_or_zeros(offset, size)

        def get_size(self) -> int:
            return media.size

        def close(self) -> None:
            pass

    return _Img()


@dataclass
class Volume:
    """A partition with (perhaps) a file system, or the whole disk when there is no table."""

    name: str  # "p1", ... or "" for a disk without a partition table
    offset: int  # bytes from the start of the media
    length: int
    description: str = ""
    fs: Any = None  # pytsk3.FS_Info, or None with ``problem`` (or an APFS volume)
    problem: str | None = None
    #: An APFS volume instead of a TSK file system: its container (shared by its siblings).
    apfs: tuple[apfs.Container, apfs.Volume] | None = None
    #: The reason recorded when nothing is read: ``unreadable-filesystem``, ``encrypted-volume``.
    reason: str = "unreadable-filesystem"
    #: A shadow copy's volume (``p1/vss1``): its store, whose files are ``recovered="shadow"``.
    store: vss.Store | None = None

    @property
    def filesystem(self) -> str | None:
        if self.apfs is not None:
            return "apfs"
        if self.fs is None:
            return None
        return _fs_name(int(self.fs.info.ftype))

    @property
    def readable(self) -> bool:
        return self.fs is not None or (self.apfs is not None and self.problem is None)


def _fs_name(ftype: int) -> str:
    """TSK's name of a file-system type ("ext2", "ntfs", "fat32", "iso9660", ...)."""
    pytsk3 = _tsk()
    for name in dir(pytsk3):
        wanted = name.startswith("TSK_FS_TYPE_") and not name.endswith(("_DETECT", "_ENUM"))
        if wanted and int(getattr(pytsk3, name)) == ftype:
            return name.removeprefix("TSK_FS_TYPE_").lower()
    return f"type {ftype:#x}"


def _open_fs(img: Any, offset: int) -> Any:
    return _tsk().FS_Info(img, offset=offset)


def _apfs_volumes(media: _Media, part: Volume, label: str) -> list[Volume] | None:
    """The volumes of the APFS container in ``part`` (named ``p1/<volume>``), None when none
    starts there; a container libfsapfs cannot open is ``part`` with its problem."""
    if not apfs.is_container(media.read_or_zeros(part.offset, 512)):
        return None
    what = f"{label}!/{part.name}" if part.name else label
    try:
        container = apfs.Container(media, part.offset, part.length, what)
    except ArchiveError as exc:
        part.problem = exc.detail
        return [part]
    found = []
    for volume in container.volumes:
        name = f"{part.name}/{volume.name}" if part.name else volume.name
        entry = Volume(name, part.offset, part.length, f"APFS volume in {part.description}")
        entry.apfs = (container, volume)
        if volume.problem is not None:
            entry.problem = volume.problem
            entry.reason = volume.problem.split(":", 1)[0]
        found.append(entry)
    if not found:
        part.problem = "an APFS container without volumes"
        return [part]
    return found


def _read_partition(img: Any, media: _Media, volume: Volume, label: str) -> list[Volume]:
    """A partition with its file system opened (TSK, else APFS), or with why not."""
    if volume.offset >= media.size:
        volume.problem = f"partition starts at {volume.offset:,}, past the media's end"
        return [volume]
    try:
        volume.fs = _open_fs(img, volume.offset)
    except OSError as exc:
        found = _apfs_volumes(media, volume, label)
        if found is not None:
            return found
        volume.problem = f"no file system read ({volume.description}): {_first_line(exc)}"
    return [volume]


def _volumes(img: Any, media: _Media, label: str) -> list[Volume]:
    """The partitions of the media (each with its file system opened, or why not)."""
    pytsk3 = _tsk()
    try:
        table = pytsk3.Volume_Info(img)
    except OSError:
        table = None
    volumes: list[Volume] = []
    if table is None:
        volumes = _dos_fallback(img, media, label)
    else:
        block = table.info.block_size
        number = 0
        for part in table:
            if not int(part.flags) & int(pytsk3.TSK_VS_PART_FLAG_ALLOC) or part.len <= 0:
                continue
            number += 1
            description = part.desc.decode("utf-8", "replace")
            volume = Volume(f"p{number}", part.start * block, part.len * block, description)
            volumes.extend(_read_partition(img, media, volume, label))
    if any(v.readable or v.apfs is not None for v in volumes):
        return volumes
    # No table, or one whose partitions hold nothing readable: a file system at the start?
    try:
        whole = Volume("", 0, media.size, "whole disk", _open_fs(img, 0))
    except OSError as exc:
        container = _apfs_volumes(media, Volume("", 0, media.size, "whole disk"), label)
        if container is not None and container[0].apfs is not None:
            return container
        if volumes:
            return volumes
        if container is not None:  # an APFS container libfsapfs could not open
            raise ArchiveError(
                "corrupt-image", f"{label}: no file system read: {container[0].problem}"
            ) from exc
        why = _first_line(exc)
        if media.failures:  # the media itself could not be read: that is the reason to give
            why = f"the image cannot be read {media.last_failure}"
        raise ArchiveError(
            "corrupt-image", f"{label}: no partition table or file system read: {why}"
        ) from exc
    return [whole]


#: DOS partition types that hold other partitions (extended) or stand for a GPT.
_NOT_FILE_SYSTEMS = {0x05, 0x0F, 0x85, 0xEE}


def _dos_fallback(img: Any, media: _Media, label: str) -> list[Volume]:
    """The primary DOS partitions read from sector 0 when TSK refuses the whole table (one entry
    past the end of the disk is enough for that): the sane partitions are still read."""
    sector = media.read_or_zeros(0, 512)
    if sector[510:512] != b"\x55\xaa":
        return []
    volumes = []
    number = 0
    for at in range(446, 510, 16):
        entry = sector[at : at + 16]
        kind = entry[4]
        start = int.from_bytes(entry[8:12], "little") * 512
        length = int.from_bytes(entry[12:16], "little") * 512
        if kind == 0 or kind in _NOT_FILE_SYSTEMS or not length:
            continue
        number += 1  # numbered as TSK numbers the partitions it reads: in table order
        volume = Volume(f"p{number}", start, length, f"DOS type {kind:#04x} (table read here)")
        if start + length > media.size:
            volume.problem = f"partition runs to {start + length:,}, past the media's end"
            volumes.append(volume)
        else:
            volumes.extend(_read_partition(img, media, volume, label))
    return volumes


@dataclass(frozen=True, slots=True)
class _Item:
    """One name in a directory, as listed and as opened again."""

    name: str  # unique in its directory
    inode: int
    kind: str  # "file", "dir", "symlink", "special"
    size: int
    deleted: bool
    times: tuple[tuple[str, str], ...] = ()
    mtime_ns: int = 0
    #: NTFS data streams with a name: (name, attribute type, attribute id, size).
    streams: tuple[tuple[str, int, int, int], ...] = ()


def _iso(seconds: int, nanos: int = 0) -> str | None:
    return iso_time(seconds + nanos / 1e9) if seconds > 0 else None


def _times(meta: Any) -> tuple[tuple[str, str], ...]:
    found = []
    for key, attr in (
        ("created", "crtime"),
        ("modified", "mtime"),
        ("accessed", "atime"),
        ("changed", "ctime"),
    ):
        text = _iso(int(getattr(meta, attr, 0) or 0), int(getattr(meta, f"{attr}_nano", 0) or 0))
        if text is not None:
            found.append((key, text))
    return tuple(found)


def _named_streams(entry: Any) -> tuple[tuple[str, int, int, int], ...]:
    pytsk3 = _tsk()
    found = []
    try:
        for attr in entry:
            info = attr.info
            if int(info.type) == int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA) and info.name:
                name = info.name.decode("utf-8", "replace")
                found.append((name, int(info.type), int(info.id), int(info.size)))
    except (OSError, RuntimeError):
        return ()
    return tuple(found)


def _listing(fs: Any, inode: int, ntfs: bool) -> list[_Item]:
    """The names of one directory, allocated ones first; a deleted name that clashes with one
    already listed is told apart by its inode (``a.jpg~inode37``). Raises OSError."""
    pytsk3 = _tsk()
    unalloc_name = int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
    unalloc_meta = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
    live: list[_Item] = []
    gone: list[_Item] = []
    for entry in fs.open_dir(inode=inode):
        name_info, meta = entry.info.name, entry.info.meta
        raw = name_info.name
        if raw in (b".", b"..") or meta is None:
            continue
        name = raw.decode("utf-8", "replace").replace("/", "_")
        meta_type = int(meta.type)
        deleted = bool(int(name_info.flags) & unalloc_name)
        meta_free = bool(int(meta.flags) & unalloc_meta)
        if deleted and not meta_free:
            continue  # the inode now belongs to another file: its content is not this one's
        if meta_type == int(pytsk3.TSK_FS_META_TYPE_REG):
            kind = "file"
        elif meta_type == int(pytsk3.TSK_FS_META_TYPE_DIR):
            kind = "dir"
        elif meta_type == int(pytsk3.TSK_FS_META_TYPE_VIRT_DIR):
            kind = "dir"  # TSK's $OrphanFiles: deleted files whose folder is unknown
            deleted = True
        elif meta_type == int(pytsk3.TSK_FS_META_TYPE_VIRT):
            continue  # TSK's own $MBR, $FAT1...: parts of the file system, not files
        elif meta_type == int(pytsk3.TSK_FS_META_TYPE_LNK):
            kind = "symlink"
        else:
            kind = "special"
        deleted = deleted or meta_free
        if deleted and kind == "file" and int(meta.size) <= 0:
            continue  # nothing left to recover
        item = _Item(
            name,
            int(meta.addr),
            kind,
            int(meta.size) if kind == "file" else 0,
            deleted,
            _times(meta),
            int(meta.mtime or 0) * 1_000_000_000 + int(getattr(meta, "mtime_nano", 0) or 0),
            _named_streams(entry) if ntfs and kind == "file" and not deleted else (),
        )
        (gone if deleted else live).append(item)
    taken = {i.name for i in live}
    out = list(live)
    seen: set[tuple[str, int]] = set()
    for item in gone:
        if (item.name, item.inode) in seen:
            continue
        seen.add((item.name, item.inode))
        if item.name in taken:
            item = replace(item, name=f"{item.name}~inode{item.inode}")
        taken.add(item.name)
        out.append(item)
    return out


class _FileStream:
    """A file's (or stream's) bytes through TSK, read in order by ``read(size)``."""

    def __init__(
        self,
        file: Any,
        size: int,
        attr: tuple[int, int] | None,
        what: str,
        media: _Media | vss.Store,
        base: int = 0,
        block_size: int = 512,
    ) -> None:
        self.file, self.size, self.attr, self.what = file, size, attr, what
        self.media = media
        self.base, self.block_size = base, block_size  # where its file system's blocks start
        self.position = 0
        self._runs: list[tuple[int, int]] | None = None

    def _lost(self) -> str | None:
        """Where this file's data meets a range the media gave as zeros (TSK's cache hides
        such a range from later reads), or None."""
        if not self.media.failed:
            return None
        if self._runs is None:
            self._runs = _data_runs(self.file, self.attr, self.base, self.block_size)
        for start, end in self._runs:
            for bad_start, bad_end in self.media.failed:
                if start < bad_end and bad_start < end:
                    return f"at {max(start, bad_start):,}"
        return None

    def read(self, size: int = -1) -> bytes:
        left = self.size - self.position
        size = left if size < 0 else min(size, left)
        if size <= 0:
            return b""
        failures = self.media.failures
        try:
            if self.attr is None:
                data = self.file.read_random(self.position, size)
            else:
                data = self.file.read_random(self.position, size, self.attr[0], self.attr[1])
        except OSError as exc:
            raise ArchiveError("unreadable", f"{self.what}: {_first_line(exc)}") from exc
        if self.media.failures != failures:
            raise ArchiveError(
                "corrupt-image",
                f"{self.what}: its data lies where the image cannot be read "
                f"({self.media.last_failure})",
            )
        lost = self._lost()
        if lost is not None:
            raise ArchiveError(
                "corrupt-image",
                f"{self.what}: its data lies where the image cannot be read ({lost})",
            )
        self.position += len(data)
        return cast(bytes, data)

    def close(self) -> None:
        self.file = None


class DiskReader(Reader):
    """The files of a disk image's file systems, opened by name in any order (jobs spread over
    the workers; each worker opens the image itself)."""

    random_access = True
    #: Files listed at most (archives stop at 200,000): a Windows disk holds about a million.
    max_members = 20_000_000

    def __init__(
        self, stream: IO[bytes], label: str, path: str | None = None, shadow_copies: bool = False
    ) -> None:
        super().__init__(label)
        #: List the Volume Shadow Copies' files too (a store's member is opened either way).
        self.shadow_copies = shadow_copies
        self.media = open_media(stream, label, path)
        try:
            self.img = _image(self.media)
            self.volumes = _volumes(self.img, self.media, label)
        except BaseException:
            self.media.close()
            raise
        self._dirs: dict[tuple[int, int], dict[str, _Item]] = {}
        #: Per live volume (by id): its shadow copies' volumes, or why none could be read.
        self._shadows: dict[int, tuple[list[Volume], str | None]] = {}
        self._stores: list[vss.Stores] = []

    def _volume(self, parts: list[str]) -> tuple[Volume, list[str]]:
        volume, rest = self._live_volume(parts)
        if rest and rest[0].startswith("vss") and volume.filesystem == "ntfs":
            for shadow in self._shadow_volumes(volume)[0]:
                if shadow.name.split("/")[-1] == rest[0]:
                    return shadow, rest[1:]
        return volume, rest

    def _live_volume(self, parts: list[str]) -> tuple[Volume, list[str]]:
        if len(self.volumes) == 1 and self.volumes[0].name == "":
            return self.volumes[0], parts
        for volume in self.volumes:  # an APFS volume's name is two parts: ``p1/Macintosh HD``
            own = volume.name.split("/")
            if parts[: len(own)] == own:
                return volume, parts[len(own) :]
        raise ArchiveError("unreadable", f"{self._what('/'.join(parts))}: no such partition")

    def _shadow_volumes(self, volume: Volume) -> tuple[list[Volume], str | None]:
        """The shadow copies of an NTFS ``volume`` as volumes of their own (``p1/vss1``; a store
        libvshadow or TSK cannot read carries its problem), and why none at all could be read."""
        key = id(volume)
        if key in self._shadows:
            return self._shadows[key]
        found: list[Volume] = []
        why: str | None = None
        if vss.has_shadow_copies(self.media, volume.offset):
            try:
                stores = vss.open_stores(self.media, volume.offset, volume.length)
            except OSError as exc:
                why = f"shadow copies not read: {_first_line(exc)}"
            else:
                self._stores.append(stores)
                root = int(volume.fs.info.root_inum)
                live = set(self._children(id(volume), volume, root))
                for store in stores.stores:
                    name = vss.store_prefix(store.number, live)
                    name = f"{volume.name}/{name}" if volume.name else name
                    shadow = Volume(name, volume.offset, store.size, "Volume Shadow Copy")
                    shadow.store = store
                    shadow.problem = store.problem
                    if store.problem is None:
                        try:
                            shadow.fs = _open_fs(_image(store), 0)  # the volume as it was
                        except Exception as exc:  # TSK: OSError, or RuntimeError from a read
                            cause = store.last_failure if store.failures else _first_line(exc)
                            shadow.problem = f"shadow copy not read: {cause}"
                    found.append(shadow)
        self._shadows[key] = (found, why)
        return found, why

    def _children(self, index: int, volume: Volume, inode: int) -> dict[str, _Item]:
        key = (index, inode)
        if key not in self._dirs:
            ntfs = volume.filesystem == "ntfs"
            self._dirs[key] = {i.name: i for i in _listing(volume.fs, inode, ntfs)}
        return self._dirs[key]

    def entries(self) -> Iterator[Entry]:
        for volume in self.volumes:
            prefix = f"{volume.name}/" if volume.name else ""
            if not volume.readable:
                yield Entry(prefix, 0, 0, problem=volume.reason)
                continue
            if volume.apfs is not None:
                container, own = volume.apfs
                yield from container.files(own, prefix)
                continue
            yield from self._files(id(volume), volume, prefix)
            if self.shadow_copies and volume.filesystem == "ntfs":
                yield from self._shadow_files(volume, prefix)

    def _shadow_files(self, volume: Volume, prefix: str) -> Iterator[Entry]:
        try:
            shadows, why = self._shadow_volumes(volume)
        except Exception:  # TSK's errors on the live root: no store can be named
            why = "the live volume's root cannot be listed"
            shadows = []
        if why is not None:
            yield Entry(f"{prefix}vss/", 0, 0, problem="unreadable-shadow-copy")
        for shadow in shadows:
            if shadow.fs is None:
                yield Entry(f"{shadow.name}/", 0, 0, problem="unreadable-shadow-copy")
                continue
            yield from self._files(id(shadow), shadow, f"{shadow.name}/")

    def _files(self, index: int, volume: Volume, prefix: str) -> Iterator[Entry]:
        root = int(volume.fs.info.root_inum)
        visited = {root}
        stack: list[tuple[int, str, bool, int]] = [(root, "", False, 0)]
        while stack:
            inode, folder, under_deleted, depth = stack.pop()
            try:
                items = sorted(self._children(index, volume, inode).values(), key=lambda i: i.name)
            except Exception:  # TSK raises OSError, and stale errors of other kinds: one folder
                yield Entry(f"{prefix}{folder}", 0, 0, problem="unreadable-directory")
                continue
            subdirs = []
            for item in items:
                path = f"{prefix}{folder}{item.name}"
                deleted = item.deleted or under_deleted
                if item.kind == "dir":
                    if item.inode in visited or depth >= MAX_DIR_DEPTH:
                        yield Entry(path + "/", 0, 0, problem="loop")
                        continue
                    visited.add(item.inode)
                    subdirs.append((item.inode, f"{folder}{item.name}/", deleted, depth + 1))
                    continue
                if item.kind != "file":
                    problem = "special-file" if item.kind == "special" else item.kind
                    yield Entry(path, 0, item.mtime_ns, problem=problem)
                    continue
                details = (("inode", str(item.inode)), *item.times)
                recovered = "deleted" if deleted else None
                if volume.store is not None:  # a shadow copy's deleted names repeat the live ones
                    if deleted:
                        continue
                    recovered = "shadow"
                    details = (*details, *_store_details(volume.store))
                yield Entry(path, item.size, item.mtime_ns, None, recovered, details)
                from_store = "shadow" if volume.store is not None else None
                for name, _type, _id, size in item.streams:
                    yield Entry(f"{path}:{name}", size, item.mtime_ns, None, from_store, details)
            stack.extend(reversed(subdirs))

    def open(self, name: str) -> IO[bytes]:
        parts = name.split("/")
        volume, rest = self._volume(parts)
        if not volume.readable or not rest:
            raise ArchiveError("unreadable", f"{self._what(name)}: no file system there")
        if volume.apfs is not None:
            container, own = volume.apfs
            return container.open(own, rest, self._what(name))
        index = id(volume)
        inode = int(volume.fs.info.root_inum)
        try:
            for folder in rest[:-1]:
                found = self._children(index, volume, inode).get(folder)
                if found is None or found.kind != "dir":
                    raise ArchiveError("unreadable", f"{self._what(name)}: no such member")
                inode = found.inode
            children = self._children(index, volume, inode)
            last, attr = rest[-1], None
            item = children.get(last)
            size = item.size if item is not None else 0
            if item is None and ":" in last:  # an NTFS alternate data stream
                base, stream = last.split(":", 1)
                item = children.get(base)
                match = [s for s in (item.streams if item else ()) if s[0] == stream]
                if not match:
                    raise ArchiveError("unreadable", f"{self._what(name)}: no such stream")
                attr, size = (match[0][1], match[0][2]), match[0][3]
            if item is None or item.kind != "file":
                raise ArchiveError("unreadable", f"{self._what(name)}: no such member")
            file = volume.fs.open_meta(inode=item.inode)
        except OSError as exc:
            raise ArchiveError("unreadable", f"{self._what(name)}: {_first_line(exc)}") from exc
        # Where a read can fail, and where the file system's blocks are in it.
        media, origin = (self.media, volume.offset) if volume.store is None else (volume.store, 0)
        block_size = int(volume.fs.info.block_size)
        reader = _FileStream(file, size, attr, self._what(name), media, origin, block_size)
        return cast(IO[bytes], reader)

    def close(self) -> None:
        super().close()
        _close_containers(self.volumes)
        self.volumes = []
        self._dirs.clear()
        self._shadows.clear()
        for stores in self._stores:
            stores.close()
        self._stores = []
        self.media.close()


def _store_details(store: vss.Store) -> tuple[tuple[str, str], ...]:
    """Where a shadow copy's file comes from: the store's number and when it was taken."""
    found = [("shadow_copy", str(store.number))]
    if store.created:
        found.append(("shadow_copy_created", store.created))
    return tuple(found)


def _data_runs(
    file: Any, attr: tuple[int, int] | None, base: int, block_size: int
) -> list[tuple[int, int]]:
    """The media byte ranges of a file's data: the runs of ``attr`` (type, id), or of its
    unnamed data attributes. Resident data (inside its metadata) has none."""
    pytsk3 = _tsk()
    skip = pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE | pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER
    runs: list[tuple[int, int]] = []
    try:
        for attribute in file:
            info = attribute.info
            if attr is not None:
                if (int(info.type), int(info.id)) != attr:
                    continue
            elif info.name:  # a named stream is a member of its own
                continue
            for run in attribute:
                if int(run.flags) & int(skip):
                    continue
                start = base + int(run.addr) * block_size
                runs.append((start, start + int(run.len) * block_size))
    except OSError:  # no attributes to walk: nothing more to check than the reads
        return runs
    return runs


def _close_containers(volumes: list[Volume]) -> None:
    for container in {id(v.apfs[0]): v.apfs[0] for v in volumes if v.apfs is not None}.values():
        container.close()


# -- the image itself: what it says about itself, and its verification -----------------------


_EWF_HEADERS = (
    "case_number",
    "description",
    "examiner_name",
    "evidence_number",
    "notes",
    "acquiry_date",
    "system_date",
    "acquiry_operating_system",
    "acquiry_software",
    "acquiry_software_version",
    "model",
    "serial_number",
)


@dataclass
class ImageInfo:
    path: str
    kind: str
    segments: list[str]
    media_size: int
    sector_size: int = 512
    stored_hashes: dict[str, str] = field(default_factory=dict)  # from the acquisition (EWF)
    case: dict[str, str] = field(default_factory=dict)
    volumes: list[dict[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def open_image(path: str) -> _Media:
    """The media of the image at ``path`` (every segment, read-only): ``read(offset, size)``,
    ``size``, ``close()``. Raises :class:`ArchiveError`."""
    try:
        stream = _open_path(path)
    except OSError as exc:
        raise ArchiveError("unreadable", f"{path}: {exc.strerror or exc}") from exc
    try:
        return open_media(stream, path, path)
    except BaseException:
        stream.close()
        raise


def image_info(path: str) -> ImageInfo:
    """What an image says about itself: its kind and segments, the media's size, the hashes and
    case notes an EWF acquisition stored, and its partitions and file systems. Raises
    :class:`ArchiveError` when it cannot be opened at all."""
    media = open_image(path)
    try:
        info = ImageInfo(path, media.kind, list(media.segments), media.size)
        if isinstance(media, _HandleMedia) and media.kind == "ewf":
            handle = media.handle
            info.sector_size = int(handle.get_bytes_per_sector())
            for algorithm in ("MD5", "SHA1"):
                value = handle.get_hash_value(algorithm)
                if value and value.strip("0"):
                    info.stored_hashes[algorithm.lower()] = str(value).lower()
            for key in _EWF_HEADERS:
                value = handle.get_header_value(key)
                if value:
                    info.case[key] = str(value)
        elif isinstance(media, _HandleMedia) and hasattr(media.handle, "get_bytes_per_sector"):
            info.sector_size = int(media.handle.get_bytes_per_sector())
        try:
            volumes = _volumes(_image(media), media, path)
        except ArchiveError as exc:
            info.problems.append(exc.detail)
            volumes = []
        _close_containers(volumes)
        for volume in volumes:
            info.volumes.append(
                {
                    "name": volume.name or "(whole disk)",
                    "offset": volume.offset,
                    "length": volume.length,
                    "description": volume.description,
                    "filesystem": volume.filesystem,
                    "problem": volume.problem,
                }
            )
        return info
    finally:
        media.close()


@dataclass
class Verification:
    stored: dict[str, str]
    computed: dict[str, str]

    @property
    def matches(self) -> bool | None:
        """True when every stored hash is the one computed; None when none was stored."""
        if not self.stored:
            return None
        return all(self.computed.get(k) == v for k, v in self.stored.items())


def verify_image(path: str, progress: Callable[[int, int], None] | None = None) -> Verification:
    """MD5 and SHA-1 over the whole media (what the acquisition hashed), compared with what the
    image stored; ``progress(done, total)`` is called as it reads. Raises :class:`ArchiveError`
    (a segment unreadable partway included)."""
    info = image_info(path)
    media = open_image(path)
    md5, sha1 = hashlib.md5(), hashlib.sha1()
    try:
        offset = 0
        block = 8 * READ_BLOCK
        while offset < media.size:
            try:
                data = media.read(offset, block)
            except OSError as exc:
                raise ArchiveError("corrupt-image", f"{path} at {offset:,}: {exc}") from exc
            if not data:
                raise ArchiveError("corrupt-image", f"{path}: media ends at {offset:,}")
            md5.update(data)
            sha1.update(data)
            offset += len(data)
            if progress is not None:
                progress(offset, media.size)
    finally:
        media.close()
    return Verification(info.stored_hashes, {"md5": md5.hexdigest(), "sha1": sha1.hexdigest()})


def unallocated_runs(path: str) -> Iterator[tuple[int, int]]:
    """(offset, length) in the media of the space no file claims, for a carver: the gaps of the
    partition table, and in each file system the blocks no allocated file's data runs (of any
    stream) cover: a deleted file's blocks are in them; a superset of the free blocks, since a
    file system's own metadata (inode tables, bitmaps) is not a file's run on every kind. Read
    the bytes through :func:`open_image`'s ``read(offset, size)``. Raises
    :class:`ArchiveError`."""
    media = open_image(path)
    try:
        img = _image(media)
        volumes = _volumes(img, media, path)
        covered: list[tuple[int, int]] = []
        containers = {id(v.apfs[0]): v for v in volumes if v.apfs is not None}
        for volume in containers.values():  # once per container, whatever its volumes
            assert volume.apfs is not None
            yield from _free_runs(volume.offset, volume.length, volume.apfs[0].used())
            covered.append((volume.offset, volume.length))
        _close_containers(volumes)
        for volume in volumes:
            if volume.fs is None:
                continue
            block = int(volume.fs.info.block_size)
            start = volume.offset
            used = sorted(_used_blocks(volume))
            cursor = 0
            total = int(volume.fs.info.block_count)
            for first, count in used:
                if first > cursor:
                    yield start + cursor * block, (first - cursor) * block
                cursor = max(cursor, first + count)
            if cursor < total:
                yield start + cursor * block, (total - cursor) * block
            covered.append((volume.offset, volume.length))
        # Space outside every partition read (slack between and after partitions).
        cursor = 0
        for offset, length in sorted(covered):
            if offset > cursor:
                yield cursor, offset - cursor
            cursor = max(cursor, offset + length)
        if covered and cursor < media.size:
            yield cursor, media.size - cursor
    finally:
        media.close()


def _free_runs(
    offset: int, length: int, used: Iterator[tuple[int, int]]
) -> Iterator[tuple[int, int]]:
    """The runs of ``offset .. offset + length`` that no (offset, length) of ``used`` covers."""
    cursor, end = offset, offset + length
    for start, size in sorted(used):
        if start > cursor:
            yield cursor, min(start, end) - cursor
        cursor = max(cursor, start + size)
        if cursor >= end:
            return
    if cursor < end:
        yield cursor, end - cursor


def _used_blocks(volume: Volume) -> Iterator[tuple[int, int]]:
    """(first block, count) of every data run of every file and directory."""
    pytsk3 = _tsk()
    root = int(volume.fs.info.root_inum)
    stack, seen = [root], {root}
    while stack:
        inode = stack.pop()
        try:
            directory = volume.fs.open_dir(inode=inode)
        except OSError:
            continue
        for entry in directory:
            meta = entry.info.meta
            if meta is None or entry.info.name.name in (b".", b".."):
                continue
            if int(meta.flags) & int(pytsk3.TSK_FS_META_FLAG_UNALLOC):
                continue  # a deleted file's blocks are free: what a carver is for
            try:
                for attr in entry:
                    for run in attr:
                        if run.len > 0 and not int(run.flags) & int(
                            pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE
                        ):
                            yield int(run.addr), int(run.len)
            except (OSError, RuntimeError):
                pass
            is_dir = int(meta.type) in (
                int(pytsk3.TSK_FS_META_TYPE_DIR),
                int(pytsk3.TSK_FS_META_TYPE_VIRT_DIR),
            )
            if is_dir and int(meta.addr) not in seen:
                seen.add(int(meta.addr))
                stack.append(int(meta.addr))

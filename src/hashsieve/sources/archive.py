"""Archives in the evidence (ZIP, tar, cpio, 7z, RAR; a gzip, bzip2 or xz stream: a compressed tar,
or else one compressed file): what they hold, listed and read in memory, never extracted to disk.

A member is named by its archive's path and its own name joined with ``!/``
(``evidence/photos.zip!/DCIM/a.jpg``; an archive inside one: ``a.zip!/b.tar!/c.jpg``; a
compressed file: ``notes.txt.gz!/notes.txt``), and it is reached again through :class:`Member`
(the outer file and the chain of names), never by parsing that text.

Limits bound memory and time by what reading does, not by what an archive declares (a sparse
disk image compresses 1,000:1 and is ordinary evidence): every member is listed; its bytes
stream from the decompressor under a hard cap on output and on time (:class:`Bounded`), are kept
in memory up to :data:`MEMBER_LIMIT` and beyond that only digested (by the worker). A bomb is
refused by its effect: output past :data:`STREAM_LIMIT`, nesting deeper than
:data:`MAX_DEPTH` (a ZIP quine), more than :data:`MAX_MEMBERS` members, or ZIP members that
share their compressed data.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from hashsieve.sources import magic
from hashsieve.sources.base import SourceProblem
from hashsieve.sources.readers import (
    SEPARATOR,
    ArchiveError,
    Bounded,
    CompressedReader,
    Reader,
    TarReader,
    ZipReader,
    is_tar_start,
)

__all__ = [
    "ARCHIVE_TYPES",
    "SEPARATOR",
    "ArchiveError",
    "ArchiveJob",
    "Bounded",
    "Member",
    "SourceProblem",
    "list_members",
    "member_from_metadata",
    "plan_jobs",
    "read_job",
    "read_member",
]

#: What the scan opens (by the content's MIME type, from :mod:`hashsieve.sources.magic`).
ARCHIVE_TYPES = magic.CONTAINERS
#: Archives inside archives are opened down to this depth (the outer archive is depth 1).
MAX_DEPTH = 3
#: Members listed per archive at most; the rest are reported once.
MAX_MEMBERS = 200_000
#: Bytes of one member (or of an inner archive) held in memory at most; a larger member is
#: digested as it streams.
MEMBER_LIMIT = 256 * 1024 * 1024
#: Bytes one member may decompress to at all: past this it is a bomb, not evidence.
STREAM_LIMIT = 64 * 1024 * 1024 * 1024
#: Seconds one member (or the listing of one compressed file) may take to decompress.
MEMBER_SECONDS = 900.0


@dataclass(frozen=True, slots=True)
class Member:
    """A regular file inside an archive in the evidence (an item of the scan, like a path)."""

    container: str  # the archive's path in the evidence (a real file)
    names: tuple[str, ...]  # inner archives' member names, then this member's own
    size: int
    mtime_ns: int
    #: Members can be read in any order (ZIP, cpio) rather than in one pass (tar, 7z, RAR).
    random_access: bool = False
    recovered: str | None = None  # "deleted": a disk image's file no longer allocated
    details: tuple[tuple[str, str], ...] = ()  # a file system's times and inode
    offset: int | None = None  # where carved, embedded or thumbnail content starts

    @property
    def path(self) -> str:
        return SEPARATOR.join((self.container, *self.names))

    def provenance(self) -> dict[str, object]:
        """What a file record keeps to reach the member again (its ``metadata["archive"]``)."""
        return {"container": self.container, "names": list(self.names)}


def _open_outer(path: str) -> IO[bytes]:
    from hashsieve.sources.readonly import open_readonly

    return os.fdopen(open_readonly(path), "rb")


def _reader(
    stream: IO[bytes], label: str, unallocated: bool = True, shadow_copies: bool = False
) -> Reader:
    """The reader for a container, chosen by its content; a disk image's unallocated space is
    carved after its files unless ``unallocated`` is False (the scan carves it in worker jobs)."""
    try:
        head = stream.read(magic.TAR_BLOCK)
        stream.seek(0)
        kind = magic.container_type(head)
        if kind not in magic.DISK_IMAGES:
            from hashsieve.sources.disk import ends_in_dmg_trailer

            # A DMG is told by its end: a bzip2 one begins as a .bz2 does.
            kind = magic.DMG if ends_in_dmg_trailer(stream) else kind
        if kind in magic.COMPRESSED:
            assert kind is not None
            # A compressed tar is a tar; anything else compressed is one member.
            raw = CompressedReader(stream, label, kind, STREAM_LIMIT, MEMBER_SECONDS)._raw()
            inner = Bounded(raw, label, magic.TAR_BLOCK, MEMBER_SECONDS).read(magic.TAR_BLOCK)
            stream.seek(0)
            if is_tar_start(inner):
                return TarReader(stream, label)
            return CompressedReader(stream, label, kind, STREAM_LIMIT, MEMBER_SECONDS)
        if kind == magic.ZIP or (kind is None and head[:2] == b"PK"):
            return ZipReader(stream, label)
        if kind == magic.TAR:
            return TarReader(stream, label)
        if kind == magic.CPIO:
            from hashsieve.sources.cpio import CpioReader

            return CpioReader(stream, label)
        if kind == magic.SEVEN_ZIP:
            from hashsieve.sources.sevenzip import SevenZipReader

            return SevenZipReader(stream, label)
        if kind == magic.RAR:
            from hashsieve.sources.rar import RarReader

            return RarReader(stream, label)
        if kind in magic.DOCUMENTS:
            return _document_reader(stream, label, kind)
        from hashsieve.sources import disk

        if kind in magic.DISK_IMAGES or disk.stream_kind(stream) is not None:
            # The evidence file itself is opened by path, so its other segments are found.
            path = None if isinstance(stream, io.BytesIO) else label
            if not unallocated:
                return disk.DiskReader(stream, label, path, shadow_copies)
            from hashsieve.sources.documents import WithUnallocated

            # Its files, then the pictures carved from the space no file claims.
            reader = disk.DiskReader(stream, label, path, shadow_copies)
            return WithUnallocated(reader, stream, label, path)
        if disk.named_like_image(label):
            raise disk.not_an_image(stream, label)
        # No container by its magic: a file the scan found pictures in (by their structure).
        from hashsieve.sources.documents import EmbeddedReader

        return EmbeddedReader(stream, label)
    except ArchiveError as exc:
        reason = "corrupt-archive" if exc.reason == "corrupt" else exc.reason
        raise ArchiveError(reason, exc.detail) from exc
    except MemoryError:
        raise
    except Exception as exc:  # zipfile, tarfile, decompressors: each has its own errors
        raise ArchiveError("corrupt-archive", f"{label}: {exc}") from exc


def _document_reader(stream: IO[bytes], label: str, kind: str) -> Reader:
    from hashsieve.sources import documents, thumbcache

    if kind == magic.THUMBCACHE:
        return thumbcache.ThumbcacheReader(stream, label)
    if kind == magic.PDF:
        return documents.PdfReader(stream, label)
    return documents.OleReader(stream, label)


def bounded(raw: IO[bytes], what: str) -> Bounded:
    """A member's stream under the scan's caps (output bytes and time)."""
    return Bounded(raw, what, STREAM_LIMIT, MEMBER_SECONDS)


def _read_limited(stream: Bounded, limit: int, what: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ArchiveError("too-large", f"{what} over {limit // (1024 * 1024)} MB")
    return data


def _open_member(reader: Reader, name: str) -> IO[bytes]:
    """A member's raw stream; whatever the reader raises becomes an :class:`ArchiveError`."""
    what = f"{reader.label}{SEPARATOR}{name}"
    try:
        return reader.open(name)
    except (ArchiveError, MemoryError):
        raise
    except NotImplementedError as exc:  # zipfile: a compression method it does not know
        raise ArchiveError("unsupported", f"{what}: {exc}") from exc
    except Exception as exc:  # a damaged local header, a bad offset
        raise ArchiveError("corrupt", f"{what}: {exc}") from exc


def _read_named(reader: Reader, name: str, limit: int) -> bytes:
    what = f"{reader.label}{SEPARATOR}{name}"
    stream = bounded(_open_member(reader, name), what)
    try:
        return _read_limited(stream, limit, what)
    finally:
        stream.close()


def _open_chain(container: str, names: tuple[str, ...], limit: int) -> tuple[IO[bytes], str]:
    """The archive at ``names`` inside ``container`` (``()``: the container itself), open."""
    stream: IO[bytes] = _open_outer(container)
    label = container
    for name in names:
        try:
            outer = _reader(stream, label)
            try:
                data = _read_named(outer, name, limit)
            finally:
                outer.close()
        finally:
            stream.close()
        stream, label = io.BytesIO(data), f"{label}{SEPARATOR}{name}"
    return stream, label


def _guarded(exc: Exception, label: str) -> ArchiveError:
    if isinstance(exc, ArchiveError):
        return exc
    if isinstance(exc, OSError):
        return ArchiveError("unreadable", f"{label}: {exc.strerror or exc}")
    return ArchiveError("corrupt-archive", f"{label}: {exc}")


def list_members(
    container: str,
    names: tuple[str, ...] = (),
    *,
    unallocated: bool = True,
    shadow_copies: bool = False,
) -> Iterator[Member | SourceProblem]:
    """Every regular file of the archive at ``names`` inside ``container``, in archive order;
    what cannot be listed or is not hashed comes as a :class:`SourceProblem` (never raised).
    ``unallocated=False``: a disk image's files only, not the pictures carved after them;
    ``shadow_copies``: with its NTFS volumes' shadow copies' files (``p1/vss1/...``)."""
    label = SEPARATOR.join((container, *names))
    try:
        stream, label = _open_chain(container, names, MEMBER_LIMIT)
    except (ArchiveError, OSError) as exc:
        error = _guarded(exc, label)
        yield SourceProblem(label + SEPARATOR, error.reason, error.detail)
        return
    try:
        reader = _reader(stream, label, unallocated, shadow_copies)
    except ArchiveError as exc:
        stream.close()
        yield SourceProblem(label + SEPARATOR, exc.reason, exc.detail)
        return
    count = 0
    # A seized disk holds a million files where an archive of as many is a bomb.
    limit = getattr(reader, "max_members", MAX_MEMBERS)
    try:
        for entry in reader.entries():
            path = SEPARATOR.join((container, *names, entry.name))
            count += 1
            if count > limit:
                yield SourceProblem(label + SEPARATOR, "archive-limit", f"over {limit:,} members")
                return
            if entry.problem is not None:
                yield SourceProblem(path, entry.problem, f"{entry.problem} member in {label}")
                continue
            yield Member(
                container,
                (*names, entry.name),
                entry.size,
                entry.mtime_ns,
                reader.random_access,
                entry.recovered,
                entry.details,
                entry.offset,
            )
    except MemoryError:
        yield SourceProblem(label + SEPARATOR, "too-large", f"{label}: out of memory listing it")
    except Exception as exc:  # a damaged directory or header partway: recorded, never raised
        error = _guarded(exc, label)
        reason = "corrupt-archive" if error.reason == "corrupt" else error.reason
        yield SourceProblem(label + SEPARATOR, reason, error.detail)
    finally:
        reader.close()
        stream.close()


@dataclass(frozen=True, slots=True)
class ArchiveJob:
    """Members of one archive hashed together: the archive is opened once for all of them (a
    ZIP's directory is read once per job; a compressed tar is streamed once, in order)."""

    container: str
    names: tuple[str, ...]  # the archive's own chain inside ``container`` (``()``: itself)
    members: tuple[Member, ...]


#: ZIP members per job: random access, so jobs of a large ZIP spread over the workers.
ZIP_JOB_SIZE = 64


def plan_jobs(members: list[Member]) -> list[ArchiveJob]:
    """Jobs for the pending members of one archive (all from the same chain)."""
    if not members:
        return []
    first = members[0]
    container, names = first.container, first.names[:-1]
    if first.random_access:
        return [
            ArchiveJob(container, names, tuple(members[i : i + ZIP_JOB_SIZE]))
            for i in range(0, len(members), ZIP_JOB_SIZE)
        ]
    return [ArchiveJob(container, names, tuple(members))]


def read_job(job: ArchiveJob) -> Iterator[tuple[Member, Bounded | ArchiveError]]:
    """Each member of ``job`` with its bytes as a bounded stream (valid until the next member is
    asked for), or the error that kept them from being read."""
    label = SEPARATOR.join((job.container, *job.names))
    try:
        stream, label = _open_chain(job.container, job.names, MEMBER_LIMIT)
        reader = _reader(stream, label)
    except (ArchiveError, OSError) as exc:
        error = _guarded(exc, label)
        for member in job.members:
            yield member, error
        return
    try:
        if reader.random_access:
            for member in job.members:
                try:
                    raw = _open_member(reader, member.names[-1])
                except ArchiveError as exc:
                    yield member, exc
                    continue
                member_stream = bounded(raw, member.path)
                try:
                    yield member, member_stream
                finally:
                    member_stream.close()
            return
        wanted: dict[str, Member | None] = {m.names[-1]: m for m in job.members}
        try:
            for entry, item in reader.items():
                found = wanted.pop(entry.name, None)
                if found is None:
                    continue
                if item is None:
                    yield found, ArchiveError("special-file", f"{found.path}: not a regular file")
                    continue
                member_stream = bounded(item, found.path)
                try:
                    yield found, member_stream
                finally:
                    member_stream.close()
        except MemoryError:
            raise
        except Exception as exc:  # the archive breaks partway: the rest cannot be reached
            error = _guarded(exc, label)
            for left in wanted.values():
                if left is not None:
                    yield left, ArchiveError("corrupt-archive", error.detail)
            return
        for left in wanted.values():
            if left is not None:
                yield left, ArchiveError("unreadable", f"{left.path}: not in the archive")
    finally:
        reader.close()
        stream.close()


def read_member(member: Member, limit: int = MEMBER_LIMIT) -> bytes:
    """A member's bytes (raises :class:`ArchiveError` with the reason)."""
    try:
        stream, label = _open_chain(member.container, member.names[:-1], MEMBER_LIMIT)
    except OSError as exc:
        raise ArchiveError("unreadable", f"{member.container}: {exc.strerror or exc}") from exc
    try:
        reader = _reader(stream, label)
        try:
            return _read_named(reader, member.names[-1], limit)
        finally:
            reader.close()
    finally:
        stream.close()


def member_from_metadata(
    metadata: dict[str, object] | None, size: int, mtime: int
) -> Member | None:
    """The :class:`Member` a file record stands for (None for a file of the evidence itself)."""
    found = (metadata or {}).get("archive")
    if not isinstance(found, dict):
        return None
    container, names = found.get("container"), found.get("names")
    if not isinstance(container, str) or not isinstance(names, list) or not names:
        return None
    return Member(container, tuple(str(n) for n in names), size, mtime)

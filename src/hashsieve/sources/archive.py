"""Archives in the evidence (ZIP, tar, and tar compressed with gzip, bzip2 or xz): what they
hold, listed and read in memory, never extracted to disk.

A member is named by its archive's path and its own name joined with ``!/``
(``evidence/photos.zip!/DCIM/a.jpg``; an archive inside one: ``a.zip!/b.tar!/c.jpg``), and it is
reached again through :class:`Member` (the outer file and the chain of names), never by parsing
that text. Limits keep a hostile archive from costing more than a recorded error: nesting depth,
members per archive, bytes read for one member or for an inner archive, and the ratio of
declared to stored bytes (a decompression bomb).
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from hashsieve.sources.base import SourceProblem

SEPARATOR = "!/"
ARCHIVE_TYPES = frozenset(
    {
        "application/zip",
        "application/x-tar",
        "application/gzip",
        "application/x-bzip2",
        "application/x-xz",
    }
)
#: Archives inside archives are opened down to this depth (the outer archive is depth 1).
MAX_DEPTH = 3
#: Members listed per archive at most; the rest are reported once.
MAX_MEMBERS = 200_000
#: Bytes of one member (or of an inner archive) read into memory at most.
MEMBER_LIMIT = 256 * 1024 * 1024
#: Declared (uncompressed) bytes per stored byte beyond which the rest of an archive is refused.
MAX_RATIO = 200
#: ... unless the archive declares no more than this in all (small, highly compressible text).
RATIO_FLOOR = 64 * 1024 * 1024


class ArchiveError(Exception):
    """An archive or member that cannot be read: ``reason`` is the recorded error's kind."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True, slots=True)
class Member:
    """A regular file inside an archive in the evidence (an item of the scan, like a path)."""

    container: str  # the archive's path in the evidence (a real file)
    names: tuple[str, ...]  # inner archives' member names, then this member's own
    size: int
    mtime_ns: int
    #: In a ZIP (read in any order) rather than a tar (read in archive order).
    random_access: bool = False

    @property
    def path(self) -> str:
        return SEPARATOR.join((self.container, *self.names))

    def provenance(self) -> dict[str, object]:
        """What a file record keeps to reach the member again (its ``metadata["archive"]``)."""
        return {"container": self.container, "names": list(self.names)}


def _open_outer(path: str) -> IO[bytes]:
    from hashsieve.sources.readonly import open_readonly

    return os.fdopen(open_readonly(path), "rb")


def _nanoseconds(seconds: float) -> int:
    """A member's time for the store; a hostile one (a pax header can say anything) is 0."""
    try:
        value = int(float(seconds) * 1e9)
    except (ValueError, OverflowError):
        return 0
    return value if 0 <= value < 2**63 else 0


def _read_limited(stream: IO[bytes], limit: int, what: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ArchiveError("too-large", f"{what} over {limit // (1024 * 1024)} MB")
    return data


class _Archive:
    """One open archive (ZIP or tar), from a file object."""

    def __init__(self, stream: IO[bytes], label: str) -> None:
        self.label = label
        self.zip: zipfile.ZipFile | None = None
        self.tar: tarfile.TarFile | None = None
        try:
            head = stream.read(4)
            stream.seek(0)
            if head[:2] == b"PK" or zipfile.is_zipfile(stream):
                stream.seek(0)
                self.zip = zipfile.ZipFile(stream)
            else:
                stream.seek(0)
                self.tar = tarfile.open(fileobj=stream, mode="r:*")  # noqa: SIM115 (closed in close())
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ArchiveError("corrupt-archive", f"{label}: {exc}") from exc

    def close(self) -> None:
        for handle in (self.zip, self.tar):
            if handle is not None:
                handle.close()

    def entries(self) -> Iterator[tuple[str, int, int, str | None]]:
        """(name, size, mtime_ns, problem) per entry: problem is None for a regular file."""
        try:
            if self.zip is not None:
                for info in self.zip.infolist():
                    if info.is_dir():
                        continue
                    problem = "encrypted" if info.flag_bits & 0x1 else None
                    try:  # a ZIP's time has no zone: read as UTC, the same on every machine
                        when = datetime(*info.date_time, tzinfo=UTC).timestamp()
                    except (ValueError, OverflowError):
                        when = 0.0
                    yield info.filename, info.file_size, _nanoseconds(when), problem
            else:
                assert self.tar is not None
                for tinfo in self.tar:
                    if tinfo.isdir():
                        continue
                    problem = None
                    if tinfo.issym():
                        problem = "symlink"
                    elif not tinfo.isfile():  # hard links, devices, FIFOs
                        problem = "special-file"
                    yield tinfo.name, tinfo.size, _nanoseconds(tinfo.mtime), problem
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ArchiveError("corrupt-archive", f"{self.label}: {exc}") from exc

    def read_tar(self, tinfo: tarfile.TarInfo, limit: int = MEMBER_LIMIT) -> bytes:
        assert self.tar is not None
        what = f"{self.label}{SEPARATOR}{tinfo.name}"
        try:
            extracted = self.tar.extractfile(tinfo)
            if extracted is None:
                raise ArchiveError("special-file", f"{what}: not a regular file")
            with extracted:
                return _read_limited(extracted, limit, what)
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ArchiveError("corrupt", f"{what}: {exc}") from exc

    def read(self, name: str, limit: int) -> bytes:
        what = f"{self.label}{SEPARATOR}{name}"
        try:
            if self.zip is not None:
                with self.zip.open(name) as member:
                    return _read_limited(member, limit, what)
            assert self.tar is not None
            extracted = self.tar.extractfile(name)
            if extracted is None:
                raise ArchiveError("special-file", f"{what}: not a regular file")
            with extracted:
                return _read_limited(extracted, limit, what)
        except KeyError as exc:
            raise ArchiveError("unreadable", f"{what}: no such member") from exc
        except RuntimeError as exc:  # zipfile: encrypted member without a password
            raise ArchiveError("encrypted", f"{what}: {exc}") from exc
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ArchiveError("corrupt", f"{what}: {exc}") from exc


def _open_chain(container: str, names: tuple[str, ...], limit: int) -> tuple[IO[bytes], str]:
    """The archive at ``names`` inside ``container`` (``()``: the container itself), open."""
    stream: IO[bytes] = _open_outer(container)
    label = container
    for name in names:
        outer = _Archive(stream, label)
        try:
            data = outer.read(name, limit)
        finally:
            outer.close()
            stream.close()
        stream, label = io.BytesIO(data), f"{label}{SEPARATOR}{name}"
    return stream, label


def list_members(container: str, names: tuple[str, ...] = ()) -> Iterator[Member | SourceProblem]:
    """Every regular file of the archive at ``names`` inside ``container``, in archive order;
    what cannot be listed or is not hashed comes as a :class:`SourceProblem` (never raised)."""
    label = SEPARATOR.join((container, *names))
    try:
        stream, label = _open_chain(container, names, MEMBER_LIMIT)
    except (ArchiveError, OSError) as exc:
        yield SourceProblem(label + SEPARATOR, getattr(exc, "reason", "unreadable"), str(exc))
        return
    try:
        stored = max(1, stream.seek(0, io.SEEK_END))
        stream.seek(0)
        archive = _Archive(stream, label)
    except ArchiveError as exc:
        stream.close()
        yield SourceProblem(label + SEPARATOR, exc.reason, exc.detail)
        return
    declared = count = 0
    try:
        for name, size, mtime_ns, problem in archive.entries():
            path = SEPARATOR.join((container, *names, name))
            count += 1
            declared += size
            if count > MAX_MEMBERS:
                yield SourceProblem(
                    label + SEPARATOR, "archive-limit", f"over {MAX_MEMBERS:,} members"
                )
                return
            if declared > RATIO_FLOOR and declared > MAX_RATIO * stored:
                yield SourceProblem(
                    label + SEPARATOR,
                    "decompression-bomb",
                    f"declares {declared:,} bytes in {stored:,} (over {MAX_RATIO}:1); "
                    "the rest is not read",
                )
                return
            if problem is not None:
                yield SourceProblem(path, problem, f"{problem} member in {label}")
                continue
            yield Member(container, (*names, name), size, mtime_ns, archive.zip is not None)
    except ArchiveError as exc:
        yield SourceProblem(label + SEPARATOR, exc.reason, exc.detail)
    finally:
        archive.close()
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


def read_job(job: ArchiveJob) -> Iterator[tuple[Member, bytes | ArchiveError]]:
    """Each member of ``job`` with its bytes, or the error that kept them from being read."""
    try:
        stream, label = _open_chain(job.container, job.names, MEMBER_LIMIT)
        archive = _Archive(stream, label)
    except (ArchiveError, OSError) as exc:
        error = exc if isinstance(exc, ArchiveError) else ArchiveError("unreadable", str(exc))
        for member in job.members:
            yield member, error
        return
    try:
        if archive.tar is not None:  # stream once, in archive order
            wanted: dict[str, Member | None] = {m.names[-1]: m for m in job.members}
            try:
                for tinfo in archive.tar:
                    found = wanted.pop(tinfo.name, None)
                    if found is None:
                        continue
                    try:
                        yield found, archive.read_tar(tinfo)
                    except ArchiveError as exc:
                        yield found, exc
            except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                error = ArchiveError("corrupt-archive", f"{label}: {exc}")
                for left in wanted.values():
                    if left is not None:
                        yield left, error
                return
            for left in wanted.values():
                if left is not None:
                    yield left, ArchiveError("unreadable", f"{left.path}: not in the archive")
        else:
            for member in job.members:
                try:
                    yield member, archive.read(member.names[-1], MEMBER_LIMIT)
                except ArchiveError as exc:
                    yield member, exc
    finally:
        archive.close()
        stream.close()


def read_member(member: Member, limit: int = MEMBER_LIMIT) -> bytes:
    """A member's bytes (raises :class:`ArchiveError` with the reason)."""
    try:
        stream, label = _open_chain(member.container, member.names[:-1], MEMBER_LIMIT)
    except OSError as exc:
        raise ArchiveError("unreadable", f"{member.container}: {exc.strerror or exc}") from exc
    try:
        archive = _Archive(stream, label)
        try:
            return archive.read(member.names[-1], limit)
        finally:
            archive.close()
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

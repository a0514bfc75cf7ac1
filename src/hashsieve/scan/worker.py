"""What a worker process does with one job: a file or an archive's members, hashed by
:func:`hashsieve.hashing.content.hash_content`, never written.

Runs in worker processes (or, later, on cluster workers), so it takes a path and returns plain
picklable results; every failure becomes a recorded error on the result.
"""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING

from hashsieve.hashing.content import FileResult, HashOptions, hash_content, hash_file
from hashsieve.hashing.crypto import CryptoHasher
from hashsieve.hashing.media import MediaKind, sniff
from hashsieve.sources.readonly import opener

if TYPE_CHECKING:
    from hashsieve.sources.archive import ArchiveJob, Bounded, Member

_UNKNOWN = "application/octet-stream"

__all__ = [
    "FileResult",
    "HashOptions",
    "hash_archive_job",
    "hash_evidence_file",
    "hash_file",
    "hash_read_member",
]

#: Bytes digested per read of a member over the in-memory limit.
_BLOCK = 8 * 1024 * 1024
#: A file the sniffer does not know is searched for pictures (by structure) up to this size;
#: one that holds some is opened as a container after the walk (sources/documents.py).
EMBEDDED_LIMIT = 64 * 1024 * 1024
#: Seconds the search may take in a worker.
EMBEDDED_SECONDS = 30.0
#: The metadata key that marks such a file (the scan lists its pictures like archive members).
EMBEDDED_KEY = "embedded_pictures"


def _mark_embedded(result: FileResult, data: bytes) -> None:
    """Count the pictures found by structure in content the sniffer did not know."""
    from hashsieve.sources import carve

    if result.error is not None or result.mime != _UNKNOWN or len(data) > EMBEDDED_LIMIT:
        return
    found = carve.carve(io.BytesIO(data), seconds=EMBEDDED_SECONDS, fragments=False)
    if found.items:
        result.metadata[EMBEDDED_KEY] = len(found.items)


def _internal_error(path: str, exc: Exception) -> FileResult:
    """An exception a decoder or reader let through (a bug, found by fuzz/): the item's
    recorded reason, never the end of the scan (the chunk's other items are kept)."""
    return FileResult(path=path, error=f"internal-error: {type(exc).__name__}: {exc}"[:500])


def hash_evidence_file(path: str, options: HashOptions) -> FileResult:
    """A file of the evidence (:func:`hash_file`); one the sniffer does not know, up to
    :data:`EMBEDDED_LIMIT`, is read again (from the page cache) and searched for pictures."""
    try:
        return _hash_evidence_file(path, options)
    except MemoryError:
        raise
    except Exception as exc:
        return _internal_error(path, exc)


def _hash_evidence_file(path: str, options: HashOptions) -> FileResult:
    result = hash_file(path, options)
    if result.mime == _UNKNOWN and result.error is None and (result.size or 0) <= EMBEDDED_LIMIT:
        try:
            with opener(path)() as stream:
                data = stream.read(EMBEDDED_LIMIT + 1)
        except OSError:
            return result  # it was readable a moment ago; its digests stand
        _mark_embedded(result, data)
    return result


def hash_archive_job(job: ArchiveJob, options: HashOptions) -> list[FileResult]:
    """The members of one archive job, each read in memory and hashed like a file; a member
    that cannot be read gets its error, the others go on."""
    from hashsieve.sources.archive import read_job

    return [hash_read_member(member, stream, options) for member, stream in read_job(job)]


def hash_read_member(
    member: Member, stream: Bounded | IO[bytes] | Exception, options: HashOptions
) -> FileResult:
    """One member as read (or the error that kept it from being read), hashed and given its
    place in its container (also a carve or document job's item: scan/listing.py)."""
    if isinstance(stream, Exception):
        result = FileResult(path=member.path, error=str(stream))
    else:
        try:
            result = hash_member(member, stream, options)
        except MemoryError:
            raise
        except Exception as exc:
            result = _internal_error(member.path, exc)
    # The size and time the archive declares: what a rerun compares to skip the member
    # (a compressed file's size was counted when it was listed).
    result.size, result.mtime_ns = member.size, member.mtime_ns
    # How the review reaches the member again (the EXIF step sets the dict anew).
    result.metadata = {**result.metadata, "archive": member.provenance()}
    if member.details:  # a disk image's file: its file system's times and inode
        # (a thumbnail's: the name of the file it was made from)
        about = "thumbnail" if member.recovered == "thumbnail" else "filesystem"
        result.metadata[about] = dict(member.details)
    result.recovered, result.offset = member.recovered, member.offset
    return result


def hash_member(member: Member, stream: Bounded | IO[bytes], options: HashOptions) -> FileResult:
    """A member held in memory up to the archive's limit and hashed like a file; a larger one
    gets its digests as it streams (never held whole) and, if it is media, ``too-large``."""
    from hashsieve.sources.archive import MEMBER_LIMIT, ArchiveError

    try:
        data = stream.read(MEMBER_LIMIT + 1)
        if len(data) <= MEMBER_LIMIT:
            result = hash_content(data, options, path=member.path)
            _mark_embedded(result, data)
            return result
        hasher, head, size = CryptoHasher(), data[:512], len(data)
        hasher.update(data)
        del data
        while block := stream.read(_BLOCK):
            hasher.update(block)
            size += len(block)
    except ArchiveError as exc:  # a bomb, a timeout, a corrupt stream: no partial digests
        return FileResult(path=member.path, error=str(exc))
    except MemoryError:
        return FileResult(path=member.path, error="too-large: out of memory reading the member")
    digests = hasher.result()
    kind, mime = sniff(head)
    result = FileResult(path=member.path, size=size, media_kind=kind.value, mime=mime)
    result.md5, result.sha1, result.sha256 = digests.md5, digests.sha1, digests.sha256
    if kind is not MediaKind.OTHER:
        limit = MEMBER_LIMIT // (1024 * 1024)
        result.error = f"too-large: {kind.value} member over {limit} MB (digests only)"
    return result

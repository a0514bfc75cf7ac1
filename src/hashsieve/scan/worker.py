"""What a worker process does with one job: a file or an archive's members, hashed by
:func:`hashsieve.hashing.content.hash_content`, never written.

Runs in worker processes (or, later, on cluster workers), so it takes a path and returns plain
picklable results; every failure becomes a recorded error on the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashsieve.hashing.content import FileResult, HashOptions, hash_content, hash_file
from hashsieve.hashing.crypto import CryptoHasher
from hashsieve.hashing.media import MediaKind, sniff

if TYPE_CHECKING:
    from hashsieve.sources.archive import ArchiveJob, Bounded, Member

__all__ = ["FileResult", "HashOptions", "hash_archive_job", "hash_file"]

#: Bytes digested per read of a member over the in-memory limit.
_BLOCK = 8 * 1024 * 1024


def hash_archive_job(job: ArchiveJob, options: HashOptions) -> list[FileResult]:
    """The members of one archive job, each read in memory and hashed like a file; a member
    that cannot be read gets its error, the others go on."""
    from hashsieve.sources.archive import read_job

    results = []
    for member, stream in read_job(job):
        if isinstance(stream, Exception):
            result = FileResult(path=member.path, error=str(stream))
        else:
            result = hash_member(member, stream, options)
        # The size and time the archive declares: what a rerun compares to skip the member
        # (a compressed file's size was counted when it was listed).
        result.size, result.mtime_ns = member.size, member.mtime_ns
        # How the review reaches the member again (the EXIF step sets the dict anew).
        result.metadata = {**result.metadata, "archive": member.provenance()}
        if member.details:  # a disk image's file: its file system's times and inode
            result.metadata["filesystem"] = dict(member.details)
        result.recovered, result.offset = member.recovered, member.offset
        results.append(result)
    return results


def hash_member(member: Member, stream: Bounded, options: HashOptions) -> FileResult:
    """A member held in memory up to the archive's limit and hashed like a file; a larger one
    gets its digests as it streams (never held whole) and, if it is media, ``too-large``."""
    from hashsieve.sources.archive import MEMBER_LIMIT, ArchiveError

    try:
        data = stream.read(MEMBER_LIMIT + 1)
        if len(data) <= MEMBER_LIMIT:
            return hash_content(data, options, path=member.path)
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

"""What a worker process does with one job: a file or an archive's members, hashed by
:func:`hashsieve.hashing.content.hash_content`, never written.

Runs in worker processes (or, later, on cluster workers), so it takes a path and returns plain
picklable results; every failure becomes a recorded error on the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashsieve.hashing.content import FileResult, HashOptions, hash_content, hash_file

if TYPE_CHECKING:
    from hashsieve.sources.archive import ArchiveJob

__all__ = ["FileResult", "HashOptions", "hash_archive_job", "hash_file"]


def hash_archive_job(job: ArchiveJob, options: HashOptions) -> list[FileResult]:
    """The members of one archive job, each read in memory and hashed like a file; a member
    that cannot be read gets its error, the others go on."""
    from hashsieve.sources.archive import read_job

    results = []
    for member, data in read_job(job):
        # The size and time the archive declares: what a rerun compares to skip the member.
        result = FileResult(path=member.path, size=member.size, mtime_ns=member.mtime_ns)
        if isinstance(data, Exception):
            result.error = str(data)
        else:
            result = hash_content(data, options, path=member.path)
            result.size, result.mtime_ns = member.size, member.mtime_ns
        # How the review reaches the member again (the EXIF step sets the dict anew).
        result.metadata = {**result.metadata, "archive": member.provenance()}
        results.append(result)
    return results

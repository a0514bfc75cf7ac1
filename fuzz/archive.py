"""Fuzz archive member handling (sources/archive.py over readers.py, cpio.py, sevenzip.py,
rar.py and the compressed-stream readers): listing a container found in the evidence, reading
its members in a worker's job, and listing a member as an inner archive.

Allowed: listing yields :class:`Member` or :class:`SourceProblem` (never raises); a job gives
one :class:`FileResult` per member, a member that cannot be read with its recorded error.
"""

from __future__ import annotations

from pathlib import Path

from fuzz._harness import UnexpectedOutcome, input_file, main

INSTRUMENT = ("hashsieve.sources",)
#: Inner archives listed per input (a scan lists every one; a few keep an input quick).
INNER = 3


def load() -> None:
    import hashsieve.scan.worker
    import hashsieve.sources.archive
    import hashsieve.sources.cpio
    import hashsieve.sources.disk
    import hashsieve.sources.documents
    import hashsieve.sources.rar
    import hashsieve.sources.sevenzip  # noqa: F401


def check_container(path: Path, names: tuple[str, ...] = (), depth: int = 0) -> None:
    """List ``names`` inside ``path``, hash its members, then list a few of them as archives."""
    from hashsieve.hashing.content import FileResult, HashOptions
    from hashsieve.scan.worker import hash_archive_job
    from hashsieve.sources.archive import Member, list_members, plan_jobs
    from hashsieve.sources.base import SourceProblem

    members: list[Member] = []
    for item in list_members(str(path), names):
        if isinstance(item, Member):
            members.append(item)
        elif not isinstance(item, SourceProblem):
            raise UnexpectedOutcome(f"listing yielded {type(item).__name__}")
    options = HashOptions(max_image_pixels=4_000_000, robust=False, decode_video=False)
    for job in plan_jobs(members):
        results = hash_archive_job(job, options)
        if len(results) != len(job.members):
            raise UnexpectedOutcome(f"{len(job.members)} members, {len(results)} results")
        for member, result in zip(job.members, results, strict=True):
            if not isinstance(result, FileResult) or result.path != member.path:
                raise UnexpectedOutcome(f"result {result!r} for {member.path}")
    if depth == 0:
        for member in members[:INNER]:
            check_container(path, member.names, depth + 1)


def one_input(data: bytes) -> None:
    check_container(input_file(data, "evidence.bin"))


if __name__ == "__main__":
    import sys

    main(sys.modules[__name__])

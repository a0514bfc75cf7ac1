"""A folder of known originals as a hash set: hashed here, reference parts included.

An agency's own reference library (or the categorised files of earlier cases) is a better known
set than a list of its hashes: besides MD5/SHA-1/SHA-256 and PDQ of every file (and the vPDQ
frames of every video, as ``vpdq`` entries), hashsieve derives the **reference parts** of every
image (:mod:`hashsieve.hashing.reference`), which catch cropped and boxed copies that plain PDQ
misses. Files are opened read-only and never changed; each is hashed through the scanner's own
``hash_file`` and, for the parts, decoded once more at full size (PDQ's reference decode), on the
scan's executor (one process per core).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from hashsieve.config import MAX_IMAGE_PIXELS, PDQ_MIN_QUALITY
from hashsieve.hashing.algorithms import CRYPTO_ALGORITHMS
from hashsieve.hashing.media import MediaKind, sniff
from hashsieve.hashsets.base import HashRecord, ParseProblem
from hashsieve.sources import SourceFile, open_source

#: How many files the sniffer looks at before deciding a folder holds no media.
_SNIFF_FILES = 50


def _files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` (or ``root`` itself), in name order, through the scan's own
    folder source: links never followed, loops and special files left out."""
    for item in open_source(str(root)).files():
        if isinstance(item, SourceFile):
            yield Path(item.path)


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(512)
    except OSError:
        return b""


class MediaFolderFormat:
    name: ClassVar[str] = "media"
    description: ClassVar[str] = (
        "a folder of known originals (images and videos), hashed here with reference parts"
    )
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = False

    def sniff(self, path: Path, head: bytes) -> bool:
        if head or not path.is_dir():
            return False
        for count, file in enumerate(_files(path)):
            if count >= _SNIFF_FILES:
                break
            if sniff(_head(file))[0] in (MediaKind.IMAGE, MediaKind.VIDEO):
                return True
        return False

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        """Every file hashed on the scan's executor (local processes, crash isolation, the
        worker memory limit); records come in the order files finish."""
        from hashsieve.workers.executor import LocalProcessExecutor

        files = [
            (file, file.name if file == path else file.relative_to(path).as_posix())
            for file in _files(path)
        ]
        workers = max(1, min(os.cpu_count() or 1, len(files)))
        executor: LocalProcessExecutor[tuple[Path, str], list[HashRecord | ParseProblem]]
        executor = LocalProcessExecutor(
            workers, on_crash=_crashed, chunk_size=2, preload=["hashsieve.workers.preload"]
        )
        try:
            for records in executor.map_unordered(_hash_original, files):
                yield from records
        finally:
            executor.close()


def _crashed(item: tuple[Path, str], message: str) -> list[HashRecord | ParseProblem]:
    return [ParseProblem(item[1], f"crash: {message}")]


def _hash_original(item: tuple[Path, str]) -> list[HashRecord | ParseProblem]:
    """One known original: digests, PDQ (or its video's frames), and its reference parts."""
    from hashsieve.hashing.content import HashOptions, hash_file
    from hashsieve.hashing.decode import UnreadableImage, open_image
    from hashsieve.hashing.reference import part_entry, reference_parts
    from hashsieve.hashsets.entries import frame_record

    file, entry = item
    options = HashOptions(max_image_pixels=MAX_IMAGE_PIXELS, fast_decode=False, robust=False)
    result = hash_file(str(file), options)
    if result.error and not result.md5:
        return [ParseProblem(entry, result.error)]
    out: list[HashRecord | ParseProblem] = [
        HashRecord(algorithm, value, entry)
        for algorithm in CRYPTO_ALGORITHMS
        if (value := getattr(result, algorithm))
    ]
    if result.error:  # the digests are good; the picture or video could not be read
        out.append(ParseProblem(entry, result.error))
        return out
    if result.frames:
        out += [
            frame_record(entry, frame)
            for frame in result.frames
            if frame.quality >= PDQ_MIN_QUALITY
        ]
        return out
    if result.pdq is None:
        return out  # not media: its digests are all there is
    out.append(HashRecord("pdq", result.pdq, entry))
    try:
        with file.open("rb") as stream:
            opened = open_image(stream.read(), max_pixels=MAX_IMAGE_PIXELS, fast=False)
    except (OSError, UnreadableImage) as exc:
        out.append(ParseProblem(entry, f"reference parts: {exc}"))
        return out
    out += [
        HashRecord(
            part.algorithm,
            part.code.hex(),
            part_entry(entry, part.label),
            item=entry,
            part=part.label,
        )
        for part in reference_parts(opened.image)
    ]
    return out

"""Thumbnails and display copies of evidence, rendered on demand from the read-only original.

The original is opened ``O_RDONLY | O_NOFOLLOW`` by the path the scan stored (never a path from a
request). Thumbnails are cached under ``$HASHSIEVE_HOME/thumbs/`` by content hash, never next to
the evidence. The report's thumbnails are blurred and greyscale in the pixels themselves, so a
printed report never shows the picture.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Protocol, cast

from PIL import Image, ImageFilter, ImageOps

from hashsieve.store import Store
from hashsieve.store.models import FileRecord, utcnow

THUMB_SIZES = (128, 256, 512)
DISPLAY_SIZE = 1600
#: Evidence files larger than this are not read for a preview.
MAX_PREVIEW_BYTES = 256 * 1024 * 1024
_O_NOATIME = getattr(os, "O_NOATIME", 0)


class Source(Protocol):
    """What a thumbnail needs of a file: a :class:`FileRecord`, or a row of these columns."""

    @property
    def sha256(self) -> str | None: ...
    @property
    def media_kind(self) -> str: ...
    @property
    def path_key(self) -> bytes: ...
    @property
    def size(self) -> int | None: ...
    @property
    def mtime_ns(self) -> int | None: ...
    @property
    def metadata_json(self) -> str | None: ...


#: The columns of :class:`Source` (a batch reads these, not whole rows).
SOURCE_COLUMNS = (
    FileRecord.sha256,
    FileRecord.media_kind,
    FileRecord.path_key,
    FileRecord.size,
    FileRecord.mtime_ns,
    FileRecord.metadata_json,
)


@dataclass(frozen=True)
class Rendered:
    data: bytes
    media_type: str


def read_evidence(path_key: bytes, limit: int = MAX_PREVIEW_BYTES) -> bytes:
    """The bytes of an evidence file, read-only, without following a symbolic link."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path_key, flags | _O_NOATIME)
    except PermissionError:
        fd = os.open(path_key, flags)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError("file too large for a preview")
    return data


def read_record(file: Source, limit: int = MAX_PREVIEW_BYTES) -> bytes:
    """The bytes of a scanned file: from the evidence, or from inside its archive (in memory)."""
    import json

    from hashsieve.sources.archive import ArchiveError, member_from_metadata, read_member

    metadata = json.loads(file.metadata_json) if file.metadata_json else None
    member = member_from_metadata(metadata, file.size or 0, file.mtime_ns or 0)
    if member is None:
        return read_evidence(file.path_key, limit)
    try:
        return read_member(member, limit)
    except ArchiveError as exc:
        raise OSError(str(exc)) from exc


def placeholder(label: str, size: int = 256) -> Rendered:
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 100 100"><rect width="100" height="100" fill="#3a3f47"/>'
        f'<text x="50" y="54" font-family="sans-serif" font-size="11" fill="#cfd6df" '
        f'text-anchor="middle">{escape(label)}</text></svg>'
    )
    return Rendered(svg.encode(), "image/svg+xml")


def _decode(data: bytes, box: int, max_pixels: int) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opened = Image.open(io.BytesIO(data))
        if opened.size[0] * opened.size[1] > max_pixels:
            raise OSError("image too large")
        opened.draft("RGB", (box, box))
        image = ImageOps.exif_transpose(opened).convert("RGB")
    image.thumbnail((box, box), Image.Resampling.LANCZOS)
    return image


def _jpeg(image: Image.Image, quality: int = 82) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def thumbnail(store: Store, file: Source, size: int = 256, *, report: bool = False) -> Rendered:
    """A JPEG thumbnail (``report``: blurred and greyscale in its pixels), or a placeholder."""
    size = min(THUMB_SIZES, key=lambda s: abs(s - size))
    if file.media_kind != "image":
        return placeholder("video" if file.media_kind == "video" else "no preview", size)
    suffix = "-report" if report else ""
    cache: Path | None = None
    if file.sha256:
        cache = store.home / "thumbs" / file.sha256[:2] / f"{file.sha256}-{size}{suffix}.jpg"
        if cache.is_file():
            return Rendered(cache.read_bytes(), "image/jpeg")
    try:
        image = _decode(read_record(file), size, store.settings.max_image_pixels)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return placeholder("no preview", size)
    if report:
        image = ImageOps.grayscale(image).filter(ImageFilter.GaussianBlur(max(4, size // 12)))
    data = _jpeg(image)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, cache)
    return Rendered(data, "image/jpeg")


def batch(
    store: Store, case_id: int, ids: list[int], size: int, username: str, client: str | None
) -> dict[str, str]:
    """Thumbnails of these files of the case as ``data:`` URLs by file id, each view audited.

    Files that are not in the case are left out (never an error that tells them apart). The
    files are read as plain rows and their audit rows (one per file, as a single view writes)
    go in with one multi-row insert: a screen of thumbnails is one short transaction.
    """
    import base64

    from sqlalchemy import insert, select

    from hashsieve.access.models import AuditEvent

    with store.session() as s:
        files = s.execute(
            select(FileRecord.id, FileRecord.path_text, *SOURCE_COLUMNS).where(
                (FileRecord.case_id == case_id) & FileRecord.id.in_(sorted(set(ids)))
            )
        ).all()
        if files:
            s.execute(
                insert(AuditEvent),
                [
                    {
                        "at": utcnow(),
                        "username": username,
                        "action": "thumbnail",
                        "case_id": case_id,
                        "file_id": f.id,
                        "sha256": f.sha256,
                        "path": f.path_text,
                        "client": client,
                    }
                    for f in files
                ],
            )
    out = {}
    for f in files:
        rendered = thumbnail(store, cast(Source, f), size)
        data = base64.b64encode(rendered.data).decode()
        out[str(f.id)] = f"data:{rendered.media_type};base64,{data}"
    return out


def display_image(store: Store, file: FileRecord) -> Rendered:
    """The picture for the detail view: re-encoded (never the raw bytes), at most 1600 px."""
    if file.media_kind == "video" and file.mime and file.mime.startswith("video/"):
        try:
            return Rendered(read_record(file), file.mime)
        except OSError:
            return placeholder("video unreadable")
    if file.media_kind != "image":
        return placeholder("no preview")
    try:
        image = _decode(read_record(file), DISPLAY_SIZE, store.settings.max_image_pixels)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return placeholder("no preview")
    return Rendered(_jpeg(image, 88), "image/jpeg")

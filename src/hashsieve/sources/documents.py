"""Pictures inside files that are not pictures, read in memory as the members of a container:

- a file the sniffer does not know (a program, a database, a picture appended to other bytes):
  the pictures the carver (:mod:`hashsieve.sources.carve`) finds in it, named by their offset
  (``setup.exe!/@0x1a2b.jpg``);
- an OLE compound file (old Word, Excel, PowerPoint; a Windows XP ``Thumbs.db``): each stream's
  pictures, found by the carver (``report.doc!/Data/@0x1a2b.jpg``), or for a ``Thumbs.db`` its
  thumbnails (``Thumbs.db!/1.jpg``, :mod:`hashsieve.sources.thumbcache`);
- a PDF: each image XObject of each page (``paper.pdf!/p1/Im0``), its JPEG bytes as they are
  when the PDF holds a JPEG (DCTDecode), else the decoded pixels as a PNG.

OOXML documents (``.docx``, ``.xlsx``, ``.pptx``) are ZIP archives: their ``word/media/*``
members are archive members already. Every member here is marked ``recovered="embedded"``
(``"thumbnail"`` for a thumbnail cache's) with its offset in the file or stream, when it has one.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, cast

from hashsieve.sources import carve
from hashsieve.sources.readers import ArchiveError, Entry, Reader

#: Seconds the carver may take over one file or OLE stream.
CARVE_SECONDS = 120.0
#: An OLE stream is read in memory up to this size (larger ones are skipped and recorded).
OLE_STREAM_LIMIT = 256 * 1024 * 1024
#: Form XObjects (drawings that hold images) are followed to this depth in a PDF.
PDF_DEPTH = 4

_OFFSET_NAME = re.compile(r"@0x([0-9a-f]+)\.[a-z0-9]+$")


def _carved_entries(stream: IO[bytes], prefix: str) -> Iterator[Entry]:
    """The pictures found in ``stream`` (fragments are not listed: in a file that is not a
    picture, stray signature bytes are common and mean nothing)."""
    found = carve.carve(stream, seconds=CARVE_SECONDS, fragments=False)
    for item in found.items:
        yield Entry(prefix + item.name, item.length, 0, recovered="embedded", offset=item.offset)
    if found.timed_out:
        yield Entry(
            f"{prefix}@0x{found.reached:x}.timeout",
            0,
            0,
            problem="timeout",
            offset=found.reached,
        )


def _carved_open(stream: IO[bytes], name: str, what: str) -> IO[bytes]:
    match = _OFFSET_NAME.search(name)
    item = carve.item_at(stream, int(match.group(1), 16)) if match else None
    if item is None:
        raise ArchiveError("unreadable", f"{what}: no picture at that offset")
    return cast(IO[bytes], _Slice(stream, item.offset, item.length))


class _Slice(io.RawIOBase):
    """``stream[offset:offset + length]`` read as it is asked for (a carved video may be 2 GB:
    the worker holds what it reads, up to the member limit, not the whole item)."""

    def __init__(self, stream: IO[bytes], offset: int, length: int) -> None:
        super().__init__()
        self.stream, self.pos, self.end = stream, offset, offset + length

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.end - self.pos if size < 0 else min(size, self.end - self.pos)
        if size <= 0:
            return b""
        self.stream.seek(self.pos)
        data = self.stream.read(size)
        self.pos += len(data)
        return data


class EmbeddedReader(Reader):
    """A file that is not media, holding pictures found by their structure."""

    random_access = True

    def __init__(self, stream: IO[bytes], label: str) -> None:
        super().__init__(label)
        self.stream = stream

    def entries(self) -> Iterator[Entry]:
        return _carved_entries(self.stream, "")

    def open(self, name: str) -> IO[bytes]:
        return _carved_open(self.stream, name, self._what(name))


class OleReader(Reader):
    """An OLE compound file: a ``Thumbs.db``'s thumbnails, or the pictures in other streams."""

    random_access = True

    def __init__(self, stream: IO[bytes], label: str) -> None:
        import olefile

        super().__init__(label)
        self.ole = olefile.OleFileIO(stream)
        self.paths = {"/".join(p): p for p in self.ole.listdir(streams=True, storages=False)}
        self.thumbs = "Catalog" in self.paths

    def _stream(self, path: str) -> bytes:
        size = self.ole.get_size(self.paths[path])
        if size > OLE_STREAM_LIMIT:
            raise ArchiveError("too-large", f"{self._what(path)}: stream over the limit")
        return bytes(self.ole.openstream(self.paths[path]).read())

    def entries(self) -> Iterator[Entry]:
        from hashsieve.sources.thumbcache import thumbs_db_catalog, thumbs_db_picture

        catalog = thumbs_db_catalog(self._stream("Catalog")) if self.thumbs else {}
        for path in sorted(self.paths):
            if path == "Catalog" and self.thumbs:
                continue
            try:
                data = self._stream(path)
            except ArchiveError as exc:
                yield Entry(path, self.ole.get_size(self.paths[path]), 0, problem=exc.reason)
                continue
            found = thumbs_db_picture(data) if self.thumbs else None
            if found is not None:
                at, ext = found
                details = (("thumbnail_of", catalog[path]),) if path in catalog else ()
                yield Entry(
                    f"{path}.{ext}", len(data) - at, 0, None, "thumbnail", details, offset=at
                )
                continue
            if carve.has_signature(data):
                yield from _carved_entries(io.BytesIO(data), f"{path}/")

    def open(self, name: str) -> IO[bytes]:
        from hashsieve.sources.thumbcache import thumbs_db_picture

        stream_path, _, own = name.rpartition("/")
        if stream_path in self.paths and own.startswith("@0x"):
            return _carved_open(io.BytesIO(self._stream(stream_path)), own, self._what(name))
        base = name.rsplit(".", 1)[0]
        if base not in self.paths:
            raise ArchiveError("unreadable", f"{self._what(name)}: no such stream")
        data = self._stream(base)
        found = thumbs_db_picture(data)
        if found is None:
            raise ArchiveError("unreadable", f"{self._what(name)}: no thumbnail in the stream")
        return io.BytesIO(data[found[0] :])

    def close(self) -> None:
        super().close()
        self.ole.close()


def _pdf_images(resources: Any, prefix: str, depth: int) -> Iterator[tuple[str, Any]]:
    """(member name, image XObject) of a resource dictionary, through Form XObjects."""
    xobjects = resources.get("/XObject") if resources is not None else None
    if xobjects is None:
        return
    xobjects = xobjects.get_object()
    for key in sorted(xobjects):
        obj = xobjects[key].get_object()
        own = str(key).lstrip("/").replace("/", "_") or "_"
        subtype = obj.get("/Subtype")
        if subtype == "/Image":
            yield prefix + own, obj
        elif subtype == "/Form" and depth < PDF_DEPTH:
            inner = obj.get("/Resources")
            yield from _pdf_images(
                inner.get_object() if inner is not None else None, f"{prefix}{own}/", depth + 1
            )


def _filters(obj: Any) -> list[str]:
    found = obj.get("/Filter")
    if found is None:
        return []
    found = found.get_object()
    return [str(f) for f in found] if isinstance(found, list) else [str(found)]


class PdfReader(Reader):
    """A PDF's image XObjects, page by page (each listed once, where it is first used)."""

    random_access = True

    def __init__(self, stream: IO[bytes], label: str) -> None:
        import pypdf

        super().__init__(label)
        self.pdf = pypdf.PdfReader(stream, strict=False)
        self._images: dict[str, Any] | None = None

    def _all(self) -> dict[str, Any]:
        if self._images is None:
            self._images, seen = {}, set()
            for number, page in enumerate(self.pdf.pages, 1):
                resources = page.get("/Resources")
                resources = resources.get_object() if resources is not None else None
                for name, obj in _pdf_images(resources, f"p{number}/", 0):
                    ref = getattr(obj, "indirect_reference", None)
                    key = (ref.idnum, ref.generation) if ref is not None else id(obj)
                    if key not in seen:
                        seen.add(key)
                        self._images[name] = obj
        return self._images

    def entries(self) -> Iterator[Entry]:
        for name, obj in self._all().items():
            # The stream's encoded length (pypdf keeps the raw bytes it read; /Length may be gone)
            raw = getattr(obj, "_data", None)
            yield Entry(name, len(raw) if isinstance(raw, bytes) else -1, 0, recovered="embedded")

    def open(self, name: str) -> IO[bytes]:
        obj = self._all().get(name)
        if obj is None:
            raise ArchiveError("unreadable", f"{self._what(name)}: no such image")
        if _filters(obj)[-1:] == ["/DCTDecode"]:  # a JPEG as it is (after any outer filter)
            return io.BytesIO(obj.get_data())
        out = io.BytesIO()
        obj.decode_as_image().save(out, "PNG")
        out.seek(0)
        return out


#: Seconds the carver may take over the unallocated runs of one carve job (a disk image's
#: whole free space when read by :class:`WithUnallocated`).
UNALLOCATED_SECONDS = 3600.0
#: Where a disk image's carved pictures are listed (offsets in the whole media, in hex).
UNALLOCATED = "$Unallocated/"


class _MediaStream(io.RawIOBase):
    """A disk's media (``read(offset, size)``, :func:`hashsieve.sources.disk.open_media`) as a
    seekable stream, for the carver."""

    def __init__(self, media: Any) -> None:
        super().__init__()
        self.media, self.pos = media, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else (self.pos + offset if whence == 1 else 0)
        if whence == 2:
            self.pos = int(self.media.size) + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int = -1) -> bytes:
        size = int(self.media.size) - self.pos if size < 0 else size
        # Zeros where the image cannot be read (a segment cut short): the rest is still carved,
        # and the run is recorded as damaged (see _unallocated_entries).
        data = bytes(self.media.read_or_zeros(self.pos, size)) if size > 0 else b""
        self.pos += len(data)
        return data

    @property
    def failures(self) -> int:
        return int(getattr(self.media, "failures", 0))


def merged_runs(runs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs sorted, touching ones joined (a picture may span a partition gap and free blocks)."""
    out: list[tuple[int, int]] = []
    for offset, length in sorted(runs):
        if out and offset <= out[-1][0] + out[-1][1]:
            last = out[-1]
            out[-1] = (last[0], max(last[1], offset + length - last[0]))
        elif length > 0:
            out.append((offset, length))
    return out


def _unallocated_entries(
    stream: IO[bytes], runs: Iterable[tuple[int, int]], deadline: float
) -> Iterator[Entry]:
    """The pictures carved from each run of ``stream`` (a disk's media), and one problem entry
    per fragment run and for a search cut short by ``deadline``. Each run is searched on its
    own: a picture never spans two runs that are not touching."""
    for start, length in runs:
        failures = getattr(stream, "failures", 0)
        found = carve.carve(stream, start, start + length, deadline=deadline)
        if getattr(stream, "failures", 0) > failures:
            yield Entry(
                f"{UNALLOCATED}@0x{start:x}+{length}.unreadable",
                length,
                0,
                problem="corrupt-image",
                offset=start,
            )
        for item in found.items:
            name = UNALLOCATED + item.name
            yield Entry(name, item.length, 0, recovered="carved", offset=item.offset)
        for run in found.fragments:
            kinds = "/".join(run.kinds)
            yield Entry(
                f"{UNALLOCATED}@0x{run.offset:x}+{run.length}.{run.count}-{kinds}-fragments",
                run.length,
                0,
                problem="carve-fragments",
                offset=run.offset,
            )
        if found.timed_out:
            yield Entry(f"{UNALLOCATED}@0x{found.reached:x}.timeout", 0, 0, problem="timeout")
            return


def carve_runs(
    path: str, runs: Sequence[tuple[int, int]], seconds: float = UNALLOCATED_SECONDS
) -> Iterator[tuple[Entry, IO[bytes] | None]]:
    """A scan's carve job, in the worker: the disk image at ``path`` opened here (every segment,
    read-only), ``runs`` (offset, length in the media; merged, see :func:`merged_runs`) carved,
    and each entry of :func:`_unallocated_entries` with its bytes (valid until the next entry is
    asked for; None for a problem). Raises :class:`ArchiveError` when the image cannot be
    opened."""
    from hashsieve.sources import disk

    media = disk.open_image(path)
    try:
        stream = cast(IO[bytes], _MediaStream(media))
        for entry in _unallocated_entries(stream, runs, time.monotonic() + seconds):
            if entry.problem is not None or entry.offset is None:
                yield entry, None
            else:
                yield entry, cast(IO[bytes], _Slice(stream, entry.offset, entry.size))
    finally:
        media.close()


class WithUnallocated(Reader):
    """A disk image's reader (its files) and, after them, the pictures carved from the space
    no file claims (``recovered="carved"``, the offset in the media), named
    ``$Unallocated/@0x<offset>.<ext>``; broken pictures close together are one recorded
    ``carve-fragments`` problem per run of bytes."""

    def __init__(self, inner: Reader, stream: IO[bytes], label: str, path: str | None) -> None:
        super().__init__(label)
        self.inner, self.stream, self.path = inner, stream, path
        self.random_access = inner.random_access
        if hasattr(inner, "max_members"):  # a disk may list far more files than an archive
            self.max_members = inner.max_members
        self._media: Any = None

    def _carve_stream(self) -> IO[bytes]:
        from hashsieve.sources import disk

        if self._media is None:
            self._media = disk.open_media(self.stream, self.label, self.path)
        return cast(IO[bytes], _MediaStream(self._media))  # the carver reads large blocks

    def _carved(self) -> Iterator[Entry]:
        from hashsieve.sources import disk

        if self.path is None:  # an image inside an archive: its files only
            return
        runs = merged_runs(disk.unallocated_runs(self.path))
        deadline = time.monotonic() + UNALLOCATED_SECONDS
        yield from _unallocated_entries(self._carve_stream(), runs, deadline)

    def entries(self) -> Iterator[Entry]:
        yield from self.inner.entries()
        yield from self._carved()

    def items(self) -> Iterator[tuple[Entry, IO[bytes] | None]]:
        yield from self.inner.items()
        for entry in self._carved():
            yield entry, (self.open(entry.name) if entry.problem is None else None)

    def open(self, name: str) -> IO[bytes]:
        if name.startswith(UNALLOCATED):
            return _carved_open(self._carve_stream(), name, self._what(name))
        return self.inner.open(name)

    def close(self) -> None:
        self.inner.close()
        if self._media is not None:
            self._media.close()

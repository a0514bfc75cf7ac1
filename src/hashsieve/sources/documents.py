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
from collections.abc import Iterator
from typing import IO, Any

from hashsieve.sources import carve
from hashsieve.sources.readers import ArchiveError, Entry, Reader

#: Seconds the carver may take over one file or OLE stream.
CARVE_SECONDS = 120.0
#: An OLE stream is read in memory up to this size (larger ones are skipped and recorded).
OLE_STREAM_LIMIT = 256 * 1024 * 1024
#: Form XObjects (drawings that hold images) are followed to this depth in a PDF.
PDF_DEPTH = 4

_OFFSET_NAME = re.compile(r"@0x([0-9a-f]+)\.[a-z0-9]+$")


def _carved_entries(
    stream: IO[bytes], prefix: str, label: str, recovered: str = "embedded"
) -> Iterator[Entry]:
    found = carve.carve(stream, seconds=CARVE_SECONDS, fragments=False)
    for item in found.items:
        yield Entry(prefix + item.name, item.length, 0, recovered=recovered, offset=item.offset)
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
    stream.seek(item.offset)
    return io.BytesIO(stream.read(item.length))


class EmbeddedReader(Reader):
    """A file that is not media, holding pictures found by their structure."""

    random_access = True

    def __init__(self, stream: IO[bytes], label: str) -> None:
        super().__init__(label)
        self.stream = stream

    def entries(self) -> Iterator[Entry]:
        return _carved_entries(self.stream, "", self.label)

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
                yield from _carved_entries(io.BytesIO(data), f"{path}/", self.label)

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
            length = obj.get("/Length")
            size = int(length.get_object()) if length is not None else -1
            yield Entry(name, size, 0, recovered="embedded")

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

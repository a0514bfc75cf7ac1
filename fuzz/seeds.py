"""Rebuild the seed corpora in fuzz/corpus/<target>/ from the tests' own builders and small files
of /work/shared/realworld (the field's public test data; nothing over :data:`MAX_SEED` bytes).

    .venv/bin/python -m fuzz.seeds

Seeds are committed; run this only to refresh them. Every seed is benign test data.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"
REALWORLD = ROOT.parent.parent / "shared" / "realworld"
MAX_SEED = 24 * 1024


def _put(target: str, name: str, data: bytes) -> None:
    if len(data) > MAX_SEED:
        return
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def _small_files(folder: Path, limit: int, count: int) -> list[Path]:
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.stat().st_size <= limit)
    return files[:count]


def hashsets() -> None:
    from tests.test_contracts import FORMAT_SAMPLES

    from hashsieve.hashsets import FORMATS

    names = FORMATS.names()
    for index, name in enumerate(names):
        with tempfile.TemporaryDirectory() as tmp:
            path = FORMAT_SAMPLES[name](Path(tmp))
            if path.is_dir():
                path = sorted(p for p in path.rglob("*") if p.is_file())[0]
            _put("hashsets", f"{name}.bin", bytes([index]) + path.read_bytes())


def icap() -> None:
    from hashsieve.samples.images import jpeg_bytes, photo_like
    from hashsieve.sensors.icap.protocol import chunked

    picture = jpeg_bytes(photo_like(3, (64, 48)))
    req = b"GET http://example.test/a.jpg HTTP/1.1\r\nHost: example.test\r\n\r\n"

    def respmod(body: bytes, ctype: str, preview: int | None, ieof: bool = False) -> bytes:
        res = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        head = (
            "RESPMOD icap://127.0.0.1:1344/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n"
            + ("" if preview is None else f"Preview: {preview}\r\n")
            + "Allow: 204\r\n"
            + f"Encapsulated: req-hdr=0, res-hdr={len(req)}, res-body={len(req) + len(res)}\r\n\r\n"
        ).encode()
        if preview is None:
            return head + req + res + chunked(body, 512)
        first = body[:preview]
        rest = body[preview:]
        ext = b"; ieof" if ieof else b""
        return (
            head
            + req
            + res
            + (b"%x\r\n%s\r\n" % (len(first), first) if first else b"")
            + b"0"
            + ext
            + b"\r\n\r\n"
            + (b"" if ieof else chunked(rest, 700))
        )

    options = b"OPTIONS icap://127.0.0.1:1344/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    _put("icap", "options", options)
    _put("icap", "respmod-preview", respmod(picture, "image/jpeg", 1024))
    _put("icap", "respmod-whole", respmod(picture, "application/octet-stream", None))
    _put("icap", "respmod-ieof", respmod(picture[:900], "image/jpeg", 1024, ieof=True))
    _put("icap", "respmod-text", respmod(b"hello\n" * 20, "text/plain", 30))
    null = (
        b"RESPMOD icap://127.0.0.1:1344/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n"
        b"Encapsulated: res-hdr=0, null-body=19\r\n\r\nHTTP/1.1 304 Not\r\n\r\n"
    )
    _put("icap", "keepalive", options + null + respmod(picture, "image/jpeg", 1024))


def content() -> None:
    from hashsieve.samples.images import jpeg_bytes, photo_like

    _put("content", "photo.jpg", jpeg_bytes(photo_like(1, (96, 64))))
    for sub in ("pillow", "libheif", "libjpeg-turbo"):
        for path in _small_files(REALWORLD / "media" / sub, 6 * 1024, 40):
            _put("content", f"{sub}-{path.name}", path.read_bytes())


def archive() -> None:
    from tests.sources.test_containers import _cpio, _rar4, _seven_zip, _v7_tar, _zip

    from hashsieve.samples.images import jpeg_bytes, photo_like

    entries = {"a/photo.jpg": jpeg_bytes(photo_like(2, (32, 32))), "notes.txt": b"notes\n" * 10}
    for kind in ("newc", "odc", "bin"):
        _put("archive", f"{kind}.cpio", _cpio(kind, entries))
    _put("archive", "stored.rar", _rar4(entries))
    _put("archive", "small.7z", _seven_zip(entries))
    _put("archive", "v7.tar", _v7_tar(entries))
    _put("archive", "small.zip", _zip(entries))
    _put("archive", "nested.zip", _zip({"inner.zip": _zip(entries), "x.txt": b"x"}))
    for path in _small_files(REALWORLD / "disk-images" / "dfvfs", 12 * 1024, 40):
        if path.suffix in {".cpio", ".bz2", ".gz", ".xz", ".tgz", ".tar", ".zip"}:
            _put("archive", path.name, path.read_bytes())


def disk() -> None:
    from tests.scan.test_embedded import ole_file, pdf_with_jpeg, thumbcache_db, thumbs_db

    from hashsieve.samples.images import jpeg_bytes, photo_like

    picture = jpeg_bytes(photo_like(4, (32, 32)))
    _put("disk", "thumbcache.db", thumbcache_db({"a": picture}))
    _put("disk", "Thumbs.db", thumbs_db({1: ("a.jpg", picture)}))
    _put("disk", "with-jpeg.pdf", pdf_with_jpeg(picture, 32, 32))
    _put("disk", "ole.doc", ole_file({"Data": picture}))
    _put("disk", "carve.bin", b"\x00" * 1000 + picture + b"\xff" * 100 + picture[:300])
    for name in ("ext2.E01", "hfsplus_zlib.dmg"):
        path = REALWORLD / "disk-images" / "dfvfs" / name
        if path.exists():
            _put("disk", name, path.read_bytes())


TARGETS = {"hashsets": hashsets, "icap": icap, "content": content, "archive": archive, "disk": disk}


def main() -> None:
    for target, build in TARGETS.items():
        shutil.rmtree(CORPUS / target, ignore_errors=True)
        build()
        files = sorted((CORPUS / target).iterdir())
        size = sum(f.stat().st_size for f in files)
        digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]
        print(f"{target}: {len(files)} seeds, {size:,} bytes ({digest})")


if __name__ == "__main__":
    main()

"""Pictures where no file entry says so: appended to or inside other files, in Windows thumbnail
caches, in PDF and Office documents. Each is hashed in memory and matched like a file."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from hashsieve import run_scan
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.store import Store

KNOWN = jpeg_bytes(photo_like(21, (320, 240)))
THUMB = jpeg_bytes(photo_like(22, (256, 192)))  # over 4 KiB: an OLE stream of its own sectors
NEW = jpeg_bytes(photo_like(23, (320, 240)))

# -- writers of the formats, from their public descriptions ------------------------------------

_END, _FREE, _FATSECT, _NONE = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def ole_file(streams: dict[str, bytes]) -> bytes:
    """A compound file (MS-CFB, version 3, 512-byte sectors) of root-level streams, each at
    least 4 KiB (padded with zeros) so that none goes to the mini stream."""
    sector = 512
    body, fat, starts = bytearray(), [], {}
    for name, data in streams.items():
        data = data.ljust(4096, b"\x00")
        streams[name] = data
        count = -(-len(data) // sector)
        starts[name] = len(fat)
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [_END]
        body += data.ljust(count * sector, b"\x00")
    entries = [("Root Entry", 5, _END, 0)] + [(n, 2, starts[n], len(d)) for n, d in streams.items()]
    directory = bytearray()
    for index, (name, kind, start, size) in enumerate(entries):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        right = index + 1 if 0 < index < len(entries) - 1 else _NONE
        child = 1 if index == 0 and len(entries) > 1 else _NONE
        entry = raw.ljust(64, b"\x00") + len(raw).to_bytes(2, "little")
        entry += bytes([kind, 1]) + _NONE.to_bytes(4, "little") + right.to_bytes(4, "little")
        entry += child.to_bytes(4, "little") + bytes(16 + 4 + 16)
        entry += start.to_bytes(4, "little") + size.to_bytes(8, "little")
        directory += entry
    dir_sectors = -(-len(directory) // sector)
    dir_start = len(fat)
    fat += [dir_start + i + 1 for i in range(dir_sectors - 1)] + [_END]
    body += directory.ljust(dir_sectors * sector, b"\x00")
    fat_start = len(fat)
    fat_sectors = 1
    while len(fat) + fat_sectors > fat_sectors * sector // 4:
        fat_sectors += 1
    fat += [_FATSECT] * fat_sectors
    table = b"".join(v.to_bytes(4, "little") for v in fat)
    body += table.ljust(fat_sectors * sector, b"\xff")
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
    header += (0x3E).to_bytes(2, "little") + (3).to_bytes(2, "little") + b"\xfe\xff"
    header += (9).to_bytes(2, "little") + (6).to_bytes(2, "little") + bytes(6)
    header += (0).to_bytes(4, "little") + fat_sectors.to_bytes(4, "little")
    header += dir_start.to_bytes(4, "little") + bytes(4) + (4096).to_bytes(4, "little")
    header += _END.to_bytes(4, "little") + bytes(4) + _END.to_bytes(4, "little") + bytes(4)
    difat = [fat_start + i for i in range(fat_sectors)] + [_FREE] * (109 - fat_sectors)
    header += b"".join(v.to_bytes(4, "little") for v in difat)
    assert len(header) == sector
    return bytes(header + body)


def thumbs_db(thumbnails: dict[int, tuple[str, bytes]]) -> bytes:
    """A Windows XP Thumbs.db: a Catalog stream (index -> file name) and, per thumbnail, a stream
    named by its index's digits reversed: a 12-byte header (its length, the index, the data's
    size) and the JPEG."""
    catalog = bytearray((16).to_bytes(2, "little") + (7).to_bytes(2, "little"))
    catalog += len(thumbnails).to_bytes(4, "little") + (96).to_bytes(4, "little") * 2
    streams: dict[str, bytes] = {}
    for index, (name, jpeg) in thumbnails.items():
        text = name.encode("utf-16-le") + b"\x00\x00"
        catalog += (16 + len(text)).to_bytes(4, "little") + index.to_bytes(4, "little")
        catalog += bytes(8) + text
        streams[str(index)[::-1]] = (
            (12).to_bytes(4, "little") + index.to_bytes(4, "little")
            + len(jpeg).to_bytes(4, "little") + jpeg
        )  # fmt: skip
    return ole_file({"Catalog": bytes(catalog), **streams})


def thumbcache_db(entries: dict[str, bytes], version: int = 32) -> bytes:
    """A thumbcache_*.db of Windows 8 and later (format 32): a 24-byte "CMMM" header (version,
    cache type, an unknown field, the first entry's offset, the first free offset), then
    entries: "CMMM", size, 8-byte hash, identifier/padding/data sizes, width, height, unknown,
    data and header checksums (56 bytes), the UTF-16 identifier, padding and data."""
    body = bytearray()
    # Vista (20): a 4-character file extension after the hash; 7 (21): no width and height.
    header_size = 48 if version == 21 else 56
    for number, (identifier, data) in enumerate(entries.items()):
        ident = identifier.encode("utf-16-le")
        padding = (-(header_size + len(ident) + len(data))) % 8
        size = header_size + len(ident) + len(data) + padding
        head = b"CMMM" + size.to_bytes(4, "little") + (0x1234 + number).to_bytes(8, "little")
        if version == 20:
            head += "jpg".encode("utf-16-le").ljust(8, b"\x00")
        sizes = len(ident).to_bytes(4, "little") + padding.to_bytes(4, "little")
        head += sizes + len(data).to_bytes(4, "little")
        if version >= 26:
            head += (256).to_bytes(4, "little") * 2
        head += bytes(4 + 8 + 8)
        assert len(head) == header_size
        body += head + ident + bytes(padding) + data
    header = b"CMMM" + version.to_bytes(4, "little") + (1).to_bytes(4, "little")
    if version in (20, 21):  # first entry, first free, count
        header += (24).to_bytes(4, "little") + (24 + len(body)).to_bytes(4, "little")
        header += len(entries).to_bytes(4, "little")
    else:  # unknown, first entry, first free
        header += bytes(4) + (24).to_bytes(4, "little") + (24 + len(body)).to_bytes(4, "little")
    return bytes(header + body)


def pdf_with_jpeg(jpeg: bytes, width: int, height: int) -> bytes:
    """A one-page PDF drawing one JPEG image XObject (DCTDecode: the JPEG's bytes as they are)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 240] "
        b"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream"
        % (width, height, len(jpeg), jpeg),
        b"<< /Length 35 >>\nstream\nq 320 0 0 240 0 0 cm /Im0 Do Q\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def docx_with(jpeg: bytes) -> bytes:
    return _zip(
        {
            "[Content_Types].xml": b"<Types/>",
            "word/document.xml": b"<w:document/>",
            "word/media/image1.jpeg": jpeg,
        }
    )


# -- the scan -------------------------------------------------------------------------------


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    prefix = b"\x7fELF" + bytes(range(256)) * 40  # a program with a picture appended
    (folder / "tool.bin").write_bytes(prefix + KNOWN + b"\x00" * 100)
    (folder / "Thumbs.db").write_bytes(thumbs_db({1: ("holiday.jpg", THUMB), 2: ("x.jpg", NEW)}))
    (folder / "thumbcache_256.db").write_bytes(
        thumbcache_db({"6a1d4e5f0b2c3d4e": NEW, "00aa11bb22cc33dd": THUMB})
    )
    (folder / "paper.pdf").write_bytes(pdf_with_jpeg(KNOWN, 320, 240))
    (folder / "letter.docx").write_bytes(docx_with(KNOWN))
    data_stream = b"\x00" * 1000 + KNOWN + b"\x01" * 50
    (folder / "old.doc").write_bytes(
        ole_file({"WordDocument": b"\xec\xa5" + bytes(5000), "Data": data_stream})
    )
    (folder / "bundle.zip").write_bytes(_zip({"bin/tool.bin": b"MZ" + bytes(3000) + KNOWN}))
    (folder / "notes.txt").write_bytes(b"BM nothing to see here, \xff\xd8\xff but no JPEG\n" * 50)
    return folder


def _scan(store: Store, evidence: Path, tmp_path: Path) -> dict[str, dict]:
    known = tmp_path / "known.txt"
    known.write_text(
        f"md5 {hashlib.md5(KNOWN).hexdigest()}\nmd5 {hashlib.md5(THUMB).hexdigest()}\n"
    )
    import_hashset(store, known, "known", category=1)
    jsonl = tmp_path / "scan.jsonl"
    run_scan(store, "c", [str(evidence)], jsonl_path=jsonl)
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    return {r["path"].removeprefix(str(evidence) + "/"): r for r in rows}


def test_pictures_inside_other_files_are_found_hashed_and_matched(
    store: Store, evidence: Path, tmp_path: Path
) -> None:
    rows = _scan(store, evidence, tmp_path)
    offset = 4 + 256 * 40
    appended = rows[f"tool.bin!/@0x{offset:x}.jpg"]
    assert appended["verdict"] == "known"
    assert (appended["recovered"], appended["offset"]) == ("embedded", offset)
    assert appended["md5"] == hashlib.md5(KNOWN).hexdigest()
    assert rows["tool.bin"]["metadata"]["embedded_pictures"] == 1

    thumb = rows["Thumbs.db!/1.jpg"]
    assert (thumb["verdict"], thumb["recovered"]) == ("known", "thumbnail")
    assert thumb["metadata"]["thumbnail"] == {"thumbnail_of": "holiday.jpg"}
    assert rows["Thumbs.db!/2.jpg"]["verdict"] == "new"
    cached = rows["thumbcache_256.db!/00aa11bb22cc33dd.jpg"]
    assert (cached["verdict"], cached["recovered"]) == ("known", "thumbnail")
    assert rows["thumbcache_256.db!/6a1d4e5f0b2c3d4e.jpg"]["verdict"] == "new"

    pdf = rows["paper.pdf!/p1/Im0"]
    assert (pdf["verdict"], pdf["recovered"]) == ("known", "embedded")
    assert pdf["md5"] == hashlib.md5(KNOWN).hexdigest()  # the JPEG's own bytes
    assert rows["letter.docx!/word/media/image1.jpeg"]["verdict"] == "known"
    doc = rows["old.doc!/Data/@0x3e8.jpg"]
    assert (doc["verdict"], doc["recovered"], doc["offset"]) == ("known", "embedded", 1000)

    # Inside an archive member too.
    inner = rows["bundle.zip!/bin/tool.bin!/@0xbba.jpg"]
    assert (inner["verdict"], inner["recovered"], inner["offset"]) == ("known", "embedded", 3002)

    # A text file with stray signature bytes holds nothing and is no container.
    assert not [p for p in rows if p.startswith("notes.txt!/")]
    assert "embedded_pictures" not in (rows["notes.txt"]["metadata"] or {})
    # Nothing is written beside the evidence.
    assert sorted(p.name for p in evidence.iterdir()) == [
        "Thumbs.db",
        "bundle.zip",
        "letter.docx",
        "notes.txt",
        "old.doc",
        "paper.pdf",
        "thumbcache_256.db",
        "tool.bin",
    ]


def test_a_rerun_skips_what_was_found_and_adds_no_duplicates(
    store: Store, evidence: Path, tmp_path: Path
) -> None:
    first = _scan(store, evidence, tmp_path)
    jsonl = tmp_path / "again.jsonl"
    summary = run_scan(store, "c", [str(evidence)], jsonl_path=jsonl)
    assert summary.files == 0 and summary.skipped == len(first)


def test_damaged_documents_and_caches_are_recorded_errors(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    (folder / "broken.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 600)
    cache = thumbcache_db({"aa": THUMB, "bb": KNOWN})
    cut = cache.index(KNOWN) + 100  # the second entry runs past the file's end
    (folder / "thumbcache_96.db").write_bytes(cache[:cut])
    rows = _scan(store, folder, tmp_path)
    assert rows["broken.pdf!/"]["error"].startswith("corrupt-archive")
    assert rows["broken.doc!/"]["error"].startswith("corrupt-archive")
    # The entries before the damage are kept.
    assert rows["thumbcache_96.db!/aa.jpg"]["verdict"] == "known"
    assert not [p for p in rows if p.startswith("thumbcache_96.db!/bb")]


@pytest.mark.parametrize("version", [20, 21, 32])
def test_thumbcache_entries_of_each_windows_version(version: int) -> None:
    from hashsieve.sources import thumbcache

    data = thumbcache_db({"0f1e2d3c4b5a6978": THUMB, "x y": NEW}, version=version)
    found = list(thumbcache.cache_entries(io.BytesIO(data)))
    assert [e.name for e in found] == ["0f1e2d3c4b5a6978.jpg", f"{0x1235:016x}.jpg"]
    assert [data[e.offset : e.offset + e.size] for e in found] == [THUMB, NEW]


def test_pictures_in_a_disk_images_unallocated_space_are_carved(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import func, select, update

    from hashsieve.scan.listing import LISTED_KEY
    from hashsieve.sources import carve
    from hashsieve.store.models import FileRecord
    from tests.sources.disk_builders import MISSING, fat_fs

    if MISSING:
        pytest.skip(f"Debian tools missing: {', '.join(MISSING)}")
    folder = tmp_path / "evidence"
    folder.mkdir()
    image = fat_fs(folder / "card.img", {"DCIM/keep.jpg": NEW}, {}, mib=8)
    raw = bytearray(image.read_bytes())
    at, cut = 6 * 1024 * 1024, 7 * 1024 * 1024  # free clusters: FAT fills from the start
    assert not any(raw[at : at + len(KNOWN)]) and not any(raw[cut : cut + 5000])
    raw[at : at + len(KNOWN)] = KNOWN
    raw[cut : cut + 5000] = THUMB[:5000]  # a picture cut short: one fragment run
    image.write_bytes(bytes(raw))

    def not_here(*args: object, **kwargs: object) -> None:
        raise AssertionError("carving ran in the scan's main process")

    # The workers are fresh interpreters (forkserver): only this process is patched.
    monkeypatch.setattr(carve, "carve", not_here)
    rows = _scan(store, folder, tmp_path)
    carved = rows[f"card.img!/$Unallocated/@0x{at:x}.jpg"]
    assert (carved["verdict"], carved["recovered"], carved["offset"]) == ("known", "carved", at)
    assert carved["md5"] == hashlib.md5(KNOWN).hexdigest()
    assert rows["card.img!/DCIM/keep.jpg"]["verdict"] == "new"
    fragments = [p for p in rows if p.endswith("-fragments")]
    assert len(fragments) == 1 and fragments[0].startswith(f"card.img!/$Unallocated/@0x{cut:x}+")
    assert rows[fragments[0]]["verdict"] == "unreadable"

    # The carve job is marked done in the image's record with its last rows: not redone.
    key = FileRecord.path_key == str(image).encode()
    with store.session() as s:
        (marked,) = s.execute(select(FileRecord.metadata_json).where(key)).one()
    assert list(json.loads(marked)[LISTED_KEY].values()) == [1]  # one job, one picture
    again = run_scan(store, "c", [str(folder)])
    assert again.files == 0 and again.skipped == len(rows) - 1  # all but the fragment record
    # A job whose mark never made it (killed after some of its rows): redone, rows replaced.
    with store.session() as s:
        s.execute(update(FileRecord).where(key).values(metadata_json=None))
    redone = run_scan(store, "c", [str(folder)])
    assert redone.files == 1
    with store.session() as s:
        count = select(func.count(), func.count(FileRecord.path_key.distinct()))
        assert tuple(s.execute(count).one()) == (len(rows), len(rows))
        (marked,) = s.execute(select(FileRecord.metadata_json).where(key)).one()
    assert LISTED_KEY in json.loads(marked)


def test_a_pdf_image_that_is_not_a_jpeg_is_decoded_to_a_png() -> None:
    from PIL import Image

    from hashsieve.sources.documents import PdfReader

    black_and_white = photo_like(24, (120, 90)).convert("1")
    out = io.BytesIO()
    black_and_white.save(out, "PDF")  # not a JPEG in the PDF: 1-bit pixels
    reader = PdfReader(io.BytesIO(out.getvalue()), "bw.pdf")
    [entry] = list(reader.entries())
    assert entry.recovered == "embedded" and entry.size > 0
    data = reader.open(entry.name).read()
    assert data.startswith(b"\x89PNG")
    decoded = Image.open(io.BytesIO(data)).convert("L")
    assert decoded.tobytes() == black_and_white.convert("L").tobytes()

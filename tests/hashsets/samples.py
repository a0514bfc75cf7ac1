"""Benign sample hash sets written by the tests. Every hash is a digest of a short made-up string
(or, for PDQ, 64 hex digits standing in for a PDQ code): no real media, no real hash set."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pdq(text: str) -> str:
    return hashlib.sha256(b"pdq:" + text.encode()).hexdigest()


CONTEXTS = {
    ("1.x", "Media"): "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media",
    ("1.x", "Cases"): "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Cases",
    ("2.0", "Media"): (
        "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
    ),
    ("2.0", "Cases"): (
        "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases"
    ),
}


def vics_media(media_id: int, name: str, **extra: Any) -> dict[str, Any]:
    """A media record the way national sets write it: upper-case MD5/SHA1, string flags."""
    return {
        "MediaID": media_id,
        "Category": 1,
        "MD5": md5(name).upper(),
        "SHA1": sha1(name).upper(),
        "MediaSize": "1234",
        "DateUpdated": "2024-01-01T00:00:00.000Z",
        "IsPrecategorized": "true",
        **extra,
    }


def write_vics(
    path: Path,
    media: list[dict[str, Any]],
    *,
    version: str = "2.0",
    entity: str = "Media",
    bom: bool = False,
) -> Path:
    root_key = "odata.metadata" if version == "1.x" else "@odata.context"
    value: list[dict[str, Any]] = media
    if entity == "Cases":
        value = [
            {
                "CaseID": "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
                "CaseNumber": "TEST-0001",
                "SourceApplicationName": "ExampleTool",
                "TotalMediaFiles": len(media),
                "Media": media,
            }
        ]
    if version == "1.x":
        for record in media:
            record["odata.id"] = f'Media("{record.get("MD5")}")'
            record["MediaFiles@odata.navigationLinkUrl"] = f"/Media({record.get('MD5')})/MediaFiles"
    text = json.dumps({root_key: CONTEXTS[(version, entity)], "value": value}, indent=1)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


# The RDSv3 layouts, as published (columns per the RDSv3 documentation).
NSRL_MINIMAL_DDL = """
CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,
    crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,
    package_id INTEGER NOT NULL,
    PRIMARY KEY (sha256, sha1, md5, crc32, file_name, file_size, package_id)) WITHOUT ROWID;
CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE;
CREATE TABLE MFG (manufacturer_id INTEGER, name VARCHAR);
CREATE TABLE OS (operating_system_id INTEGER, name VARCHAR, version VARCHAR,
    manufacturer_id INTEGER);
CREATE TABLE PKG (package_id INTEGER, name VARCHAR, version VARCHAR,
    operating_system_id INTEGER, manufacturer_id INTEGER, language VARCHAR,
    application_type VARCHAR);
CREATE TABLE VERSION (version VARCHAR, build_set VARCHAR, build_date TIMESTAMP,
    release_date TIMESTAMP, description VARCHAR);
"""

NSRL_FULL_DDL = """
CREATE TABLE METADATA (metadata_id INTEGER PRIMARY KEY, object_id INTEGER, key_hash VARCHAR,
    image_hash VARCHAR, path VARCHAR, file_name VARCHAR, extension VARCHAR, bytes INTEGER,
    mtime INTEGER, used_in_rds INTEGER, update_date TIMESTAMP, recursion_level INTEGER,
    extractee_id INTEGER, crc32 VARCHAR, md5 VARCHAR, sha1 VARCHAR, sha256 VARCHAR);
CREATE TABLE PACKAGE_OBJECT (package_object_id INTEGER PRIMARY KEY, package_id INTEGER,
    object_id INTEGER);
CREATE TABLE VERSION (version VARCHAR, build_set VARCHAR, build_date TIMESTAMP,
    release_date TIMESTAMP, description VARCHAR);
CREATE VIEW FILE AS SELECT m.sha256, m.sha1, m.md5, m.file_name || '.' || m.extension AS file_name,
    m.bytes AS file_size, p.package_id FROM METADATA m JOIN PACKAGE_OBJECT p
    ON m.object_id = p.object_id;
"""

#: Benign stand-in software files: (file name, extension).
NSRL_FILES = [("setup", "exe"), ("readme", "txt"), ("libfoo", "dll")]


def write_nsrl(path: Path, layout: str) -> Path:
    """An RDSv3 database of NSRL_FILES, each file in two packages (as real sets repeat them)."""
    with sqlite3.connect(path) as conn:
        if layout == "minimal":
            conn.executescript(NSRL_MINIMAL_DDL)
            for stem, ext in NSRL_FILES:
                for package_id in (1, 2):
                    conn.execute(
                        "INSERT INTO FILE VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (sha256(stem).upper(), sha1(stem).upper(), md5(stem).upper(),
                         "00000000", f"{stem}.{ext}", 10, package_id),
                    )  # fmt: skip
        else:
            conn.executescript(NSRL_FULL_DDL)
            for object_id, (stem, ext) in enumerate(NSRL_FILES, 1):
                conn.execute(
                    "INSERT INTO METADATA (object_id, file_name, extension, bytes, crc32, md5,"
                    " sha1, sha256) VALUES (?, ?, ?, 10, '00000000', ?, ?, ?)",
                    (object_id, stem, ext, md5(stem).upper(), sha1(stem).upper(),
                     sha256(stem).upper()),
                )  # fmt: skip
                for package_id in (1, 2):
                    conn.execute(
                        "INSERT INTO PACKAGE_OBJECT (package_id, object_id) VALUES (?, ?)",
                        (package_id, object_id),
                    )
    conn.close()
    return path


NSRL_TXT_HEADERS = {
    "rdsv2": '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode",'
    '"SpecialCode"',
    "older": '"SHA-1","FileName","FileSize","ProductCode","OpSystemCode","MD4","MD5","CRC32",'
    '"SpecialCode"',
}


def write_nsrl_txt(path: Path, header: str, bad_row: bool = False) -> Path:
    lines = [NSRL_TXT_HEADERS[header]]
    for stem, ext in NSRL_FILES:
        cells = {
            "SHA-1": sha1(stem).upper(),
            "MD5": md5(stem).upper(),
            "CRC32": "00000000",
            "FileName": f"{stem}.{ext}",
            "FileSize": "10",
            "ProductCode": "1",
            "OpSystemCode": "358",
            "MD4": "0" * 32,
            "SpecialCode": "",
        }
        if bad_row and stem == "readme":
            cells["MD5"] = "NOT-A-HASH"
        names = [name.strip('"') for name in NSRL_TXT_HEADERS[header].split(",")]
        lines.append(",".join(f'"{cells[name]}"' if name != "FileSize" else cells[name]
                              for name in names))  # fmt: skip
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def encase_bytes(md5s: list[str], name: str = "Benign test set", count: int | None = None) -> bytes:
    """An EnCase .hash set of ``md5s`` in the layout hashsets/encase.py documents."""
    header = bytearray(0x480)
    header[:16] = b"HASH\r\n\xff\x00\x02\x00\x00\x00\x01\x00\x00\x00"
    header[0x10:0x14] = (len(md5s) if count is None else count).to_bytes(4, "little")
    encoded = name.encode("utf-16-le")[:78]
    header[0x408 : 0x408 + len(encoded)] = encoded
    category = "Known".encode("utf-16-le")
    header[0x458 : 0x458 + len(category)] = category
    return bytes(header) + b"".join(bytes.fromhex(m) + b"\0\0" for m in md5s)


HASHKEEPER_HEADER = (
    '"file_id","hashset_id","file_name","directory","hash","file_size","date_modified",'
    '"time_modified","time_zone","comments","date_accessed","time_accessed"'
)


def hashkeeper_text(names: list[str]) -> str:
    rows = [HASHKEEPER_HEADER]
    for i, name in enumerate(names, 1):
        rows.append(
            f'{i},1,"{name}.jpg","C:\\Benign\\","{md5(name).upper()}",1234,'
            '01/01/2024,00:00:00,"GMT","",01/01/2024,00:00:00'
        )
    return "\r\n".join(rows) + "\r\n"


def hashdeep_text(names: list[str]) -> str:
    lines = [
        "%%%% HASHDEEP-1.0",
        "%%%% size,md5,sha256,filename",
        "## Invoked from: /home/examiner",
        "## $ hashdeep -r benign",
        "##",
    ]
    lines += [f"1234,{md5(n)},{sha256(n)},/home/examiner/benign/{n}, copy.jpg" for n in names]
    return "\n".join(lines) + "\n"

"""Case reports: JSON Lines and CSV in review order, and a VICS 2.0 ``#Cases`` export."""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Callable
from typing import TextIO

from sqlalchemy import select

from hashsieve.config import VERSION
from hashsieve.matching.crosscase import links_of
from hashsieve.registry import Registry
from hashsieve.report.ordering import file_line, iter_review, matches_by_file
from hashsieve.store import Store
from hashsieve.store.models import FileRecord, Match

ReportWriter = Callable[[Store, int, str, TextIO], int]
REPORTS: Registry[ReportWriter] = Registry("report format")

CSV_COLUMNS = [
    "rank",
    "verdict",
    "category",
    "group",
    "group_size",
    "path",
    "size",
    "media_type",
    "width",
    "height",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "quality",
    "matches",
    "camera_make",
    "camera_model",
    "camera_serial",
    "date_time_original",
    "gps_latitude",
    "gps_longitude",
    "error",
    "recovered",
    "crosscase",
]


def write_jsonl(store: Store, case_id: int, case_name: str, out: TextIO) -> int:
    n = 0
    for file, matches in iter_review(store, case_id):
        out.write(json.dumps(file_line(file, matches)) + "\n")
        n += 1
    return n


def _matches_cell(matches: list[Match]) -> str:
    return "; ".join(
        f"{m.hashset}:{m.entry}:{m.algorithm}:{m.distance}"
        + (f":cat{m.category}" if m.category is not None else "")
        + (f" ({seen_by_text(m.origin)})" if m.origin else "")
        for m in matches
    )


def seen_by_text(origin: str) -> str:
    """An exchange entry's origin in words: "seen by Agency B, case ref X, contact Y"."""
    o = json.loads(origin)
    return ", ".join(
        [f"seen by {o.get('agency') or 'a peer'}"]
        + ([f"case ref {o['case_ref']}"] if o.get("case_ref") else [])
        + ([f"contact {o['contact']}"] if o.get("contact") else [])
    )


def _crosscase_cell(crosscase_json: str | None) -> str:
    """Other cases holding the file: ``case (examiner, time, cat N, algorithm distance)``."""
    return "; ".join(
        f"{link['case']} ({link.get('examiner') or '?'}, {link.get('at') or '?'}"
        + (f", cat{link['category']}" if link.get("category") is not None else "")
        + f", {link['algorithm']} {link['distance']})"
        for link in links_of(crosscase_json)
    )


def write_csv(store: Store, case_id: int, case_name: str, out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    n = 0
    for file, matches in iter_review(store, case_id):
        n += 1
        meta = json.loads(file.metadata_json) if file.metadata_json else {}
        writer.writerow(
            [
                n,
                file.verdict,
                file.category,
                file.group_id,
                file.group_size,
                file.path_text,
                file.size,
                file.mime,
                file.width,
                file.height,
                file.md5,
                file.sha1,
                file.sha256,
                file.pdq,
                file.quality,
                _matches_cell(matches),
                meta.get("Make"),
                meta.get("Model"),
                meta.get("BodySerialNumber"),
                meta.get("DateTimeOriginal"),
                meta.get("GPSLatitude"),
                meta.get("GPSLongitude"),
                file.error,
                file.recovered,
                _crosscase_cell(file.crosscase_json),
            ]
        )
    return n


def write_vics(store: Store, case_id: int, case_name: str, out: TextIO) -> int:
    """VICS 2.0 case export: one Media per distinct MD5, one MediaFiles entry per copy."""
    head = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases",
    }
    case_fields = {
        "CaseID": "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"hashsieve:{case_name}")).upper() + "}",
        "CaseNumber": case_name,
        "SourceApplicationName": "hashsieve",
        "SourceApplicationVersion": VERSION,
    }
    out.write(
        json.dumps(head)[:-1] + ', "value": [' + json.dumps(case_fields)[:-1] + ', "Media": [\n'
    )
    media_id = 0
    with store.session() as s:
        rows = s.scalars(
            select(FileRecord)
            .where((FileRecord.case_id == case_id) & FileRecord.md5.is_not(None))
            .order_by(FileRecord.md5, FileRecord.path_key)
            .execution_options(yield_per=2000)
        )
        current: dict[str, object] | None = None
        for chunk in rows.partitions():
            by_file = matches_by_file(s, [f.id for f in chunk])
            for file in chunk:
                if current is None or current["MD5"] != (file.md5 or "").upper():
                    if current is not None:
                        out.write(("" if media_id == 1 else ",\n") + json.dumps(current))
                    media_id += 1
                    current = _media(file, media_id, by_file[file.id])
                files = current["MediaFiles"]
                assert isinstance(files, list)
                files.append(_media_file(file, str(current["MD5"])))
        if current is not None:
            out.write(("" if media_id == 1 else ",\n") + json.dumps(current))
    total = {"TotalMediaFiles": media_id}
    out.write("\n], " + json.dumps(total)[1:-1] + "}]}\n")
    return media_id


#: VICS 2.0 ``MediaFiles[]`` time fields and the file-system time each is taken from
#: (``metadata["filesystem"]``, written for a disk image's files by sources/disk.py).
_FILE_TIMES = (("Created", "created"), ("Written", "modified"), ("Accessed", "accessed"))


def _media_file(file: FileRecord, md5: str) -> dict[str, object]:
    """One physical copy: its name and folder, its file system's times, deleted/unallocated.

    Field names as in the VICS 2.0 ``MediaFiles`` record (Griffeye / X-Ways ``VICS.h``):
    ``Created``, ``Written``, ``Accessed`` (ISO-8601, UTC), ``Deleted`` and ``Unallocated``
    (``"true"``/``"false"`` strings, as the flags of the format usually are).
    """
    path = os.fsdecode(file.path_key)
    entry: dict[str, object] = {
        "MD5": md5,
        "FileName": os.path.basename(path),
        "FilePath": os.path.dirname(path),
    }
    meta = json.loads(file.metadata_json) if file.metadata_json else {}
    fs = meta.get("filesystem") if isinstance(meta, dict) else None
    if isinstance(fs, dict):
        for field, key in _FILE_TIMES:
            if isinstance(fs.get(key), str):
                entry[field] = fs[key]
    if isinstance(fs, dict) or file.recovered is not None:  # a file system's (or carved) copy
        entry["Deleted"] = "true" if file.recovered == "deleted" else "false"
        unallocated = file.recovered == "carved" and "!/$Unallocated/" in file.path_text
        entry["Unallocated"] = "true" if unallocated else "false"
    return entry


def _media(file: FileRecord, media_id: int, matches: list[Match]) -> dict[str, object]:
    media: dict[str, object] = {"MediaID": media_id, "MD5": (file.md5 or "").upper()}
    if file.sha1:
        media["SHA1"] = file.sha1.upper()
    media["MediaSize"] = file.size
    if file.mime:
        media["MimeType"] = file.mime
    if file.verdict == "known":
        media["Category"] = file.category
    elif file.verdict == "known-good":
        media["Category"] = 0
    if matches and file.verdict in ("known", "known-good"):
        media["IsPrecategorized"] = "true"
        media["PrecategorizationSource"] = ", ".join(sorted({m.hashset for m in matches}))
    series = sorted({m.series for m in matches if m.series})
    if series:
        media["Series"] = ", ".join(series)
    alternatives = [{"MD5": media["MD5"], "HashName": "SHA256", "HashValue": file.sha256}]
    if file.pdq:
        alternatives.append({"MD5": media["MD5"], "HashName": "PDQ", "HashValue": file.pdq})
    media["AlternativeHashes"] = alternatives
    if file.metadata_json:
        media["MediaMetadata"] = [
            {"PropertyName": k, "PropertyValue": str(v)}
            for k, v in json.loads(file.metadata_json).items()
        ]
    media["MediaFiles"] = []
    return media


REPORTS.register("jsonl", write_jsonl)
REPORTS.register("csv", write_csv)
REPORTS.register("vics", write_vics)

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
        for m in matches
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
                path = os.fsdecode(file.path_key)
                files = current["MediaFiles"]
                assert isinstance(files, list)
                files.append(
                    {
                        "MD5": current["MD5"],
                        "FileName": os.path.basename(path),
                        "FilePath": os.path.dirname(path),
                    }
                )
        if current is not None:
            out.write(("" if media_id == 1 else ",\n") + json.dumps(current))
    total = {"TotalMediaFiles": media_id}
    out.write("\n], " + json.dumps(total)[1:-1] + "}]}\n")
    return media_id


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

"""`make demo`: a real scan of generated benign media against generated hash sets.

Run as ``python -m hashsieve.cli.demo OUTPUT_DIR``. Everything is made here, so it works on a
machine that has only the repository: photo-like pictures play the role of known material.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

from PIL import Image

from hashsieve.hashing.pdq import pdq_hash
from hashsieve.samples.images import camera_exif, jpeg_bytes, photo_like, write


def build_case(out: Path) -> tuple[Path, Path]:
    """Write the sample evidence folder and the sample hash sets; returns (evidence, sets)."""
    evidence, sets = out / "evidence", out / "hashsets"
    for folder in (evidence, sets):
        if folder.exists():
            shutil.rmtree(folder)
    known = [photo_like(100 + i) for i in range(3)]
    known_bytes = [jpeg_bytes(img) for img in known]
    for i, data in enumerate(known_bytes):
        write(evidence / "DCIM" / f"IMG_{i + 1:04d}.jpg", data)
    # Altered copies of known pictures: caught by PDQ, not by MD5.
    write(
        evidence / "Downloads" / "resaved.jpg",
        jpeg_bytes(known[0].resize((640, 480), Image.Resampling.LANCZOS), quality=70),
    )
    rotated = known[1].transpose(Image.Transpose.ROTATE_90)
    rotated_path = evidence / "Downloads" / "rotated.png"
    rotated_path.parent.mkdir(parents=True, exist_ok=True)
    rotated.save(rotated_path)
    # New material: three unrelated pictures, one a near-duplicate series, one copied twice.
    series = photo_like(300)
    write(
        evidence / "Camera" / "series-1.jpg",
        jpeg_bytes(
            series,
            exif=camera_exif(
                "ExampleCam", "EC-1", "SN-0042", "2026:05:01 10:00:00", 52.3731, 4.8922
            ),
        ),
    )
    w, h = series.size
    write(
        evidence / "Camera" / "series-2.jpg",
        jpeg_bytes(series.crop((8, 6, w - 8, h - 6)).resize((w, h)), quality=80),
    )
    write(evidence / "Camera" / "series-3.jpg", jpeg_bytes(series, quality=60))
    for i in range(2):
        data = jpeg_bytes(photo_like(400 + i))
        write(evidence / "Camera" / f"other-{i + 1}.jpg", data)
        if i == 0:
            write(evidence / "Backup" / "copy-of-other-1.jpg", data)
    # An archive: a known picture inside it is found without extracting anything.
    holiday = io.BytesIO()
    with zipfile.ZipFile(holiday, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("holiday/IMG_0913.jpg", known_bytes[2])
    write(evidence / "Downloads" / "holiday.zip", holiday.getvalue())
    # Known-good, other and unreadable files.
    readme = b"Example software readme: this file is listed in the known-good set.\n"
    write(evidence / "Program Files" / "readme.txt", readme)
    write(evidence / "notes.txt", b"shopping list\n")
    write(evidence / "broken.jpg", jpeg_bytes(photo_like(500))[:3000])

    media = []
    for i, (img, data) in enumerate(zip(known, known_bytes, strict=True)):
        record = {
            "MediaID": i + 1,
            "Category": [1, 2, 3][i],
            "MD5": hashlib.md5(data).hexdigest().upper(),
            "SHA1": hashlib.sha1(data).hexdigest().upper(),
            "Series": "demo-series-a",
            "VictimIdentified": "false",
            "IsPrecategorized": "true",
            "AlternativeHashes": [{"HashName": "PDQ", "HashValue": pdq_hash(img).hex}],
        }
        media.append(record)
    vics = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
        "value": media,
    }
    write(sets / "projectvic.json", json.dumps(vics, indent=1).encode())
    nsrl = (
        '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\n'
        f'"{hashlib.sha1(readme).hexdigest().upper()}","{hashlib.md5(readme).hexdigest().upper()}",'
        f'"00000000","readme.txt",{len(readme)},1,"358",""\n'
    )
    write(sets / "NSRLFile.txt", nsrl.encode())
    write(sets / "ncmec-md5.txt", (hashlib.md5(known_bytes[2]).hexdigest() + "\n").encode())
    return evidence, sets


def main(argv: list[str] | None = None) -> None:
    from hashsieve.cli import main as cli

    args = argv if argv is not None else sys.argv[1:]
    out = Path(args[0] if args else "demo-output").resolve()
    evidence, sets = build_case(out)
    home = out / "home"
    if home.exists():
        shutil.rmtree(home)
    base = ["--home", str(home)]
    steps = [
        ["hashset", "import", str(sets / "projectvic.json"), "--name", "vic"],
        ["hashset", "import", str(sets / "NSRLFile.txt"), "--name", "nsrl"],
        ["hashset", "import", str(sets / "ncmec-md5.txt"), "--name", "ncmec", "--category", "1"],
        ["hashset", "list"],
        ["scan", str(evidence), "--case", "demo", "--jsonl", str(out / "results.jsonl")],
        ["report", "--case", "demo", "--format", "csv", "-o", str(out / "report.csv")],
        ["report", "--case", "demo", "--format", "vics", "-o", str(out / "report-vics.json")],
    ]
    for step in steps:
        print("$ hashsieve " + " ".join(step), flush=True)
        cli.main(base + step, standalone_mode=False)
    print("\nreview order (new material first; xN: files in its group of copies and near-copies)")
    for line in (out / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        where = ", ".join(
            f"{m['hashset']} {m['algorithm']} d={m['distance']}" for m in r["matches"]
        )
        print(
            f"  {r['verdict']:<11} x{r['group_size']!s:<3} {Path(r['path']).relative_to(evidence)}"
            + (f"  [{where}]" if where else "")
            + (f"  ({r['error']})" if r["error"] else "")
        )
    print(f"\nreports: {out / 'results.jsonl'}, {out / 'report.csv'}, {out / 'report-vics.json'}")


if __name__ == "__main__":
    main()

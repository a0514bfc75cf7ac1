"""The real photographs the robustness benchmark is built from: Debian wallpaper packages.

Fetched with ``apt-get download`` and unpacked with ``dpkg-deb`` into
``bench/corpus/robustness-sources/`` (gitignored) the first time. One file per picture: where a
package ships the same picture at several resolutions (KDE's ``contents/images/*``), only the
largest is kept. Landscapes, plants, animals, water, sky, textures and a few abstract renders;
no people. GNOME's backgrounds were tried and left out: they are flat vector art, not
photographs; pictures under 800 px on their short side are skipped too. The list below is the
whole provenance: package, the folder inside it, licence.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent / "corpus" / "robustness-sources"

#: (Debian package, folder prefix inside it, licence as the package's copyright file gives it).
PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("mate-backgrounds", "./usr/share/backgrounds/mate/nature/", "GPL-2+ / CC-BY-SA"),
    ("mate-backgrounds", "./usr/share/backgrounds/mate/desktop/", "GPL-2+ / CC-BY-SA"),
    ("plasma-workspace-wallpapers", "./usr/share/wallpapers/", "LGPL-3 / CC-BY-SA-4.0"),
    ("ukui-wallpapers", "./usr/share/backgrounds/", "GPL-2+ / CC-BY-SA"),
    ("lomiri-wallpapers-16.04", "./usr/share/backgrounds/", "CC-BY-SA-3.0"),
    ("lomiri-wallpapers-20.04", "./usr/share/backgrounds/", "CC-BY-SA-3.0"),
    ("lomiri-wallpapers", "./usr/share/backgrounds/", "CC-BY-SA-3.0"),
)
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


def _picture_key(name: str) -> str:
    """KDE ships one picture as <Name>/contents/images/<WxH>.<ext>: one key per picture."""
    parts = name.split("/")
    if "contents" in parts:
        return "/".join(parts[: parts.index("contents")]) + "/" + parts[-2]
    return name


def cached(cache: Path) -> list[Path] | None:
    """The files a cache folder's manifest (``sources.json``) names, when all are still there."""
    manifest = cache / "sources.json"
    if manifest.exists():
        paths = [cache / n for n in json.loads(manifest.read_text())]
        if paths and all(p.exists() for p in paths):
            return paths
    return None


def apt_download(packages: list[str], folder: str) -> str | None:
    """``apt-get download`` the packages into ``folder`` (once more after an ``apt-get update``
    when the lists are stale); None when done, else apt's complaint."""
    got = subprocess.run(
        ["apt-get", "download", *packages], cwd=folder, capture_output=True, text=True
    )
    if got.returncode == 0:
        return None
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
    got = subprocess.run(
        ["apt-get", "download", *packages], cwd=folder, capture_output=True, text=True
    )
    return None if got.returncode == 0 else f"apt-get download failed: {got.stderr!r:.300}"


def fetch() -> list[Path]:
    """Paths of the source photographs, downloaded once; [] when apt cannot fetch them."""
    if (paths := cached(CACHE)) is not None:
        return paths
    manifest = CACHE / "sources.json"
    CACHE.mkdir(parents=True, exist_ok=True)
    packages = sorted({p for p, _, _ in PACKAGES})
    with tempfile.TemporaryDirectory() as tmp:
        problem = apt_download(packages, tmp)
        if problem:
            print(f"robustness: {problem}", file=sys.stderr)
            return []
        chosen: dict[str, tuple[int, str, bytes]] = {}
        for deb in sorted(Path(tmp).glob("*.deb")):
            package = deb.name.split("_", 1)[0]
            prefixes = [prefix for p, prefix, _ in PACKAGES if p == package]
            tar_bytes = subprocess.run(
                ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
                for m in tar.getmembers():
                    if not m.isfile() or not m.name.lower().endswith(_EXTENSIONS):
                        continue
                    if not any(m.name.startswith(prefix) for prefix in prefixes):
                        continue
                    key = f"{package}:{_picture_key(m.name)}"
                    if key not in chosen or m.size > chosen[key][0]:
                        fileobj = tar.extractfile(m)
                        if fileobj is not None:
                            chosen[key] = (m.size, m.name, fileobj.read())
    names = []
    for key, (_, member, data) in sorted(chosen.items()):
        name = key.split(":")[0] + "__" + member.strip("./").replace("/", "_")
        (CACHE / name).write_bytes(data)
        names.append(name)
    manifest.write_text(json.dumps(names, indent=0))
    return [CACHE / n for n in names]


if __name__ == "__main__":
    for path in fetch():
        print(path.name)

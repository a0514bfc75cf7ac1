"""The real photographs the fidelity benchmark hashes: Debian packages, fetched once.

``apt-get download`` + ``dpkg-deb -x`` into ``bench/corpus/fidelity-sources/`` (gitignored) the
first time, cached by ``sources.json``. Only photographs, short side at least
:data:`MIN_SIDE` pixels:

- mate-backgrounds, plasma-workspace-wallpapers, ukui-wallpapers, lomiri-wallpapers(-16.04,
  -20.04): the robustness benchmark's 116 wallpapers (bench/robustness/sources.py): landscapes,
  plants, animals, water, wood and stone textures. GPL-2+ / LGPL-3 / CC-BY-SA.
- stellarium-data 0.22, ``nebulae/default``: telescope photographs of nebulae, galaxies and star
  fields (night skies). GPL-2+.
- extremetuxracer-data 0.8, ``env`` and ``terrains``: photographed sky boxes; snow, rock, ice and
  grass textures. GPL-2+.
- tuxpaint-stamps-default 2022.06, animals, food, plants, town, vehicles, household, seasonal
  (not ``symbols``, which are drawings): photographed objects, cut out, composited on grey. GPL-2.

Debian ships about 830 such distinct photographs at usable size (GNOME's and desktop-base's
backgrounds are vector art; gcompris-qt keeps its pictures inside Qt resource files). To reach
2,000 test pictures, :func:`pictures` adds distinct, non-overlapping tiles (crops) of the large
wallpapers, each a real photograph's pixels at the camera's own resolution.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
# The robustness benchmark's module is also called ``sources``: load it under its own name.
_spec = importlib.util.spec_from_file_location(
    "robustness_sources", HERE.parent / "robustness" / "sources.py"
)
assert _spec is not None and _spec.loader is not None
wallpapers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wallpapers)

CACHE = HERE.parent / "corpus" / "fidelity-sources"
MIN_SIDE = 256
#: (package, folder inside it, licence).
PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("stellarium-data", "usr/share/stellarium/nebulae/default/", "GPL-2+"),
    ("extremetuxracer-data", "usr/share/games/etr/env/", "GPL-2+"),
    ("extremetuxracer-data", "usr/share/games/etr/terrains/", "GPL-2+"),
    *(
        ("tuxpaint-stamps-default", f"usr/share/tuxpaint/stamps/{sub}/", "GPL-2")
        for sub in ("animals", "food", "plants", "town", "vehicles", "household", "seasonal")
    ),
)
_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: Tiles of the wallpapers: side of a square tile; a wallpaper gives at most this many.
TILE = 640
MAX_TILES = 40


def fetch() -> list[Path]:
    """Paths of the package photographs (not the wallpapers), downloaded once."""
    if (paths := wallpapers.cached(CACHE)) is not None:
        return paths
    manifest = CACHE / "sources.json"
    CACHE.mkdir(parents=True, exist_ok=True)
    packages = sorted({p for p, _, _ in PACKAGES})
    names: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        problem = wallpapers.apt_download(packages, tmp)
        if problem:
            raise RuntimeError(f"fidelity: {problem}")
        root = Path(tmp) / "x"
        for deb in sorted(Path(tmp).glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        for package, prefix, _ in PACKAGES:
            for path in sorted((root / prefix).rglob("*")):
                if path.suffix.lower() not in _EXTENSIONS:
                    continue
                with Image.open(path) as im:
                    if min(im.size) < MIN_SIDE:
                        continue
                name = package + "__" + str(path.relative_to(root)).replace("/", "_")
                (CACHE / name).write_bytes(path.read_bytes())
                names.append(name)
    manifest.write_text(json.dumps(names, indent=0))
    return [CACHE / n for n in names]


def _rgb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
            return Image.alpha_composite(flat, rgba).convert("RGB")
        return im.convert("RGB")


def pictures(count: int) -> Iterator[tuple[str, Image.Image]]:
    """``count`` (name, RGB picture) pairs: every distinct photograph, then wallpaper tiles."""
    distinct = [*wallpapers.fetch(), *fetch()]
    n = 0
    for path in distinct:
        if n >= count:
            return
        yield path.name, _rgb(path)
        n += 1
    for path in wallpapers.fetch():
        whole = _rgb(path)
        cols, rows = whole.size[0] // TILE, whole.size[1] // TILE
        for k in range(min(cols * rows, MAX_TILES)):
            if n >= count:
                return
            x, y = (k % cols) * TILE, (k // cols) * TILE
            yield f"{path.name}#tile{k}", whole.crop((x, y, x + TILE, y + TILE))
            n += 1


def distinct_count() -> int:
    return len(wallpapers.fetch()) + len(fetch())


if __name__ == "__main__":
    print(distinct_count(), "distinct photographs")

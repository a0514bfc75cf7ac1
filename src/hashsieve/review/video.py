"""For review: a contact sheet of a video's keyframes, blurred like the report's thumbnails.

Only keyframes are decoded (``skip_frame="NONKEY"``: fast), one for each of ``columns x rows``
evenly spaced moments; each tile is greyscale and blurred in its pixels (as
:mod:`hashsieve.review.thumbs` does for report thumbnails) unless ``blur=False``. The times of the
tiles come back with the sheet, and a matched moment (a match's ``seconds``) can be marked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from hashsieve.hashing.video import MAX_FRAME_PIXELS, Source, UnreadableVideo, iter_frames


@dataclass(frozen=True)
class ContactSheet:
    image: Image.Image
    times: list[float]  # seconds of each tile, in reading order

    def jpeg(self, quality: int = 82) -> bytes:
        out = io.BytesIO()
        self.image.convert("RGB").save(out, "JPEG", quality=quality)
        return out.getvalue()


def contact_sheet(
    source: Source,
    *,
    columns: int = 4,
    rows: int = 3,
    tile: int = 256,
    blur: bool = True,
    mark: float | None = None,
) -> ContactSheet:
    """Keyframes of a video in a grid; ``mark`` (seconds) outlines the tile nearest that time.

    Raises :class:`UnreadableVideo` when the video cannot be decoded.
    """
    from hashsieve.hashing.video import VideoHash, VideoOptions

    info = VideoHash()
    keyframes: list[tuple[float, Image.Image]] = []
    options = VideoOptions(time_limit=60.0, max_frame_pixels=MAX_FRAME_PIXELS)
    for _number, seconds, frame in iter_frames(source, options, info, keyframes_only=True):
        picture = frame.to_image()
        picture.thumbnail((tile, tile))
        keyframes.append((seconds, picture))
    if not keyframes:
        raise UnreadableVideo("corrupt", "no keyframe could be decoded")
    wanted = columns * rows
    duration = info.duration or keyframes[-1][0] or 1.0
    chosen: list[tuple[float, Image.Image]] = []
    for slot in range(wanted):
        at = duration * slot / wanted
        best = min(keyframes, key=lambda item: abs(item[0] - at))
        if not chosen or chosen[-1][0] != best[0]:
            chosen.append(best)
    sheet = Image.new("RGB", (columns * tile, rows * tile), (40, 44, 52))
    marked = min(range(len(chosen)), key=lambda i: abs(chosen[i][0] - mark)) if mark else None
    draw = ImageDraw.Draw(sheet)
    for i, (seconds, picture) in enumerate(chosen):
        if blur:
            picture = ImageOps.grayscale(picture).filter(
                ImageFilter.GaussianBlur(max(4, tile // 12))
            )
        x, y = (i % columns) * tile, (i // columns) * tile
        sheet.paste(picture, (x + (tile - picture.width) // 2, y + (tile - picture.height) // 2))
        draw.text((x + 6, y + tile - 18), f"{seconds:7.1f} s", fill=(230, 230, 230))
        if i == marked:
            draw.rectangle(
                (x + 1, y + 1, x + tile - 2, y + tile - 2), outline=(255, 80, 80), width=4
            )
    return ContactSheet(sheet, [seconds for seconds, _ in chosen])

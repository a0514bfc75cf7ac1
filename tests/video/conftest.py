"""Generated benign clips shared by the video tests (made once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from hashsieve.samples.images import photo_like
from hashsieve.samples.video import sample_scenes, write_clip

#: Seeds of the pictures: the "known" video's scenes, the known image, unrelated scenes.
KNOWN_VIDEO_SEEDS = (11, 12, 13)
KNOWN_IMAGE_SEED = 21


@dataclass(frozen=True)
class Clips:
    folder: Path
    known_video: Path  # the original of the known video (its vPDQ goes into the hash set)
    known_image: Image.Image
    copy: Path  # the known video re-encoded smaller, another container and frame rate
    shows_image: Path  # unrelated footage showing the known image for 1 s from 3.0 s
    new: Path  # unrelated footage
    compilation: Path  # 10 s of unrelated footage with the known video (6 s) in the middle


def known_image() -> Image.Image:
    return photo_like(KNOWN_IMAGE_SEED, (480, 360))


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    folder = tmp_path_factory.mktemp("clips")
    image = known_image()
    return Clips(
        folder=folder,
        known_video=write_clip(folder / "known.mp4", sample_scenes(KNOWN_VIDEO_SEEDS)),
        known_image=image,
        copy=write_clip(
            folder / "evidence" / "copy.mkv",
            sample_scenes(KNOWN_VIDEO_SEEDS),
            size=(256, 192),
            fps=15,
        ),
        shows_image=write_clip(
            folder / "evidence" / "shows-image.mp4",
            [*sample_scenes([31], 3.0), (image, 1.0, False), *sample_scenes([32], 3.0)],
        ),
        new=write_clip(folder / "evidence" / "new.mp4", sample_scenes([41, 42])),
        compilation=write_clip(
            folder / "evidence" / "compilation.mp4",
            [
                *sample_scenes([51, 52, 53], 2.0),
                *sample_scenes(KNOWN_VIDEO_SEEDS),
                *sample_scenes([54, 55], 2.0),
            ],
            size=(288, 216),
        ),
    )

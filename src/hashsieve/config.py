"""One typed settings object, built once from flags and the environment."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

#: hashsieve's version, as reports and exports name it.
VERSION = "0.1.0"
#: Hamming distance at or below which two PDQ hashes are the same picture (the field's default).
PDQ_MATCH_THRESHOLD = 31
#: PDQ hashes of lower quality are never used for perceptual matching: flat images all hash alike.
PDQ_MIN_QUALITY = 50
#: Images with more pixels than this are refused by their header (decompression bombs).
MAX_IMAGE_PIXELS = 200_000_000


def default_home() -> Path:
    return Path(os.environ.get("HASHSIEVE_HOME") or Path.home() / ".hashsieve")


def default_examiner() -> str:
    """Who runs the scans: ``HASHSIEVE_EXAMINER``, else the login name."""
    name = os.environ.get("HASHSIEVE_EXAMINER")
    if not name:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):  # no login name (a container without a passwd entry)
            name = "unknown"
    return name[:100]


@dataclass(frozen=True)
class Settings:
    """Where the store lives and how scans and matches behave."""

    home: Path = field(default_factory=default_home)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    pdq_threshold: int = PDQ_MATCH_THRESHOLD
    pdq_min_quality: int = PDQ_MIN_QUALITY
    max_image_pixels: int = MAX_IMAGE_PIXELS
    #: Files hashed per commit: a crash loses at most this many files' work (they are redone).
    commit_every: int = 256
    #: Address-space limit of each hashing worker, in MiB (0 = none): hostile files that make a
    #: decoder allocate without bound fail with a recorded error instead of exhausting memory.
    worker_memory_mb: int = 4096
    #: PDQ distance that joins new media into one near-duplicate group.
    group_threshold: int = PDQ_MATCH_THRESHOLD
    #: Robust matching (docs/robust-matching.md): also hash and match candidate regions of each
    #: image (borders trimmed, window chrome, overlays, crops). ``HASHSIEVE_ROBUST=0`` turns it off.
    robust: bool = field(default_factory=lambda: os.environ.get("HASHSIEVE_ROBUST", "1") != "0")
    #: Disk images found among the files (E01, raw, VMDK, VHD, QCOW2, DMG) are opened and their
    #: file systems' files scanned (``scan --no-images``: hashed as files only).
    disk_images: bool = True
    #: NTFS volumes' Volume Shadow Copies in those images are read too, each store's files as
    #: ``IMAGE!/p1/vss1/...`` (``scan --shadow-copies``; off by default: slower, and older
    #: versions of files the examiner may not have asked for).
    shadow_copies: bool = False
    #: Who runs the scans, recorded with each scan: a picture met again in another case names
    #: them (``scan --examiner``, ``HASHSIEVE_EXAMINER``; default the login name).
    examiner: str = field(default_factory=default_examiner)

    @property
    def database_url(self) -> str:
        url = os.environ.get("HASHSIEVE_DATABASE_URL")
        return url or f"sqlite:///{self.home / 'hashsieve.db'}"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

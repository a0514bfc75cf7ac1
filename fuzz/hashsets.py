"""Fuzz every registered hash-set format (``hashsets.FORMATS``) and format detection.

The first byte of an input picks the format (its index in the registry, modulo their number);
the rest is the file (for ``media``: the one file of the folder). Allowed: records with a
hex value of the algorithm's length, :class:`ParseProblem` rows, or :class:`HashSetFormatError`
for a file that cannot be read at all; detection returns a format or raises that error.
"""

from __future__ import annotations

import contextlib
import re
import shutil

from fuzz._harness import UnexpectedOutcome, input_file, main, scratch

INSTRUMENT = ("hashsieve.hashsets",)
_HEX = re.compile(r"[0-9a-f]+")


def load() -> None:
    import hashsieve.hashsets  # noqa: F401


def one_input(data: bytes) -> None:
    from hashsieve.errors import HashSetFormatError
    from hashsieve.hashsets import FORMATS, detect_format
    from hashsieve.hashsets.base import STORED_HEX_LENGTHS, HashRecord, ParseProblem

    if not data:
        return
    names = FORMATS.names()
    name = names[data[0] % len(names)]
    content = data[1:]
    if name == "media":
        folder = scratch() / "set"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (folder / "item").write_bytes(content)
        path = folder
    else:
        path = input_file(content)
    with contextlib.suppress(HashSetFormatError):
        detect_format(path)
    try:
        for item in FORMATS.get(name).read(path):
            if isinstance(item, ParseProblem):
                if not isinstance(item.message, str) or not isinstance(item.entry, str):
                    raise UnexpectedOutcome(f"{name}: problem without text: {item!r}")
                continue
            if not isinstance(item, HashRecord):
                raise UnexpectedOutcome(f"{name} yielded {type(item).__name__}")
            width = STORED_HEX_LENGTHS.get(item.algorithm)
            if width is None or len(item.value) != width or not _HEX.fullmatch(item.value):
                raise UnexpectedOutcome(f"{name}: bad record {item.algorithm}={item.value!r}")
    except HashSetFormatError:
        pass


if __name__ == "__main__":
    import sys

    main(sys.modules[__name__])

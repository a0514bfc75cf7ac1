"""Fault injection for the evidence, loaded by every Python process of a scan started with this
folder on PYTHONPATH (the command, its forkserver and its workers): files named in
HASHSIEVE_FAULT_DELETE vanish just before a worker opens them; files named in
HASHSIEVE_FAULT_TRUNCATE are cut to half their size once a worker has opened them and before it
reads (as another program on the machine would). Names are base names, comma-separated.
HASHSIEVE_FAULT_SLOW (seconds) makes every open that slow (a slow disk), so that a fault lands
while the scan is still running."""

from __future__ import annotations

import os

_DELETE = set(filter(None, os.environ.get("HASHSIEVE_FAULT_DELETE", "").split(",")))
_TRUNCATE = set(filter(None, os.environ.get("HASHSIEVE_FAULT_TRUNCATE", "").split(",")))
_SLOW = float(os.environ.get("HASHSIEVE_FAULT_SLOW", "0"))

if _DELETE or _TRUNCATE or _SLOW:
    import time
    from typing import Any

    from hashsieve.sources import readonly

    _opener = readonly.opener

    class _Truncating:
        def __init__(self, stream: Any, path: str) -> None:
            self._stream, self._path, self._cut = stream, path, False

        def read(self, size: int = -1) -> bytes:
            if not self._cut:
                self._cut = True
                os.truncate(self._path, os.path.getsize(self._path) // 2)
            return bytes(self._stream.read(size))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._stream, name)

        def __enter__(self) -> _Truncating:
            return self

        def __exit__(self, *exc: object) -> None:
            self._stream.close()

    def opener(path: str) -> Any:
        name = os.path.basename(path)
        inner = _opener(path)

        def open_stream() -> Any:
            time.sleep(_SLOW)
            if name in _DELETE and os.path.exists(path):
                os.unlink(path)
            stream = inner()
            return _Truncating(stream, path) if name in _TRUNCATE else stream

        return open_stream

    readonly.opener = opener

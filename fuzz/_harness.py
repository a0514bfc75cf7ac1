"""What every fuzz target shares: the atheris entry point and the "unexpected exception" rule.

A target module defines ``INSTRUMENT`` (the modules whose branches guide the fuzzer),
``load()`` (imports them) and ``one_input(data)``, which returns quietly for every outcome the
library's contract allows (a recorded error, a :class:`~hashsieve.errors.HashsieveError`, a
protocol error answered to the client) and raises for anything else. Run as a script, a target
is a libFuzzer binary (``python -m fuzz.icap -runs=1000 CORPUS...``); imported, ``one_input``
replays one input (the regression tests of tests/fuzz/).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

#: Numba-compiled kernels: atheris' bytecode rewriting would break their compilation, and their
#: branches are over pixels, not over the input's structure.
NOT_INSTRUMENTED = (
    "hashsieve.hashing._pdq_kernels",
    "hashsieve.hashing._candidate_kernels",
    "hashsieve.index._kernels",
)

_scratch: Path | None = None


class UnexpectedOutcome(AssertionError):
    """The library answered an input in a way its contract does not allow."""


def scratch() -> Path:
    """A private folder for the files a target writes its input to (one per process)."""
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="hashsieve-fuzz-"))
    return _scratch


def input_file(data: bytes, name: str = "input") -> Path:
    """``data`` as a file in the scratch folder (read-only, like evidence)."""
    path = scratch() / name
    if path.exists():
        path.chmod(0o600)
    path.write_bytes(data)
    path.chmod(0o400)
    return path


def fuzz(
    argv: Sequence[str],
    one_input: Callable[[bytes], None],
    load: Callable[[], None],
    instrument: Sequence[str],
) -> None:
    """Run ``one_input`` under libFuzzer with ``argv`` (libFuzzer's flags and corpus folders)."""
    import atheris

    with atheris.instrument_imports(include=list(instrument), exclude=list(NOT_INSTRUMENTED)):
        load()
    atheris.Setup(list(argv), one_input)
    atheris.Fuzz()


def main(module: object) -> None:
    """``python -m fuzz.<target> [libFuzzer flags] [corpus folders]``."""
    fuzz(
        sys.argv,
        module.one_input,  # type: ignore[attr-defined]
        module.load,  # type: ignore[attr-defined]
        module.INSTRUMENT,  # type: ignore[attr-defined]
    )

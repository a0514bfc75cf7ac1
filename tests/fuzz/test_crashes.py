"""Every input a fuzzer crashed on, replayed through its target (tests/fuzz/crashes/<target>/):
each is answered within the library's contract now. The file name says what it broke."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

CRASHES = Path(__file__).resolve().parent / "crashes"
CASES = sorted(p for p in CRASHES.glob("*/*") if p.is_file())


def test_crash_inputs_are_kept() -> None:
    assert CASES, "no crash inputs"


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_crash_input_is_handled(case: Path) -> None:
    target = importlib.import_module(f"fuzz.{case.parent.name}")
    target.load()
    target.one_input(case.read_bytes())  # raises if the contract is broken

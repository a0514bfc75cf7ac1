from __future__ import annotations

import pytest

from hashsieve.hashsets.categories import PROFILES, category_label, is_pertinent


@pytest.mark.parametrize(
    ("code", "profile", "label"),
    [
        (0, "us", "Non-pertinent"),
        (1, "us", "Child abuse material (CAM)"),
        (4, "us", "Comparison images"),
        (1, "uk", "Category A"),
        (3, "UK", "Category C"),
        (None, "us", "Uncategorised"),
        (8, "us", "Category 8"),
        (2, {2: "Custom two"}, "Custom two"),
    ],
)
def test_category_label(code: int | None, profile: str | dict[int, str], label: str) -> None:
    assert category_label(code, profile) == label


def test_unknown_profile_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown category profile"):
        category_label(1, "mars")


@pytest.mark.parametrize(("code", "pertinent"), [(0, False), (1, True), (4, True), (None, True)])
def test_is_pertinent(code: int | None, pertinent: bool) -> None:
    assert is_pertinent(code) is pertinent


def test_profiles_are_plain_dicts() -> None:
    assert set(PROFILES) == {"us", "uk"} and all(isinstance(p, dict) for p in PROFILES.values())

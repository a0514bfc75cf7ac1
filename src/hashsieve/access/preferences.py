"""Per-user wellness settings: blur strength, greyscale, thumbnail size, break reminder."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hashsieve.access.models import UserSettings
from hashsieve.errors import HashsieveError
from hashsieve.store import Store

LIMITS = {"blur": (0, 40), "thumb_size": (96, 320), "break_minutes": (0, 480)}


class SettingsError(HashsieveError):
    """A setting out of its range."""


@dataclass
class Preferences:
    blur: int = 14
    greyscale: bool = True
    thumb_size: int = 160
    break_minutes: int = 45


def get_preferences(store: Store, user_id: int) -> Preferences:
    with store.session() as s:
        row = s.get(UserSettings, user_id)
        if row is None:
            return Preferences()
        return Preferences(row.blur, row.greyscale, row.thumb_size, row.break_minutes)


def update_preferences(store: Store, user_id: int, changes: dict[str, Any]) -> Preferences:
    known = set(asdict(Preferences()))
    unknown = set(changes) - known
    if unknown:
        raise SettingsError(
            f"unknown settings {sorted(unknown)} (known: {', '.join(sorted(known))})"
        )
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "greyscale":
            if not isinstance(value, bool):
                raise SettingsError("greyscale must be true or false")
            clean[key] = value
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{key} must be a whole number") from None
        low, high = LIMITS[key]
        if not low <= number <= high or isinstance(value, bool):
            raise SettingsError(f"{key} must be between {low} and {high}")
        clean[key] = number
    with store.session() as s:
        row = s.get(UserSettings, user_id)
        if row is None:
            defaults = asdict(Preferences())
            row = UserSettings(user_id=user_id, **defaults)
            s.add(row)
        for key, value in clean.items():
            setattr(row, key, value)
    return get_preferences(store, user_id)

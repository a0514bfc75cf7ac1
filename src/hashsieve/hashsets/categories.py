"""Category codes of VICS hash sets and how to read them.

Only the category says anything about a record: 0 is known and not pertinent, any other code is
known material, and ``None`` (absent or null) is known but uncategorised, so it still needs review.
The code -> label maps are plain dicts so a deployment can add or change a profile.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Project VIC US scheme (Autopsy "Project VIC" tag set, IPED, Griffeye).
US_CATEGORIES: dict[int, str] = {
    0: "Non-pertinent",
    1: "Child abuse material (CAM)",
    2: "Child exploitive (non-CAM) / age difficult",
    3: "CGI / animation",
    4: "Comparison images",
}

#: UK CAID profile. The numeric codes of VICS-UK files are not publicly documented: this map is
#: an assumption (1=A, 2=B, 3=C) to be checked against the files a unit actually receives.
UK_CATEGORIES: dict[int, str] = {
    0: "Non-pertinent",
    1: "Category A",
    2: "Category B",
    3: "Category C",
}

PROFILES: dict[str, dict[int, str]] = {"us": US_CATEGORIES, "uk": UK_CATEGORIES}
DEFAULT_PROFILE = "us"
UNCATEGORISED = "Uncategorised"
#: The one code that means "known, and not of interest".
NON_PERTINENT = 0

#: What an import does with a record whose format carries categories (VICS) but that gives none,
#: or gives a code its profile does not define (NIST's CAID set writes 8):
#: ``refuse`` it (the default: nothing becomes known material, or harmless, unasked);
#: ``non-pertinent``: category 0, a match is known-good (C4All writes no Category for 0);
#: ``known``: kept as uncategorised (or its own code), a match is reported as known material
#: that needs review (what the VICS model says an absent Category means).
UNCATEGORISED_POLICIES = ("refuse", "non-pertinent", "known")
DEFAULT_UNCATEGORISED = "refuse"


def category_label(code: int | None, profile: str | Mapping[int, str] = DEFAULT_PROFILE) -> str:
    """Human label of a category code under a profile (a name of ``PROFILES`` or a map)."""
    if code is None:
        return UNCATEGORISED
    if isinstance(profile, str):
        try:
            labels: Mapping[int, str] = PROFILES[profile.lower()]
        except KeyError:
            known = ", ".join(sorted(PROFILES))
            raise ValueError(f"unknown category profile {profile!r} (known: {known})") from None
    else:
        labels = profile
    # An unknown code (e.g. the undocumented 8 of NIST's CAID set) is shown, never hidden.
    return labels.get(code, f"Category {code}")


def is_pertinent(code: int | None) -> bool:
    """Whether a record's hit is of interest: everything except non-pertinent (0).

    ``None`` (uncategorised) counts as pertinent: the set knows the file but has not said it is
    harmless, so a human must look at it.
    """
    return code != NON_PERTINENT

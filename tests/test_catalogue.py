"""Hash sets in the store: export keeps each record whole, delete forgets it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hashsieve.errors import DuplicateNameError, UnknownHashSetError
from hashsieve.hashsets.catalogue import (
    delete_hashset,
    export_hashset,
    import_hashset,
    list_hashsets,
)
from hashsieve.store import Store


def test_vics_export_keeps_every_record_whole(store: Store, sample_case: tuple[Path, Path]) -> None:
    _, sets = sample_case
    original = json.loads((sets / "projectvic.json").read_text())["value"]
    import_hashset(store, sets / "projectvic.json", "vic")
    out = io.StringIO()
    export_hashset(store, "vic", "vics", out)
    media = json.loads(out.getvalue())["value"]
    assert len(media) == len(original)
    by_md5 = {m["MD5"]: m for m in media}
    for record in original:
        exported = by_md5[record["MD5"]]
        assert exported["SHA1"] == record["SHA1"]
        assert exported["Category"] == record["Category"]
        pdq = [
            a["HashValue"].lower()
            for a in exported["AlternativeHashes"]
            if a["HashName"].upper() == "PDQ"
        ]
        assert pdq == [record["AlternativeHashes"][0]["HashValue"].lower()]


def test_names_are_unique_and_deletion_is_complete(store: Store, tmp_path: Path) -> None:
    listing = tmp_path / "l.txt"
    listing.write_text("d41d8cd98f00b204e9800998ecf8427e\n")
    import_hashset(store, listing, "l")
    with pytest.raises(DuplicateNameError):
        import_hashset(store, listing, "l")
    assert [h.name for h in list_hashsets(store)] == ["l"]
    assert delete_hashset(store, "l") == 1
    assert list_hashsets(store) == []
    with pytest.raises(UnknownHashSetError):
        delete_hashset(store, "l")

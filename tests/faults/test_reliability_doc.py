"""docs/reliability.md holds the fault table for exactly the faults the tests inject."""

from __future__ import annotations

from tests.faults import report


def test_the_doc_lists_every_fault_the_tests_inject() -> None:
    text = report.DOC.read_text(encoding="utf-8")
    assert report.keys_in_doc(text) == list(report.FAULTS)


def test_the_doc_says_how_the_table_is_regenerated() -> None:
    text = report.DOC.read_text(encoding="utf-8")
    assert "python -m tests.faults.report" in text
    assert report.BEGIN in text and report.END in text


def test_table_rows_are_in_fault_order() -> None:
    rows = {key: report.Row(f"sees {key}", "kept", "done") for key in reversed(report.FAULTS)}
    lines = report.table(rows).splitlines()[2:]
    assert [line.split("`")[1] for line in lines] == list(report.FAULTS)
    assert report.keys_in_doc(f"{report.BEGIN}\n{report.table(rows)}\n{report.END}") == list(
        report.FAULTS
    )

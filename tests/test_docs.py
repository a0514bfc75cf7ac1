"""The documentation names everything a user can reach (datasette's tests/test_docs.py).

A command, hash-set format, hash algorithm, setting or environment variable added without a word
in README.md or docs/*.md fails here, so the docs cannot silently fall behind the code.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from hashsieve.cli import main
from hashsieve.config import Settings
from hashsieve.hashing.algorithms import ALGORITHMS
from hashsieve.hashsets import FORMATS

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = "\n".join(
    [README, *(p.read_text(encoding="utf-8") for p in sorted((REPO / "docs").glob("*.md")))]
)


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[str]:
    if path:
        yield " ".join(path)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


COMMANDS = sorted(_commands(main))
ENV_VARS = sorted(
    {
        name
        for source in (REPO / "src" / "hashsieve").rglob("*.py")
        for name in re.findall(r"\bHASHSIEVE_[A-Z0-9_]+\b", source.read_text(encoding="utf-8"))
    }
)


def test_the_walks_found_something() -> None:
    # Guards the parametrisations below against an empty list (a test that checks nothing).
    assert {"scan", "hashset import", "sensor add"} <= set(COMMANDS)
    assert {"HASHSIEVE_HOME", "HASHSIEVE_ROBUST"} <= set(ENV_VARS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented(command: str) -> None:
    assert f"hashsieve {command}" in DOCS


@pytest.mark.parametrize("name", FORMATS.names())
def test_every_hash_set_format_has_a_row_in_the_readme(name: str) -> None:
    # A row of the "Hash-set formats" table: | `name` | what | detected by |
    assert re.search(rf"^\| `{re.escape(name)}` \|", README, re.MULTILINE)


@pytest.mark.parametrize("name", ALGORITHMS.names())
def test_every_algorithm_is_documented(name: str) -> None:
    # As the results and exports spell it: `pdq-crop` or "algorithm": "pdq-crop".
    assert re.search(rf"[`\"]{re.escape(name)}[`\"]", DOCS)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Settings)])
def test_every_setting_is_documented(field: str) -> None:
    assert re.search(rf"^\| `{field}` \|", README, re.MULTILINE)


@pytest.mark.parametrize("name", ENV_VARS)
def test_every_environment_variable_is_documented(name: str) -> None:
    assert name in DOCS

"""`hashsieve user add` and `hashsieve serve` on the command line."""

from __future__ import annotations

from pathlib import Path

from hashsieve.access.auth import authenticate
from hashsieve.config import Settings
from hashsieve.store import Store
from tests.conftest import run_cli


def test_user_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = run_cli(
        home,
        "user",
        "add",
        "carol",
        "--role",
        "admin",
        "--password-stdin",
        input="a long enough password\n",
    )
    assert "added admin carol" in out.stdout
    assert "carol\tadmin" in run_cli(home, "user", "list").stdout
    again = run_cli(
        home, "user", "add", "carol", "--password-stdin", input="x" * 12 + "\n", check=False
    )
    assert again.returncode == 2 and "exists" in again.stderr
    short = run_cli(home, "user", "add", "dave", "--password-stdin", input="short\n", check=False)
    assert short.returncode == 2 and "at least" in short.stderr
    store = Store(Settings(home=home))
    try:
        user = authenticate(store, "carol", "a long enough password")
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert authenticate(store, "carol", "wrong password") is None
    finally:
        store.close()


def test_serve_listens_on_loopback_by_default(tmp_path: Path) -> None:
    help_text = run_cli(tmp_path / "home", "serve", "--help").stdout
    assert "127.0.0.1" in help_text and "8642" in help_text
    missing = run_cli(tmp_path / "home", "serve", "--case", "nope", check=False)
    assert missing.returncode == 2 and "no case named" in missing.stderr

"""The ``hashsieve exchange`` commands in process (click's runner): what each prints and refuses.

The two-agency tests run the same commands as subprocesses against live servers; these cover
the verbs around them without a process start each.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hashsieve.cli import main
from hashsieve.config import Settings
from hashsieve.exchange import feeds
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.store import Store


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def run(home: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, ["--home", str(home), *args])
    assert result.exit_code == code, result.output
    return result


def test_init_prints_the_same_public_key_alone_on_its_last_line(home: Path) -> None:
    first = run(home, "exchange", "init").stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert run(home, "exchange", "init").stdout.strip().splitlines()[-1] == first


def test_publish_peers_withdraw_and_subscribe(home: Path, tmp_path: Path) -> None:
    key = run(home, "exchange", "init").stdout.strip().splitlines()[-1]
    values = [hashlib.md5(bytes([i])).hexdigest() for i in range(3)]
    (tmp_path / "list.md5").write_text("".join(f"{v}\n" for v in values))
    store = Store(Settings(home=home))
    import_hashset(store, tmp_path / "list.md5", "mine", category=1, algorithm="md5")

    assert (
        "feed f: +3 -0, at sequence 3"
        in run(home, "exchange", "publish", "mine", "--feed", "f").stdout
    )
    assert "f\t-\tseq 3\t3 entries" in run(home, "exchange", "feeds").stdout
    run(home, "exchange", "publish", "--feed", "f", "--series", "S", code=2)  # needs --case ...
    run(home, "exchange", "publish", "nothing", "--feed", "f", code=2)  # no such set

    token = run(home, "exchange", "peer", "add", "b", "--key", key, "--feed", "f")
    token_line = token.stdout.strip().splitlines()[-1]
    assert len(token_line) >= 40 and " " not in token_line
    assert feeds.authenticate(store, token_line) is not None
    run(home, "exchange", "peer", "add", "b", "--key", key, code=2)  # exists
    run(home, "exchange", "peer", "add", "c", "--key", "not-a-key", code=2)
    assert "b\tactive\tf\t" in run(home, "exchange", "peer", "list").stdout
    run(home, "exchange", "peer", "revoke", "b")
    assert "b\trevoked" in run(home, "exchange", "peer", "list").stdout
    assert feeds.authenticate(store, token_line) is None

    assert (
        "feed f: -1, at sequence 4"
        in run(home, "exchange", "withdraw", "md5", values[1], "--feed", "f").stdout
    )
    assert "seq 4\t2 entries" in run(home, "exchange", "feeds").stdout

    run(home, "exchange", "subscribe", "ftp://x", "--feed", "f", "--key", key, "--token", "t",
        "--as", "theirs", code=2)  # fmt: skip
    run(home, "exchange", "subscribe", "http://127.0.0.1:9", "--feed", "f", "--key", key,
        "--token", "t", "--as", "theirs")  # fmt: skip
    token_file = next((home / "exchange" / "subscriptions").glob("*.token"))
    assert token_file.stat().st_mode & 0o077 == 0 and token_file.read_text() == "t"
    assert "theirs\thttp://127.0.0.1:9\tf\tseq 0" in run(home, "exchange", "subscriptions").stdout
    # Nobody answers there: refused, exit 1, nothing applied.
    failed = run(home, "exchange", "sync", code=1)
    assert "theirs: refused: http://127.0.0.1:9 cannot be reached" in failed.output
    store.close()

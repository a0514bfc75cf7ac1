"""Failed logins slow the attacker down without locking the real user out (docs/security.md).

The limiter's clock is a fake the tests move by hand: no test waits or times anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hashsieve.access.auth import LoginLimiter
from hashsieve.config import Settings
from hashsieve.store import Store
from hashsieve.web.app import create_app
from tests.security.conftest import PASSWORD, Home


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Console:
    app: Any
    clock: Clock
    limiter: LoginLimiter

    def login(self, username: str, password: str, client: str) -> Any:
        with TestClient(self.app, client=(client, 40000)) as http:
            return http.post("/api/login", json={"username": username, "password": password})


@pytest.fixture
def console(home_copy: Home) -> Iterator[Console]:
    store = Store(Settings(home=home_copy.path, workers=1))
    clock = Clock()
    # Small thresholds keep the argon2 work of the test small; the rule is the same.
    limiter = LoginLimiter(attempts=2, client_attempts=4, user_attempts=4, clock=clock)
    yield Console(create_app(store, limiter=limiter), clock, limiter)
    store.close()


def test_back_off_doubles_after_the_free_attempts() -> None:
    clock = Clock()
    limiter = LoginLimiter(attempts=5, max_wait=900, clock=clock)
    waits = []
    for _ in range(16):
        waits.append(limiter.retry_after("alice", "10.0.0.9"))
        limiter.failed("alice", "10.0.0.9")
    assert waits[:6] == [0.0] * 5 + [1.0]  # five free failures, then 1 s, 2 s, 4 s ...
    assert limiter.retry_after("alice", "10.0.0.9") == 900.0  # capped
    clock.now += 900
    assert limiter.retry_after("alice", "10.0.0.9") == 0.0
    limiter.failed("alice", "10.0.0.9")
    assert limiter.retry_after("alice", "10.0.0.9") == 900.0
    limiter.succeeded("alice", "10.0.0.9")
    assert limiter.retry_after("alice", "10.0.0.9") == 0.0


def test_the_waits_grow_exponentially() -> None:
    clock = Clock()
    limiter = LoginLimiter(attempts=2, clock=clock)
    seen = []
    for _ in range(6):
        limiter.failed("bob", "10.0.0.9")
        seen.append(limiter.retry_after("bob", "10.0.0.9"))
    assert seen == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0]


def test_failures_are_forgotten_after_the_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(attempts=1, window=600, clock=clock)
    limiter.failed("bob", "10.0.0.9")
    limiter.failed("bob", "10.0.0.9")
    assert limiter.retry_after("bob", "10.0.0.9") > 0
    clock.now += 601
    assert limiter.retry_after("bob", "10.0.0.9") == 0.0


def test_a_fuzzing_burst_does_not_lock_the_real_user_out_from_another_address(
    console: Console,
) -> None:
    for i in range(8):  # the fuzzer: alice's name and others, wrong passwords, one address
        r = console.login("alice" if i % 2 else f"fuzz-{i}", "wrong-password", "10.6.6.6")
        assert r.status_code in (401, 429)
    assert console.login("alice", "wrong-password", "10.6.6.6").status_code == 429
    r = console.login("alice", PASSWORD, "10.1.1.1")  # the real user, at her desk
    assert r.status_code == 200, r.text


def test_brute_force_from_one_address_is_slowed(console: Console) -> None:
    for _ in range(2):
        assert console.login("alice", "guess", "10.6.6.6").status_code == 401
    r = console.login("alice", PASSWORD, "10.6.6.6")  # even the right password must wait
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    console.clock.now += int(r.headers["retry-after"])
    assert console.login("alice", "guess", "10.6.6.6").status_code == 401
    r = console.login("alice", "guess", "10.6.6.6")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 2  # longer each time


def test_password_spraying_from_one_address_is_slowed_for_new_names(console: Console) -> None:
    for i in range(4):
        assert console.login(f"user-{i}", "Winter2026!", "10.6.6.6").status_code == 401
    assert console.login("bob", "Winter2026!", "10.6.6.6").status_code == 429
    assert console.login("bob", PASSWORD, "10.2.2.2").status_code == 200


def test_a_known_address_is_not_kept_out_by_attacks_elsewhere_or_next_door(
    console: Console,
) -> None:
    """Many addresses failing on alice's name slow her name for new addresses, but not the
    address she has logged in from before; nor does spraying from her own (shared) address."""
    assert console.login("alice", PASSWORD, "10.1.1.1").status_code == 200
    for i in range(4):
        assert console.login("alice", "guess", f"10.9.0.{i}").status_code == 401
    assert console.login("alice", PASSWORD, "10.9.1.1").status_code == 429  # a new address
    for i in range(4):  # someone behind the same proxy sprays other names
        assert console.login(f"user-{i}", "guess", "10.1.1.1").status_code == 401
    assert console.login("alice", PASSWORD, "10.1.1.1").status_code == 200

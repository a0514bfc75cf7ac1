"""Local users (argon2id password hashes), server-side sessions, login back-off."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from hashsieve.access.models import ROLES, WRITERS, User, UserSession, UserSettings
from hashsieve.errors import DuplicateNameError, HashsieveError
from hashsieve.store import Store

_HASHER = PasswordHasher()
#: Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("hashsieve-no-such-user")
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 8


class UserError(HashsieveError):
    """A user that cannot be created as asked (role, name or password refused)."""


@dataclass(frozen=True)
class Principal:
    """The logged-in user behind a request."""

    user_id: int
    username: str
    role: str
    csrf_token: str

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def add_user(store: Store, username: str, password: str, role: str = "reviewer") -> User:
    """Create a user; the password is stored only as an argon2id hash."""
    username = username.strip()
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise UserError("a user name is 1 to 100 characters without spaces")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    with store.session() as s:
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise DuplicateNameError(f"a user named {username!r} exists")
        user = User(username=username, password_hash=hash_password(password), role=role)
        s.add(user)
        s.flush()
        s.add(UserSettings(user_id=user.id))
        return user


def list_users(store: Store) -> list[User]:
    with store.session() as s:
        return list(s.scalars(select(User).order_by(User.username)))


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The user when the password is right (and the user enabled), else None."""
    with store.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None else _DUMMY_HASH
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if _HASHER.check_needs_rehash(stored):
            user.password_hash = hash_password(password)
        return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store: Store, user: User) -> tuple[str, Principal]:
    """A new session for ``user``: (cookie token, principal with its CSRF token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with store.session() as s:
        s.execute(delete(UserSession).where(UserSession.expires_at < now))
        s.add(
            UserSession(
                token_hash=_token_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return token, Principal(user.id, user.username, user.role, csrf)


def session_principal(store: Store, token: str | None) -> Principal | None:
    if not token:
        return None
    with store.session() as s:
        row = s.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == _token_hash(token))
        ).first()
    if row is None:
        return None
    sess, user = row
    expires = sess.expires_at if sess.expires_at.tzinfo else sess.expires_at.replace(tzinfo=UTC)
    if expires < datetime.now(UTC) or user.disabled:
        return None
    return Principal(user.id, user.username, user.role, sess.csrf_token)


def close_session(store: Store, token: str | None) -> None:
    if token:
        with store.session() as s:
            s.execute(delete(UserSession).where(UserSession.token_hash == _token_hash(token)))


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


class LoginLimiter:
    """Failed logins slow the next try down, with exponential back-off; nothing locks a user out.

    Three counts of failures, each forgotten ``window`` seconds after its last failure:

    - per (user name, client address): after ``attempts`` failures every try waits
      ``2 ** (failures - attempts)`` seconds, up to ``max_wait``. Brute force on one account from
      one address is slowed to a few guesses an hour; this count is never bypassed, and a
      success clears it.
    - per client address (any user name): after ``client_attempts`` failures, the same back-off
      for names tried from that address (password spraying from one address).
    - per user name (any address): after ``user_attempts`` failures, the same back-off for that
      name from new addresses (a distributed attack on one account).

    The last two are skipped for a (user name, client) pair that has logged in before
    (``trusted``: the audit log has its login): a burst of failed logins, from a fuzzer or an
    attacker, elsewhere or even behind the same proxy, cannot keep the real user out
    (docs/security.md).
    """

    def __init__(
        self,
        attempts: int = 5,
        window: float = 900.0,
        *,
        client_attempts: int = 20,
        user_attempts: int = 50,
        max_wait: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts, self.window, self.max_wait = attempts, window, max_wait
        self.client_attempts, self.user_attempts = client_attempts, user_attempts
        self.clock = clock
        self._failures: dict[tuple[str, ...], _Failures] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, client: str) -> list[tuple[tuple[str, ...], int, bool]]:
        """(key, free failures, applies to trusted pairs too)."""
        name = username.lower()
        return [
            (("pair", name, client), self.attempts, True),
            (("client", client), self.client_attempts, False),
            (("user", name), self.user_attempts, False),
        ]

    def _wait(self, failures: _Failures, free: int, now: float) -> float:
        if failures.count < free:
            return 0.0
        backoff = min(self.max_wait, 2.0 ** min(failures.count - free, 30))
        return max(0.0, failures.last + backoff - now)

    def retry_after(self, username: str, client: str, *, trusted: bool = False) -> float:
        """Seconds until another try is allowed (0 when allowed now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key, free, always in self._keys(username, client):
                failures = self._failures.get(key)
                if failures is None or (trusted and not always):
                    continue
                if now - failures.last > self.window:
                    del self._failures[key]
                    continue
                wait = max(wait, self._wait(failures, free, now))
        return wait

    def failed(self, username: str, client: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of names: drop what has expired
                for key in [k for k, f in self._failures.items() if now - f.last > self.window]:
                    del self._failures[key]
            for key, _free, _always in self._keys(username, client):
                failures = self._failures.setdefault(key, _Failures())
                if now - failures.last > self.window:
                    failures.count = 0
                failures.count += 1
                failures.last = now

    def succeeded(self, username: str, client: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(username, client)[0][0], None)

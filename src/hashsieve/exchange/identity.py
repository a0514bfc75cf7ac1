"""An instance's Ed25519 identity: the key its feed pages are signed with.

The private key is 32 random bytes in ``$HASHSIEVE_HOME/exchange/ed25519.key`` (mode 0600, its
folder 0700), never printed nor exported; a key file that others can read is refused. Peers know
the instance by its public key (64 hex digits), handed over out of band and pinned when they
subscribe.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nacl.signing import SigningKey

from hashsieve.config import Settings
from hashsieve.errors import HashsieveError

KEY_FILE = "ed25519.key"


class IdentityError(HashsieveError):
    """No identity yet, or a key file that is unsafe or damaged."""


def exchange_dir(settings: Settings) -> Path:
    return settings.home / "exchange"


def key_path(settings: Settings) -> Path:
    return exchange_dir(settings) / KEY_FILE


def init_identity(settings: Settings) -> str:
    """Make the instance's key pair once; returns the public key (hex). Idempotent."""
    path = key_path(settings)
    if path.exists():
        return public_key(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = SigningKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(bytes(key))
    return key.verify_key.encode().hex()


def signing_key(settings: Settings) -> SigningKey:
    path = key_path(settings)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise IdentityError(
            "this instance has no identity yet: run 'hashsieve exchange init'"
        ) from None
    if stat.S_IMODE(mode) & 0o077:
        raise IdentityError(f"{path} is readable by others: chmod 600 it")
    seed = path.read_bytes()
    if len(seed) != 32:
        raise IdentityError(f"{path} is not an Ed25519 key (32 bytes)")
    return SigningKey(seed)


def public_key(settings: Settings) -> str:
    return signing_key(settings).verify_key.encode().hex()

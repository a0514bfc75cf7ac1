"""What every command shares: the consoles, the store of the context, library errors as one line."""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from hashsieve.config import Settings
from hashsieve.errors import HashsieveError

F = TypeVar("F", bound=Callable[..., Any])
console = Console(stderr=True)
stdout = Console()


def friendly(fn: F) -> F:
    """Turn library errors into one clear line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HashsieveError as exc:
            console.print(f"[red]error:[/red] {exc}")
            sys.exit(2)
        except Exception as exc:
            message = store_failure(exc)
            if message is None:
                raise
            console.print(f"[red]error:[/red] {message}")
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


#: errno values that mean "no room to write" (disk full, file size limit, quota).
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_RERUN = "rerun the same command (a scan resumes where it stopped, an import starts over)"


def store_failure(exc: BaseException) -> str | None:
    """The one line for a failure of the store's disk or database server (docs/reliability.md),
    or None for any other exception (a bug: its traceback is shown)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        full = isinstance(seen, OSError) and seen.errno in _NO_SPACE
        if full or "database or disk is full" in text:
            why = seen.strerror if isinstance(seen, OSError) else "database or disk is full"
            return f"no space left to write the store ({why}); free space, then {_RERUN}"
        driver = type(seen).__module__.startswith("psycopg") and type(seen).__name__ in (
            "OperationalError",
            "InterfaceError",
        )
        if driver or getattr(seen, "connection_invalidated", False):
            first = text.strip().splitlines()[0] if text.strip() else type(seen).__name__
            return f"lost the connection to the database ({first[:160]}); once it is back, {_RERUN}"
        seen = seen.__cause__ or seen.__context__
    return None


def open_store(ctx: click.Context) -> Any:
    from hashsieve.store import Store

    settings: Settings = ctx.obj
    return Store(settings)

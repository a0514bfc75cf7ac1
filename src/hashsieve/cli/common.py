"""What every command shares: the consoles, the store of the context, library errors as one line."""

from __future__ import annotations

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

    return wrapper  # type: ignore[return-value]


def open_store(ctx: click.Context) -> Any:
    from hashsieve.store import Store

    settings: Settings = ctx.obj
    return Store(settings)

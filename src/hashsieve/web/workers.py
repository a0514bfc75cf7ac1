"""``hashsieve serve --workers N``: N server processes on one port, for the match API's load.

One Python process answers at most about one core's worth of lookups (issue #15: about 1 ms of
CPU each), so N processes are forked, each with its own store connection, web app and uvicorn,
each listening on its own socket bound with ``SO_REUSEPORT`` (the kernel spreads connections
over them). They are forked before the store is opened and before any thread starts, so nothing
(database connections, locks, threads) is shared by accident; what they share is on disk: the
database (SQLite in WAL mode with a busy timeout, or PostgreSQL) and the memory-mapped indexes,
read through one page cache. uvicorn's own ``workers`` is not used: it spawns fresh interpreters
that rebuild the app from an import string and would lose ``serve``'s options.

Process 0 (the one started) is the primary: it alone runs what must run once (the exchange sync
timer) and prints; the others die with it (``PR_SET_PDEATHSIG``) and are stopped when it stops.
Per process, and so counted N times over: the login back-off's counts (an attacker spreading
tries over connections gets up to N times the tries before a wait), the match API's token cache
(a revoked token still stops working within ``TOKEN_TTL`` in every process), and each process's
copy of the listed entries for the match API (about 30 bytes an entry).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
from collections.abc import Callable

#: prctl(2) option: the signal a child gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def fork_workers(workers: int) -> tuple[bool, Callable[[], None]]:
    """Fork ``workers - 1`` copies of this process: (whether this is the primary, a function
    the primary calls to stop the others). Call before opening the store or starting threads."""
    children: list[int] = []
    parent = os.getpid()
    for _ in range(max(0, workers - 1)):
        pid = os.fork()
        if pid == 0:
            _die_with_parent(parent)
            return False, lambda: None
        children.append(pid)

    def stop() -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    return True, stop


def exit_on_sigterm() -> None:
    """Make SIGTERM unwind the process (``finally`` blocks, ``atexit``): uvicorn stops gracefully
    on it, then raises it again, whose default action would kill the process before the
    primary stops the other workers and before the match API's last audit rows are written."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(0)


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port) that other processes may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock

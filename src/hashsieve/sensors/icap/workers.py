"""Hashing processes for the ICAP service, driven straight from its event loop.

``concurrent.futures``' process pool hands every job through two helper threads and a pickled
queue, and one dead worker breaks the whole pool for good. Here each worker is a process at the
other end of a socket pair: the event loop writes a body as one length-prefixed frame and reads
the pickled hashes back the same way (docs/sensors.md has the latency this saves). A worker that
dies (a decoder crash, its memory limit) fails only the body it held and is replaced at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import socket
import struct
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from hashsieve.hashing.content import FileResult
from hashsieve.workers.executor import WORKER_PRELOAD

log = logging.getLogger(__name__)

#: A job: body length and flags (robust, parts); an answer: length of the pickled result.
JOB = struct.Struct("!IB")
ANSWER = struct.Struct("!I")
ROBUST, PARTS = 1, 2


class WorkerLost(RuntimeError):
    """The process hashing a body died before answering."""


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        piece = sock.recv(min(size - len(data), 1 << 20))
        if not piece:
            return None
        data += piece
    return bytes(data)


def serve(sock: socket.socket) -> None:
    """A worker's life: hash each body that arrives until the service closes its end."""
    from hashsieve.hashing.content import hash_content
    from hashsieve.sensors.hashing import sensor_options

    with sock:
        while True:
            head = _read_exactly(sock, JOB.size)
            if head is None:
                return
            size, flags = JOB.unpack(head)
            data = _read_exactly(sock, size)
            if data is None:
                return
            answer: FileResult | Exception
            try:
                options = sensor_options(robust=bool(flags & ROBUST), parts=bool(flags & PARTS))
                answer = hash_content(data, options)
            except Exception as exc:  # a bug, not a bad body: the service reports it
                answer = RuntimeError(f"{type(exc).__name__}: {exc}")
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            sock.sendall(ANSWER.pack(len(payload)) + payload)


@dataclass
class _Worker:
    process: BaseProcess
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class HashWorkers:
    """``count`` hashing processes; :meth:`hash` sends a body to the next free one.

    ``memory_mb`` bounds each worker's address space (a body that makes a decoder allocate
    without bound costs that worker, not the machine); read when the forkserver starts.
    """

    def __init__(self, count: int, memory_mb: int = 0) -> None:
        self.count = max(1, count)
        if memory_mb > 0:
            os.environ.setdefault("HASHSIEVE_WORKER_MEMORY_MB", str(memory_mb))
        self._context = multiprocessing.get_context("forkserver")
        # Workers start as the scan's do: hashing code and PDQ kernels warm, under the limit.
        self._context.set_forkserver_preload(WORKER_PRELOAD)
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: list[_Worker] = []
        self._closing = False
        self.lost = 0

    async def start(self) -> None:
        for _ in range(self.count):
            self._idle.put_nowait(await self._spawn())

    async def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        process = self._context.Process(target=serve, args=(theirs,), daemon=True)
        await asyncio.get_running_loop().run_in_executor(None, process.start)
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours, limit=1 << 20)
        worker = _Worker(process, reader, writer)
        self._all.append(worker)
        return worker

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._all if w.process.pid is not None]

    async def hash(self, data: bytes, *, robust: bool, parts: bool) -> FileResult:
        worker = await self._idle.get()
        healthy = False
        try:
            flags = (ROBUST if robust else 0) | (PARTS if parts else 0)
            worker.writer.write(JOB.pack(len(data), flags))
            worker.writer.write(data)
            await worker.writer.drain()
            (size,) = ANSWER.unpack(await worker.reader.readexactly(ANSWER.size))
            answer = pickle.loads(await worker.reader.readexactly(size))
            healthy = True
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.lost += 1
            code = worker.process.exitcode
            raise WorkerLost(f"hashing process died (exit code {code})") from exc
        finally:
            # A worker cut off mid-job (it died, or the request was cancelled) is replaced: what
            # is left on its socket belongs to no one.
            if healthy:
                self._idle.put_nowait(worker)
            elif worker in self._all:
                self._retire(worker)
                if not self._closing:
                    self._idle.put_nowait(await self._spawn())
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, FileResult)
        return answer

    def _retire(self, worker: _Worker) -> None:
        self._all.remove(worker)
        worker.writer.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(1)

    async def close(self, timeout: float = 5) -> None:
        """Close every worker's socket (it exits after its current body), then reap them."""
        self._closing = True
        for worker in self._all:
            worker.writer.close()
        loop = asyncio.get_running_loop()
        for worker in list(self._all):
            await loop.run_in_executor(None, worker.process.join, timeout)
            if worker.process.is_alive():
                log.warning("hashing process %s did not stop: killed", worker.process.pid)
                worker.process.kill()
                worker.process.join(1)
        for worker in list(self._all):
            with contextlib.suppress(Exception):
                await worker.writer.wait_closed()
        self._all.clear()

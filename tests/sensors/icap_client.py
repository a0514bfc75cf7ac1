"""A tiny blocking ICAP client for the tests: sends RESPMOD like Squid does, reads answers."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from hashsieve.sensors.icap.protocol import chunked


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    http_head: bytes = b""
    body: bytes | None = None
    continued: bool = False
    extra: dict[str, str] = field(default_factory=dict)


class IcapClient:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        # As proxies do: without it a small write waits for the ACK of the one before (Nagle).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def _until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            self._fill()
        out, _, self.buf = self.buf.partition(sep)
        return out

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _chunked(self) -> bytes:
        data = b""
        while True:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                self._until(b"\r\n")
                return data
            data += self._exactly(size)
            self._exactly(2)

    def read_answer(self) -> Answer:
        head = self._until(b"\r\n\r\n").decode()
        lines = head.split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        answer = Answer(status, headers)
        enc = headers.get("encapsulated")
        if status == 100 or not enc:
            return answer
        parts = [(p.split("=")[0].strip(), int(p.split("=")[1])) for p in enc.split(",")]
        kind, offset = parts[-1]
        answer.http_head = self._exactly(offset)
        if kind == "res-body":
            answer.body = self._chunked()
        return answer

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def options(self) -> Answer:
        self.send(
            f"OPTIONS icap://127.0.0.1:{self.port}/respmod ICAP/1.0\r\n"
            f"Host: 127.0.0.1:{self.port}\r\n\r\n".encode()
        )
        return self.read_answer()

    def respmod(
        self,
        body: bytes,
        *,
        ctype: str = "image/jpeg",
        preview: int | None = None,
        allow_204: bool = False,
        path: str = "/a.jpg",
        client_ip: str | None = "127.0.0.9",
    ) -> Answer:
        req = f"GET {path} HTTP/1.1\r\nHost: web.test\r\n\r\n".encode()
        res = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        head = [
            f"RESPMOD icap://127.0.0.1:{self.port}/respmod ICAP/1.0",
            f"Host: 127.0.0.1:{self.port}",
            f"Encapsulated: req-hdr=0, res-hdr={len(req)}, res-body={len(req) + len(res)}",
        ]
        if preview is not None:
            head.append(f"Preview: {preview}")
        if allow_204:
            head.append("Allow: 204")
        if client_ip:
            head.append(f"X-Client-IP: {client_ip}")
        self.send(("\r\n".join(head) + "\r\n\r\n").encode() + req + res)
        if preview is None:
            self.send(chunked(body))
            return self.read_answer()
        first = body[:preview]
        if len(body) <= preview:
            self.send(
                (b"%x\r\n%s\r\n" % (len(first), first) if first else b"") + b"0; ieof\r\n\r\n"
            )
            return self.read_answer()
        self.send((b"%x\r\n%s\r\n" % (len(first), first) if first else b"") + b"0\r\n\r\n")
        answer = self.read_answer()
        if answer.status != 100:
            return answer
        self.send(chunked(body[preview:]))
        final = self.read_answer()
        final.continued = True
        return final

"""A private Squid on loopback in front of an ICAP service (config from the testing notes)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SQUID = shutil.which("squid") or ("/usr/sbin/squid" if os.path.exists("/usr/sbin/squid") else None)

CONFIG = """\
http_port 127.0.0.1:{proxy_port}
http_access allow localhost
http_access deny all
icap_enable on
icap_preview_enable on
icap_preview_size 1024
icap_send_client_ip on
icap_service svc respmod_precache icap://127.0.0.1:{icap_port}/respmod bypass=0
adaptation_access svc allow all
cache deny all
pid_filename {work}/squid.pid
cache_log {work}/cache.log
access_log {work}/access.log
coredump_dir {work}
shutdown_lifetime 1 seconds
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Squid:
    def __init__(self, icap_port: int, extra: str = "") -> None:
        if SQUID is None:
            raise RuntimeError("squid is not installed")
        # Squid drops to user proxy: its folder must be reachable and writable by it (a pytest
        # tmp_path sits under a root-only folder).
        work = Path(tempfile.mkdtemp(prefix="hashsieve-squid-"))
        self.work = work
        if os.geteuid() == 0:
            work.chmod(0o755)
            shutil.chown(work, "proxy", "proxy")
        self.port = free_port()
        conf = work / "squid.conf"
        conf.write_text(CONFIG.format(proxy_port=self.port, icap_port=icap_port, work=work) + extra)
        self.proc = subprocess.Popen(
            [SQUID, "-N", "-f", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (work / "cache.log").read_text() if (work / "cache.log").exists() else ""
                    self.stop()
                    log += (
                        self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                    )
                    raise RuntimeError(f"squid did not start:\n{log[-2000:]}") from None
                time.sleep(0.1)

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.work, ignore_errors=True)

"""Kiln's real processes (`kiln web`: gunicorn; `kiln ssh`) in subprocesses, on the test database.

Git's client streams big request bodies chunked, which only a real server decodes, and hooks
call the server back: these tests need the production processes, not a test double.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(settings_dict: dict[str, Any]) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


class KilnProcess:
    """`kiln <command>` with the test data directory and database."""

    def __init__(
        self, command: str, data_dir: Path, db_url: str, *, web_port: int, ssh_port: int = 0
    ) -> None:
        self.command = command
        self.port = ssh_port if command == "ssh" else web_port
        self.url = f"http://127.0.0.1:{web_port}"
        self.log = data_dir / f"{command}-{self.port}.log"
        env = {
            **os.environ,
            # Production settings (not kiln.test_settings, which makes a new data directory).
            "DJANGO_SETTINGS_MODULE": "kiln.settings",
            "KILN_DATA_DIR": str(data_dir),
            "KILN_DATABASE_URL": db_url,
            "KILN_LISTEN": f"127.0.0.1:{web_port}",
            "KILN_SSH_LISTEN": f"127.0.0.1:{ssh_port}" if ssh_port else "",
            "KILN_WEB_WORKERS": "1",
            "KILN_WEB_THREADS": "16",
            "KILN_TESTING": "1",
            "KILN_DB_CONN_MAX_AGE": "0",
        }
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kiln.cli", command],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `kill()` takes every child
            )

    def _ready(self) -> bool:
        if self.command == "ssh":
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False
        try:
            return requests.get(f"{self.url}/-/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kiln {self.command} exited:\n{self.log.read_text()[-3000:]}")
            if self._ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"kiln {self.command} did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash or an OOM killer would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

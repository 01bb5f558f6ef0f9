"""`kiln ssh`: an asyncssh server speaking only git, on KILN_SSH_LISTEN.

Host keys are generated once into the data directory. Only public-key authentication is
offered; port forwarding, agent forwarding, X11, SFTP and SCP are refused (asyncssh's defaults
for a server that does not enable them). Every session goes through `dispatch.open_session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import asyncssh
from django.conf import settings
from django.db import close_old_connections

from kiln.gitssh.dispatch import Refused, open_session
from kiln.gitssh.keys import find_auth_key

log = logging.getLogger(__name__)
CHUNK = 64 * 1024


def host_keys(directory: Path) -> list[asyncssh.SSHKey]:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = []
    for algorithm, name in (("ssh-ed25519", "ed25519"), ("ssh-rsa", "rsa")):
        path = directory / f"ssh_host_{name}_key"
        if not path.exists():
            key = (
                asyncssh.generate_private_key(algorithm, key_size=3072)
                if name == "rsa"
                else (asyncssh.generate_private_key(algorithm))
            )
            tmp = path.with_suffix(".tmp")
            key.write_private_key(str(tmp))
            tmp.chmod(0o600)
            tmp.replace(path)
        keys.append(asyncssh.read_private_key(str(path)))
    return keys


def _lookup(fingerprint: str) -> int | None:
    close_old_connections()
    try:
        key = find_auth_key(fingerprint)
        return key.pk if key is not None else None
    finally:
        close_old_connections()


class _Server(asyncssh.SSHServer):
    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        key_id = await asyncio.to_thread(_lookup, key.get_fingerprint("sha256"))
        if key_id is None:
            return False
        self._conn.set_extra_info(kiln_key_id=key_id)
        return True


async def _write(writer: Any, chunk: bytes) -> None:
    writer.write(chunk)
    await writer.drain()


def _copy_out(stream: IO[bytes], writer: Any, loop: asyncio.AbstractEventLoop) -> None:
    try:
        while chunk := stream.read1(CHUNK):  # type: ignore[attr-defined]
            asyncio.run_coroutine_threadsafe(_write(writer, chunk), loop).result()
    finally:
        stream.close()


async def _copy_in(reader: Any, sink: IO[bytes]) -> None:
    try:
        while data := await reader.read(CHUNK):
            await asyncio.to_thread(sink.write, data)
            await asyncio.to_thread(sink.flush)
    except (BrokenPipeError, OSError, asyncssh.Error):
        pass
    finally:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(sink.close)


async def _run_git(process: asyncssh.SSHServerProcess[bytes], git: subprocess.Popen[bytes]) -> int:
    assert git.stdin is not None
    assert git.stdout is not None
    assert git.stderr is not None
    loop = asyncio.get_running_loop()
    feeding = asyncio.create_task(_copy_in(process.stdin, git.stdin))
    try:
        await asyncio.gather(
            asyncio.to_thread(_copy_out, git.stdout, process.stdout, loop),
            asyncio.to_thread(_copy_out, git.stderr, process.stderr, loop),
        )
        return await asyncio.to_thread(git.wait)
    finally:
        feeding.cancel()
        if git.poll() is None:
            git.kill()
            await asyncio.to_thread(git.wait)


async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
    key_id = process.get_extra_info("kiln_key_id")
    try:
        session = await asyncio.to_thread(
            open_session,
            key_id=int(key_id),
            command=process.command,
            git_protocol=(process.env or {}).get("GIT_PROTOCOL"),
        )
    except Refused as refused:
        process.stderr.write((refused.message + "\n").encode())
        process.exit(1)
        return
    except Exception:
        log.exception("ssh session failed")
        process.stderr.write(b"Kiln: internal error; try again later.\n")
        process.exit(1)
        return
    if session.greeting is not None:
        process.stdout.write((session.greeting + "\n").encode())
        process.exit(0)
        return
    assert session.process is not None
    try:
        code = await _run_git(process, session.process)
    except (BrokenPipeError, ConnectionError, asyncssh.Error):
        code = 1
    process.exit(code)


async def serve(listen: str) -> None:
    host, _, port = listen.rpartition(":")
    loop = asyncio.get_running_loop()
    # Each session holds two threads while it streams; the default pool (cpus + 4) is far
    # too small for concurrent clones.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=256, thread_name_prefix="ssh"))
    server = await asyncssh.create_server(
        _Server,
        host.strip("[]") or "127.0.0.1",
        int(port),
        server_host_keys=host_keys(settings.DATA_DIR / "ssh"),
        process_factory=handle,
        encoding=None,
        allow_scp=False,
        agent_forwarding=False,
        x11_forwarding=False,
        server_version="Kiln",
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("ssh server listening", extra={"listen": listen})
    await stop.wait()
    server.close()
    await server.wait_closed()


def run_ssh() -> int:
    listen = settings.SSH_LISTEN
    if not listen:
        log.info("ssh server disabled (KILN_SSH_LISTEN is empty)")
        return 0
    asyncio.run(serve(listen))
    return 0

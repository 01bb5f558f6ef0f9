"""The pre-receive and post-receive hooks, run by `git receive-pack` (stdlib only, fast start).

git runs this with the pushed ref updates on stdin (`<old> <new> <ref>` per line). It sends
them, with the quarantine directories git created for the pushed objects, to Kiln, prints the
messages it gets back (git shows them as `remote: ...`), and exits non-zero to reject the push.
A hook that failed to reach Kiln rejects the push rather than letting it through unchecked.

Kiln is reached one of two ways:
- ``KILN_HOOK_CHANNEL=<write fd>,<read fd>``: pipes the transport that started git holds open
  (the HTTP transport answers pre-receive in process and records the push itself once git has
  exited, so it installs no post-receive). One length-prefixed frame each way.
- ``KILN_HOOK_URL`` and ``KILN_HOOK_TOKEN``: Kiln's internal API over HTTP (the SSH transport).

The interpreter starts with `-I -S` and this module imports only `os` and `sys` at the top
(the HTTP client's modules when it needs them): a hook's start is part of every push's latency.
"""

from __future__ import annotations

import os
import sys

_QUARANTINE_VARS = (
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
)
_TIMEOUT = 300.0


def _post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    import json
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise OSError(f"unsupported internal URL {url!r}")
    data = json.dumps(body).encode()
    path = parts.path or "/"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=_TIMEOUT) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    status = int(status_line.split(" ")[1])
    if b"chunked" in head.lower():
        payload = _dechunk(payload)
    try:
        parsed = json.loads(payload or b"{}")
    except ValueError:
        parsed = {}
    return status, parsed if isinstance(parsed, dict) else {}


def _dechunk(payload: bytes) -> bytes:
    out = bytearray()
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        payload = rest[size + 2 :]
    return bytes(out)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _read_frame(fd: int) -> bytes:
    """One `<length>\n<payload>` frame; OSError if the other end closed first."""
    buffer = b""
    while b"\n" not in buffer:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise OSError("Kiln closed the hook channel")
        buffer += chunk
    size, _, payload = buffer.partition(b"\n")
    while len(payload) < int(size):
        chunk = os.read(fd, 65536)
        if not chunk:
            raise OSError("Kiln closed the hook channel")
        payload += chunk
    return payload


def _over_channel(hook: str, channel: str) -> int:
    """Ask the transport that started git: request `hook\nNAME=value...\n\n<stdin>`, answer
    `ok|refused\n<lines for stderr>`."""
    try:
        write_fd, read_fd = (int(fd) for fd in channel.split(","))
        env = "".join(f"{name}={os.environ[name]}\n" for name in _QUARANTINE_VARS
                      if name in os.environ)  # fmt: skip
        request = f"{hook}\n{env}\n".encode() + sys.stdin.buffer.read()
        _write_all(write_fd, b"%d\n" % len(request) + request)
        answer = _read_frame(read_fd).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        print(f"Kiln: could not check this push ({exc}); try again.", file=sys.stderr)
        return 1
    status, _, text = answer.partition("\n")
    if text:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
    return 0 if status == "ok" else 1


def main(hook: str) -> int:
    channel = os.environ.get("KILN_HOOK_CHANNEL", "")
    if channel:
        return _over_channel(hook, channel)
    url = os.environ.get("KILN_HOOK_URL", "")
    token = os.environ.get("KILN_HOOK_TOKEN", "")
    if not url or not token:
        print("Kiln: this repository accepts pushes only through Kiln.", file=sys.stderr)
        return 1
    changes = []
    for line in sys.stdin.read().splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            changes.append({"old": parts[0], "new": parts[1], "ref": parts[2]})
    env = {name: os.environ[name] for name in _QUARANTINE_VARS if name in os.environ}
    try:
        status, answer = _post(
            f"{url.rstrip('/')}/{hook.replace('-', '_')}",
            {"token": token, "changes": changes, "env": env},
        )
    except (OSError, ValueError, IndexError) as exc:
        print(f"Kiln: could not check this push ({exc}); try again.", file=sys.stderr)
        return 1
    messages = answer.get("messages")
    for message in messages if isinstance(messages, list) else []:
        print(str(message), file=sys.stderr)
    if status != 200 or not answer.get("status"):
        message = answer.get("message") or "The push was refused."
        print(f"GitLab: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(os.path.basename(sys.argv[0])))

"""The pre-receive and post-receive hooks, run by `git receive-pack` (stdlib only, fast start).

git runs this with the pushed ref updates on stdin (`<old> <new> <ref>` per line). It sends
them, with the push's token and the quarantine directories git created for the pushed objects,
to Kiln's internal API, prints the messages it gets back (git shows them as `remote: ...`),
and exits non-zero to reject the push. It imports nothing of Kiln beyond this module: the
interpreter starts with `-I -S`, and a hook that failed to reach the server rejects the push
rather than letting it through unchecked.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from urllib.parse import urlsplit

_QUARANTINE_VARS = (
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
)
_TIMEOUT = 300.0


def _post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
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


def main(hook: str) -> int:
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

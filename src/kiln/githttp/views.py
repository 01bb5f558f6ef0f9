"""Smart HTTP: authenticate, ask `git_access`, then stream bytes between client and git.

What must hold:
1. The repository is named by the project's full path only; the path never reaches git or
   the filesystem (gitstore resolves the project's hashed storage path).
2. Bodies stream both ways in constant memory: the request body (gzip or chunked) is fed to
   git by a thread while the response streams git's output; a client that goes away ends
   the git process.
3. A request git itself rejects before answering (malformed pkt-lines) gets a 400 with
   git's reason, not a 200 with a broken body.
4. Pushes run git's pre-receive hook, which asks this request over its hook channel
   (kiln.githttp.hookchannel) for this actor and project; the push is quarantined until then.
   The push is recorded after git exits, before the response ends.
"""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import threading
import zlib
from collections.abc import Iterator
from typing import IO, Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from kiln.core.actor import Actor
from kiln.core.errors import KilnError, Unauthorized
from kiln.githttp.auth import actor_for_git
from kiln.githttp.hookchannel import HookChannel
from kiln.gitstore import InvalidArgument, validate_git_protocol
from kiln.gitstore.types import GitService
from kiln.projects.models import Project
from kiln.projects.queries import find_project
from kiln.repositories.access import Action, GitAccessDenied, check_access
from kiln.repositories.hooks import channel_hooks_dir
from kiln.repositories.services import ensure_repository
from kiln.repositories.storage import store

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
_SERVICES = {
    "git-upload-pack": (GitService.UPLOAD_PACK, Action.DOWNLOAD),
    "git-receive-pack": (GitService.RECEIVE_PACK, Action.PUSH),
}


def _text(status: int, message: str, **headers: str) -> HttpResponse:
    response = HttpResponse(message.rstrip("\n") + "\n", status=status, content_type="text/plain")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _denied(exc: KilnError) -> HttpResponse:
    if isinstance(exc, Unauthorized):
        return _text(401, exc.message, WWW_Authenticate='Basic realm="GitLab"')
    if isinstance(exc, GitAccessDenied):
        return _text(exc.http_status, exc.message)
    return _text(exc.status, exc.message)


def _authorize(request: HttpRequest, repo: str, action: Action) -> tuple[Actor, Project]:
    actor = actor_for_git(request)
    project = find_project(repo.removesuffix(".git")) if repo else None
    return actor, check_access(actor, project, action)


def _git_protocol(request: HttpRequest) -> str | None:
    value = request.headers.get("Git-Protocol")
    if not value:
        return None
    try:
        return validate_git_protocol(value)
    except InvalidArgument:
        return None  # unknown versions fall back to v0, as git http-backend does


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def _start(
    project: Project,
    service: GitService,
    *,
    advertise: bool,
    git_protocol: str | None,
    channel: HookChannel | None = None,
) -> subprocess.Popen[bytes]:
    path = ensure_repository(project)
    try:
        proc = store().start_service(  # type: ignore[attr-defined]
            relative_path=path,
            service=service,
            stateless_rpc=True,
            advertise_refs=advertise,
            git_protocol=git_protocol,
            extra_env=None if channel is None else channel.env,
            hooks_dir=None if channel is None else channel_hooks_dir(),
            hook_fds=() if channel is None else channel.fds,
            stderr=subprocess.PIPE,
        )
    except BaseException:
        if channel is not None:
            channel.close()
        raise
    if channel is not None:
        channel.start()
    return cast(subprocess.Popen[bytes], proc)


def _no_cache(response: HttpResponse | StreamingHttpResponse) -> None:
    response["Cache-Control"] = "no-cache, max-age=0, must-revalidate"
    response["Expires"] = "Fri, 01 Jan 1980 00:00:00 GMT"
    response["Pragma"] = "no-cache"


@csrf_exempt
def info_refs(request: HttpRequest, repo: str) -> HttpResponse | StreamingHttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _text(405, "Method Not Allowed")
    name = request.GET.get("service", "")
    if name not in _SERVICES:
        # The dumb protocol would serve repository files directly; Kiln never does.
        return _text(403, "Only the smart HTTP protocol is supported.")
    service, action = _SERVICES[name]
    try:
        _, project = _authorize(request, repo, action)
    except KilnError as exc:
        return _denied(exc)
    git_protocol = _git_protocol(request)
    output = store().capability_advertisement(  # type: ignore[attr-defined]
        relative_path=ensure_repository(project), service=service, git_protocol=git_protocol
    )
    if output is None:
        proc = _start(project, service, advertise=True, git_protocol=git_protocol)
        output, errors = proc.communicate()
        if proc.returncode != 0:
            log.error("advertise failed", extra={"project_id": project.pk, "stderr": errors[-500:]})
            return _text(500, "The repository could not be read.")
    head = b""
    if git_protocol != "version=2":
        head = _pkt_line(f"# service={name}\n") + b"0000"
    response = HttpResponse(head + output, content_type=f"application/x-{name}-advertisement")
    _no_cache(response)
    return response


def _request_stream(request: HttpRequest) -> IO[bytes] | Any:
    """The raw body stream: WSGI input for chunked bodies (Django would read none of it)."""
    if "CONTENT_LENGTH" not in request.META or request.META.get("CONTENT_LENGTH") in ("", None):
        return request.META["wsgi.input"]
    return request


def _body_chunks(source: Any, gzipped: bool) -> Iterator[bytes]:
    """The request body in chunks; gzip is inflated CHUNK bytes at a time (no bomb in memory)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    while raw := source.read(CHUNK):
        if inflater is None:
            yield raw
            continue
        yield inflater.decompress(raw, CHUNK)
        while inflater.unconsumed_tail:
            yield inflater.decompress(inflater.unconsumed_tail, CHUNK)
    if inflater is not None:
        yield inflater.flush()


def _feed(source: Any, sink: IO[bytes], gzipped: bool, limit: int, failed: list[str]) -> None:
    """Copy the request body into git's stdin, at most `limit` bytes (after inflating)."""
    total = 0
    try:
        for chunk in _body_chunks(source, gzipped):
            total += len(chunk)
            if total > limit:
                failed.append("too_large")
                return
            sink.write(chunk)
    except (OSError, zlib.error, ValueError) as exc:
        failed.append(type(exc).__name__)
    finally:
        with contextlib.suppress(OSError):
            sink.close()


def _drain(stream: IO[bytes], tail: bytearray) -> None:
    """Read git's stderr so it can never block on a full pipe; keep the last 4 KiB."""
    while chunk := stream.read(CHUNK):
        tail.extend(chunk)
        del tail[:-4096]
    stream.close()


def _read1(proc: subprocess.Popen[bytes]) -> bytes:
    """Whatever git has written so far (up to CHUNK), without waiting for a full chunk."""
    return cast(io.BufferedReader, proc.stdout).read1(CHUNK)


def _stream(
    proc: subprocess.Popen[bytes],
    first: bytes,
    threads: list[threading.Thread],
    channel: HookChannel | None,
) -> Iterator[bytes]:
    assert proc.stdout is not None
    try:
        yield first
        while chunk := _read1(proc):
            yield chunk
    finally:
        # Runs when the body is done and when the client went away (the server closes us).
        _end(proc, threads, channel)


def _end(
    proc: subprocess.Popen[bytes],
    threads: list[threading.Thread],
    channel: HookChannel | None,
    *,
    kill: bool = True,
) -> None:
    """Reap git (stopping it first if `kill`), then record the push (before the response ends,
    so that `git push` returns once Kiln's database follows the refs, as after post-receive)."""
    assert proc.stdout is not None
    if kill and proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdout.close()
    for thread in threads:
        thread.join(timeout=5)
    if channel is not None:
        channel.finish()


def _rpc(request: HttpRequest, repo: str, name: str) -> HttpResponse | StreamingHttpResponse:
    if request.method != "POST":
        return _text(405, "Method Not Allowed")
    service, action = _SERVICES[name]
    if request.content_type != f"application/x-{name}-request":
        return _text(415, f"Expected content type application/x-{name}-request.")
    try:
        actor, project = _authorize(request, repo, action)
    except KilnError as exc:
        return _denied(exc)
    encoding = request.headers.get("Content-Encoding", "").lower()
    if encoding not in ("", "gzip", "x-gzip"):
        return _text(415, f"Unsupported Content-Encoding {encoding}.")
    channel = HookChannel(actor, project) if service is GitService.RECEIVE_PACK else None
    proc = _start(
        project, service, advertise=False, git_protocol=_git_protocol(request), channel=channel
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    failed: list[str] = []
    errors = bytearray()
    threads = [
        threading.Thread(
            target=_feed,
            args=(_request_stream(request), proc.stdin, bool(encoding), _max_body(service), failed),
            daemon=True,
        ),
        threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True),
    ]
    for thread in threads:
        thread.start()
    first = _read1(proc)
    if not first:
        _end(proc, threads, channel, kill=False)
        if failed and failed[0] == "too_large":
            return _text(413, "The request is larger than this instance allows.")
        if proc.returncode != 0:
            lines = errors.decode("utf-8", "replace").strip().splitlines()
            message = lines[-1] if lines else "git refused the request"
            return _text(400, message.removeprefix("fatal: "))
        # Git's probe before a big chunked push (a lone flush packet) has an empty answer.
        empty = HttpResponse(b"", content_type=f"application/x-{name}-result")
        _no_cache(empty)
        return empty
    response = StreamingHttpResponse(
        _stream(proc, first, threads, channel), content_type=f"application/x-{name}-result"
    )
    _no_cache(response)
    return response


def _max_body(service: GitService) -> int:
    if service is GitService.RECEIVE_PACK:
        from kiln.repositories.limits import max_push_bytes

        return max_push_bytes()
    return int(getattr(settings, "KILN_MAX_UPLOAD_PACK_REQUEST", 1 << 30))


@csrf_exempt
def upload_pack(request: HttpRequest, repo: str) -> HttpResponse | StreamingHttpResponse:
    return _rpc(request, repo, "git-upload-pack")


@csrf_exempt
def receive_pack(request: HttpRequest, repo: str) -> HttpResponse | StreamingHttpResponse:
    return _rpc(request, repo, "git-receive-pack")

"""A stand-in coordinator: the runner endpoints of GitLab's API, over real HTTP in a thread.

It answers as GitLab's `lib/api/ci/runner.rb` does (statuses, headers, bodies) for the calls
the runner makes, and records every request so tests can assert on the wire protocol. Faults
are injected with hooks. It stands in only until the real Kiln server implements the
protocol (tests/runner/test_against_kiln.py runs the runner against that).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAILURE_REASONS = [
    "unknown_failure",
    "script_failure",
    "api_failure",
    "stuck_or_timeout_failure",
    "runner_system_failure",
    "missing_dependency_failure",
    "runner_unsupported",
    "stale_schedule",
    "job_execution_timeout",
    "archived_failure",
    "unmet_prerequisites",
    "scheduler_failure",
    "data_integrity_failure",
    "trace_size_exceeded",
]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass
class JobRecord:
    payload: dict[str, Any]
    status: str = "pending"
    trace: bytearray = field(default_factory=bytearray)
    updates: list[dict[str, Any]] = field(default_factory=list)
    update_statuses: list[int] = field(default_factory=list)
    patches: list[tuple[str, int]] = field(default_factory=list)  # (Content-Range, status)
    artifacts: dict[str, tuple[str, bytes, dict[str, list[str]]]] = field(default_factory=dict)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def text(self) -> str:
        return self.trace.decode("utf-8", "replace")

    @property
    def final(self) -> dict[str, Any]:
        return self.updates[-1] if self.updates else {}


def crc(data: bytes) -> str:
    return f"crc32:{zlib.crc32(data):08x}"


class FakeCoordinator:
    runner_token = "glrt-fake-runner-token-0001"
    registration_token = "fake-registration-token"

    def __init__(self) -> None:
        self.queue: list[JobRecord] = []
        self.jobs: dict[int, JobRecord] = {}
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1000)
        self.last_update = "lu-1"
        self.removed = False
        # Fault injection: each may return (status, headers, body) to answer instead.
        self.patch_hook: (
            Callable[[JobRecord, int, bytes], tuple[int, dict[str, str]] | None] | None
        ) = None
        self.update_hook: Callable[[JobRecord, dict[str, Any]], int | None] | None = None
        self.archives: dict[int, bytes] = {}  # job id -> what GET /jobs/:id/artifacts serves
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeCoordinator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- jobs -------------------------------------------------------------------------------

    def new_job_id(self) -> int:
        return next(self._ids)

    def add_job(self, payload: dict[str, Any]) -> JobRecord:
        record = JobRecord(payload)
        with self.lock:
            self.queue.append(record)
            self.jobs[record.id] = record
        return record

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        regex = re.compile(pattern)
        with self.lock:
            return [r for r in self.requests if r.method == method and regex.search(r.path)]

    # -- HTTP -------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        coordinator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _answer(
                self,
                status: int,
                body: bytes | dict[str, Any] | str = b"",
                headers: dict[str, str] | None = None,
                content_type: str = "application/json",
            ) -> None:
                if isinstance(body, dict):
                    data = json.dumps(body).encode()
                elif isinstance(body, str):
                    data = body.encode()
                else:
                    data = body
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                if data:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)
                self._recorded.status = status

            def _dispatch(self) -> None:
                parts = urlsplit(self.path)
                body = self._body()
                self._recorded = Recorded(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers), body
                )
                with coordinator.lock:
                    coordinator.requests.append(self._recorded)
                route = f"{self.command} {parts.path}"
                match = re.fullmatch(r"(\w+) /api/v4/jobs/(\d+)(/trace|/artifacts)?", route)
                if route == "POST /api/v4/runners/verify":
                    return self.verify(body)
                if route == "POST /api/v4/runners":
                    return self.register(body)
                if route == "DELETE /api/v4/runners":
                    return self.unregister(body)
                if route == "POST /api/v4/jobs/request":
                    return self.request_job(body)
                if match:
                    job = coordinator.jobs.get(int(match.group(2)))
                    action = (match.group(1), match.group(3) or "")
                    if action == ("PATCH", "/trace"):
                        return self.patch_trace(job, body)
                    if action == ("PUT", ""):
                        return self.update_job(job, body)
                    if action == ("POST", "/artifacts"):
                        return self.upload(job, body, parse_qs(parts.query))
                    if action == ("GET", "/artifacts"):
                        return self.download(int(match.group(2)))
                return self._answer(404, {"message": "404 Not Found"})

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

            # runners

            def _runner_ok(self, body: bytes) -> bool:
                try:
                    token = json.loads(body or b"{}").get("token")
                except ValueError:
                    return False
                return token == coordinator.runner_token and not coordinator.removed

            def verify(self, body: bytes) -> None:
                if not self._runner_ok(body):
                    return self._answer(403, {"message": "403 Forbidden"})
                return self._answer(
                    200, {"id": 7, "token": coordinator.runner_token, "token_expires_at": None}
                )

            def register(self, body: bytes) -> None:
                data = json.loads(body or b"{}")
                if data.get("token") != coordinator.registration_token:
                    return self._answer(403, {"message": "403 Forbidden"})
                return self._answer(
                    201, {"id": 8, "token": coordinator.runner_token, "token_expires_at": None}
                )

            def unregister(self, body: bytes) -> None:
                if not self._runner_ok(body):
                    return self._answer(403, {"message": "403 Forbidden"})
                coordinator.removed = True
                return self._answer(204)

            def request_job(self, body: bytes) -> None:
                if not self._runner_ok(body):
                    return self._answer(403, {"message": "403 Forbidden"})
                with coordinator.lock:
                    record = coordinator.queue.pop(0) if coordinator.queue else None
                    if record is not None:
                        record.status = "running"
                if record is None:
                    return self._answer(
                        204, headers={"X-GitLab-Last-Update": coordinator.last_update}
                    )
                return self._answer(201, record.payload)

            # jobs

            def _job_ok(self, job: JobRecord | None, token: str | None) -> bool:
                return job is not None and token == job.token and job.status == "running"

            def patch_trace(self, job: JobRecord | None, body: bytes) -> None:
                if not self._job_ok(job, self.headers.get("JOB-TOKEN")):
                    return self._answer(403, {"message": "403 Forbidden"})
                assert job is not None
                content_range = self.headers.get("Content-Range")
                if not content_range:
                    return self._answer(400, {"message": "400 Missing header Content-Range"})
                start = int(content_range.split("-")[0])
                if coordinator.patch_hook:
                    override = coordinator.patch_hook(job, start, body)
                    if override is not None:
                        job.patches.append((content_range, override[0]))
                        return self._answer(override[0], b"", override[1])
                # GitLab's AppendBuildTraceService: past the end is a mismatch; an earlier
                # offset truncates there and writes (the trace_reset feature).
                if start > len(job.trace):
                    job.patches.append((content_range, 416))
                    return self._answer(
                        416,
                        {"message": "416 Range Not Satisfiable"},
                        {"Range": f"0-{len(job.trace)}"},
                    )
                del job.trace[start:]
                job.trace += body
                job.patches.append((content_range, 202))
                return self._answer(
                    202,
                    b"",
                    {
                        "Job-Status": job.status,
                        "Range": f"0-{len(job.trace)}",
                        "X-GitLab-Trace-Update-Interval": "0",
                    },
                )

            def update_job(self, job: JobRecord | None, body: bytes) -> None:
                data = json.loads(body or b"{}")
                if not self._job_ok(job, data.get("token")):
                    return self._answer(403, {"message": "403 Forbidden"})
                assert job is not None
                job.updates.append(data)
                state = data.get("state")
                status = None
                if coordinator.update_hook:
                    status = coordinator.update_hook(job, data)
                if status is None and state in ("success", "failed"):
                    output = data.get("output") or {}
                    matches = output.get("checksum") == crc(bytes(job.trace)) and output.get(
                        "bytesize"
                    ) == len(job.trace)
                    status = 200 if matches else 412
                status = status or 200
                job.update_statuses.append(status)
                if status == 200 and state in ("success", "failed"):
                    job.status = state
                    job.finished.set()
                return self._answer(
                    status, str(status), {"Job-Status": job.status}, content_type="text/plain"
                )

            def upload(
                self, job: JobRecord | None, body: bytes, query: dict[str, list[str]]
            ) -> None:
                if not self._job_ok(job, self.headers.get("JOB-TOKEN")):
                    return self._answer(403, {"message": "403 Forbidden"})
                assert job is not None
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body
                )
                for part in message.iter_parts():
                    if part.get_param("name", header="content-disposition") == "file":
                        kind = query.get("artifact_type", ["archive"])[0]
                        job.artifacts[kind] = (
                            part.get_filename() or "",
                            part.get_payload(decode=True),
                            query,
                        )
                        if kind == "archive":
                            coordinator.archives[job.id] = part.get_payload(decode=True)
                        return self._answer(201, "201", content_type="text/plain")
                return self._answer(400, {"error": "file is missing"})

            def download(self, job_id: int) -> None:
                token = self.headers.get("JOB-TOKEN")
                running = [j for j in coordinator.jobs.values() if j.status == "running"]
                if not any(j.token == token for j in running):
                    return self._answer(401, {"message": "401 Unauthorized"})
                archive = coordinator.archives.get(job_id)
                if archive is None:
                    return self._answer(404, {"message": "404 Not Found"})
                return self._answer(200, archive, content_type="application/zip")

        return Handler


def job_payload(
    job_id: int,
    *,
    repo_url: str,
    sha: str,
    script: list[str],
    after_script: list[str] | None = None,
    variables: list[dict[str, Any]] | None = None,
    timeout: int = 3600,
    artifacts: list[dict[str, Any]] | None = None,
    cache: list[dict[str, Any]] | None = None,
    dependencies: list[dict[str, Any]] | None = None,
    image: dict[str, Any] | None = None,
    ref: str = "main",
    project_id: int = 1,
) -> dict[str, Any]:
    """A job as GitLab's `Entities::Ci::JobRequest::Response` presents it."""
    token = f"glcbt-job-token-{job_id}"
    base_variables = [
        {"key": "CI_JOB_ID", "value": str(job_id), "public": True, "masked": False},
        {"key": "CI_JOB_TOKEN", "value": token, "public": False, "masked": True},
        {"key": "CI_COMMIT_SHA", "value": sha, "public": True, "masked": False},
        {"key": "CI_COMMIT_REF_NAME", "value": ref, "public": True, "masked": False},
        {"key": "CI_REPOSITORY_URL", "value": repo_url, "public": False, "masked": False},
    ]
    steps = [
        {
            "name": "script",
            "script": script,
            "timeout": timeout,
            "when": "on_success",
            "allow_failure": False,
        }
    ]
    if after_script:
        steps.append(
            {
                "name": "after_script",
                "script": after_script,
                "timeout": 300,
                "when": "always",
                "allow_failure": True,
            }
        )
    return {
        "id": job_id,
        "token": token,
        "allow_git_fetch": True,
        "job_info": {
            "id": job_id,
            "name": f"job-{job_id}",
            "stage": "test",
            "project_id": project_id,
            "project_name": "demo",
        },
        "git_info": {
            "repo_url": repo_url,
            "ref": ref,
            "sha": sha,
            "before_sha": "0" * 40,
            "ref_type": "branch",
            "refspecs": [f"+refs/heads/{ref}:refs/remotes/origin/{ref}"],
            "depth": 20,
        },
        "runner_info": {"timeout": timeout, "runner_session_url": None},
        "variables": base_variables + (variables or []),
        "steps": steps,
        "image": image,
        "services": [],
        "artifacts": artifacts or [],
        "cache": cache or [],
        "credentials": [],
        "dependencies": dependencies or [],
        "features": {
            "trace_sections": True,
            "token_mask_prefixes": ["glpat-"],
            "failure_reasons": FAILURE_REASONS,
        },
    }

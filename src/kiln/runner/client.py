"""GitLab's runner protocol, client side, over HTTP with `requests`.

Each call maps the coordinator's answer to the states gitlab-runner's `network.GitLabClient`
distinguishes (`UpdateSucceeded`, `UpdateAcceptedButNotCompleted`, `PatchRangeMismatch`...), so
the loop that drives a job behaves as gitlab-runner does against GitLab:

- `POST /runners/verify` (a `glrt-` token from `POST /user/runners`) and the legacy
  `POST /runners` with a registration token; `DELETE /runners`.
- `POST /jobs/request`: 201 with a job, 204 with none; `X-GitLab-Last-Update` from each answer
  is sent back as `last_update`, so a long-polling server can answer at once when nothing
  changed.
- `PATCH /jobs/:id/trace` with `Content-Range: start-end` (end inclusive); 202 moves the
  offset to the end of the server's `Range`, 416 resumes from it.
- `PUT /jobs/:id` with state, failure_reason, exit_code and the trace's `checksum`/`bytesize`;
  200 done, 202 "accepted, not yet completed" and 412 "trace validation failed" are retried.
- `POST /jobs/:id/artifacts` (multipart, streamed from disk with a known length) and
  `GET /jobs/:id/artifacts`, both with `JOB-TOKEN`.
"""

from __future__ import annotations

import enum
import json
import logging
import platform
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import requests

from kiln.runner import NAME, VERSION

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
# A long-polling coordinator holds `jobs/request` (GitLab's workhorse: up to 50 s).
REQUEST_JOB_READ_TIMEOUT = 90.0


class CoordinatorError(Exception):
    """The coordinator could not be reached or answered something unusable."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class RunnerForbidden(CoordinatorError):
    """403: the runner token is invalid or the runner was deleted."""


class RegistrationRefused(CoordinatorError):
    """403 on `POST /runners`: the registration token is wrong."""


class PatchState(enum.Enum):
    SUCCEEDED = "succeeded"
    NOT_FOUND = "not_found"
    ABORT = "abort"
    RANGE_MISMATCH = "range_mismatch"
    FAILED = "failed"


class UpdateState(enum.Enum):
    SUCCEEDED = "succeeded"
    ACCEPTED = "accepted"  # 202: the server is still processing the trace; try again
    TRACE_VALIDATION_FAILED = "trace_validation_failed"  # 412: send the whole trace again
    NOT_FOUND = "not_found"
    ABORT = "abort"
    FAILED = "failed"


class UploadState(enum.Enum):
    SUCCEEDED = "succeeded"
    TOO_LARGE = "too_large"
    FORBIDDEN = "forbidden"
    FAILED = "failed"
    SERVICE_UNAVAILABLE = "service_unavailable"


class DownloadState(enum.Enum):
    SUCCEEDED = "succeeded"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    TOO_LARGE = "too_large"
    FAILED = "failed"


@dataclass(frozen=True)
class RunnerCredentials:
    id: int
    token: str
    token_expires_at: str = ""


@dataclass(frozen=True)
class PatchResult:
    state: PatchState
    sent_offset: int  # where the next patch starts
    update_interval: float = 0.0  # X-GitLab-Trace-Update-Interval, 0 when absent
    cancel_requested: bool = False


@dataclass(frozen=True)
class UpdateResult:
    state: UpdateState
    update_interval: float = 0.0
    cancel_requested: bool = False


@dataclass(frozen=True)
class UploadResult:
    state: UploadState
    message: str = ""


def architecture() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


def runner_info(*, executor: str, features: dict[str, bool], shell: str = "bash") -> dict[str, Any]:
    """The `info` object gitlab-runner sends with every request (`common.VersionInfo`)."""
    return {
        "name": NAME,
        "version": VERSION,
        "revision": "kiln",
        "platform": platform.system().lower() or "linux",
        "architecture": architecture(),
        "executor": executor,
        "shell": shell,
        "features": features,
        "config": {"gpus": ""},
    }


def _interval(response: requests.Response) -> float:
    raw = response.headers.get("X-GitLab-Trace-Update-Interval", "")
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return 0.0


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or ""
        return message if isinstance(message, str) else json.dumps(message)[:200]
    return str(body)[:200]


class _MultipartFile:
    """A multipart/form-data body with one file part, read from disk as it is sent.

    `requests` sends a body with `__len__` and `read` with a Content-Length (no chunked
    encoding, which not every server streams) and without loading it into memory.
    """

    def __init__(self, path: Path, *, field: str, filename: str) -> None:
        self.boundary = secrets.token_hex(16)
        safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "")
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{safe_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._size = path.stat().st_size
        self._file: IO[bytes] = path.open("rb")
        self._stage = 0
        self._length = len(self._head) + self._size + len(self._tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(65536):
            yield chunk

    def read(self, size: int = -1) -> bytes:
        size = 65536 if size is None or size < 0 else size
        if self._stage == 0:
            self._stage = 1
            return self._head
        if self._stage == 1:
            chunk = self._file.read(size)
            if chunk:
                return chunk
            self._stage = 2
        if self._stage == 2:
            self._stage = 3
            return self._tail
        return b""

    def close(self) -> None:
        self._file.close()


class Coordinator:
    """One coordinator (a Kiln or GitLab server), by its base URL."""

    def __init__(self, url: str, *, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.api = f"{self.url}/api/v4/"
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"{NAME} {VERSION} ({platform.system().lower()})"
        # X-GitLab-Last-Update of the last job request, per runner token.
        self._last_update: dict[str, str] = {}

    # -- plumbing ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        read_timeout: float = READ_TIMEOUT,
        stream: bool = False,
    ) -> requests.Response:
        try:
            return self.session.request(
                method,
                self.api + path,
                json=json_body,
                data=data,
                headers=headers,
                timeout=(CONNECT_TIMEOUT, read_timeout),
                allow_redirects=False,
                stream=stream,
            )
        except requests.RequestException as exc:
            raise CoordinatorError(f"{method} {path}: {exc}") from exc

    # -- runners ----------------------------------------------------------------------------

    def register(
        self,
        registration_token: str,
        *,
        info: dict[str, Any],
        description: str = "",
        tag_list: list[str] | None = None,
        run_untagged: bool = True,
        locked: bool = False,
        access_level: str = "",
        maximum_timeout: int = 0,
        paused: bool = False,
        maintenance_note: str = "",
    ) -> RunnerCredentials:
        """The legacy flow: `POST /runners` with a registration token (201)."""
        body: dict[str, Any] = {
            "token": registration_token,
            "info": info,
            "run_untagged": run_untagged,
            "locked": locked,
            "paused": paused,
        }
        if description:
            body["description"] = description
        if maintenance_note:
            body["maintenance_note"] = maintenance_note
        if tag_list:
            body["tag_list"] = ",".join(tag_list)
        if access_level:
            body["access_level"] = access_level
        if maximum_timeout:
            body["maximum_timeout"] = maximum_timeout
        response = self._call("POST", "runners", json_body=body)
        if response.status_code == 403:
            raise RegistrationRefused("forbidden (check the registration token)", 403)
        if response.status_code != 201:
            raise CoordinatorError(
                f"registering failed: {response.status_code} {_message(response)}",
                response.status_code,
            )
        data = response.json()
        return RunnerCredentials(
            id=int(data.get("id") or 0),
            token=str(data.get("token") or ""),
            token_expires_at=str(data.get("token_expires_at") or ""),
        )

    def verify(self, token: str, *, system_id: str = "") -> RunnerCredentials:
        """`POST /runners/verify`: 200 (JSON, or GitLab's older plain `200`), 403 if removed."""
        body: dict[str, Any] = {"token": token}
        if system_id:
            body["system_id"] = system_id
        response = self._call("POST", "runners/verify", json_body=body)
        if response.status_code == 403:
            raise RunnerForbidden("the runner token is invalid or the runner was removed", 403)
        if response.status_code != 200:
            raise CoordinatorError(
                f"verifying failed: {response.status_code} {_message(response)}",
                response.status_code,
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return RunnerCredentials(id=0, token=token)
        return RunnerCredentials(
            id=int(data.get("id") or 0),
            token=str(data.get("token") or token),
            token_expires_at=str(data.get("token_expires_at") or ""),
        )

    def unregister(self, token: str) -> bool:
        response = self._call("DELETE", "runners", json_body={"token": token})
        if response.status_code == 403:
            raise RunnerForbidden("the runner token is invalid or the runner was removed", 403)
        return response.status_code == 204

    # -- jobs -------------------------------------------------------------------------------

    def request_job(
        self, token: str, *, system_id: str, info: dict[str, Any]
    ) -> dict[str, Any] | None:
        """One `POST /jobs/request`. The job's JSON on 201; None on 204 (and on 409, a lost race).

        Raises RunnerForbidden on 403 and CoordinatorError on anything else unexpected, so the
        caller can back off.
        """
        body: dict[str, Any] = {"token": token, "info": info, "system_id": system_id}
        last_update = self._last_update.get(token)
        if last_update:
            body["last_update"] = last_update
        response = self._call(
            "POST", "jobs/request", json_body=body, read_timeout=REQUEST_JOB_READ_TIMEOUT
        )
        header = response.headers.get("X-GitLab-Last-Update")
        if header:
            self._last_update[token] = header
        if response.status_code == 201:
            try:
                payload = response.json()
            except ValueError as exc:
                raise CoordinatorError("the job payload is not JSON", 201) from exc
            if not isinstance(payload, dict):
                raise CoordinatorError("the job payload is not an object", 201)
            return payload
        if response.status_code in (204, 409):
            return None
        if response.status_code == 403:
            raise RunnerForbidden("forbidden: the runner token is invalid", 403)
        raise CoordinatorError(
            f"requesting a job failed: {response.status_code} {_message(response)}",
            response.status_code,
        )

    def patch_trace(
        self, job_id: int, job_token: str, content: bytes, offset: int, *, debug_trace: bool = False
    ) -> PatchResult:
        if not content:
            return PatchResult(PatchState.SUCCEEDED, offset)
        end = offset + len(content)
        headers = {
            "Content-Range": f"{offset}-{end - 1}",
            "JOB-TOKEN": job_token,
            "Content-Type": "text/plain",
        }
        query = "true" if debug_trace else "false"
        try:
            response = self._call(
                "PATCH", f"jobs/{job_id}/trace?debug_trace={query}", data=content, headers=headers
            )
        except CoordinatorError as exc:
            log.warning("job %s: appending the trace failed: %s", job_id, exc)
            return PatchResult(PatchState.FAILED, offset)
        remote_state = response.headers.get("Job-Status", "")
        interval = _interval(response)
        cancel = remote_state == "canceling"
        if remote_state in ("canceled", "failed") or response.status_code == 403:
            return PatchResult(PatchState.ABORT, offset, interval, cancel)
        if response.status_code == 202:
            return PatchResult(PatchState.SUCCEEDED, end, interval, cancel)
        if response.status_code == 404:
            return PatchResult(PatchState.NOT_FOUND, offset, interval, cancel)
        if response.status_code == 416:
            remote = response.headers.get("Range", "")
            try:
                new_offset = int(remote.split("-", 1)[1])
            except (IndexError, ValueError):
                new_offset = 0
            return PatchResult(PatchState.RANGE_MISMATCH, new_offset, interval, cancel)
        return PatchResult(PatchState.FAILED, offset, interval, cancel)

    def update_job(
        self,
        job_id: int,
        job_token: str,
        *,
        state: str,
        info: dict[str, Any],
        failure_reason: str = "",
        exit_code: int | None = None,
        checksum: str = "",
        bytesize: int = 0,
    ) -> UpdateResult:
        body: dict[str, Any] = {"token": job_token, "state": state, "info": info}
        if failure_reason:
            body["failure_reason"] = failure_reason
        if exit_code is not None:
            body["exit_code"] = exit_code
        if checksum:
            body["checksum"] = checksum  # deprecated by GitLab, still sent by gitlab-runner
            body["output"] = {"checksum": checksum, "bytesize": bytesize}
        try:
            response = self._call("PUT", f"jobs/{job_id}", json_body=body)
        except CoordinatorError as exc:
            log.warning("job %s: updating the job failed: %s", job_id, exc)
            return UpdateResult(UpdateState.FAILED)
        remote_state = response.headers.get("Job-Status", "")
        interval = _interval(response)
        cancel = remote_state == "canceling"
        status = response.status_code
        if remote_state in ("failed", "canceled") and status not in (200, 202, 412):
            return UpdateResult(UpdateState.ABORT, interval, cancel)
        mapping = {
            200: UpdateState.SUCCEEDED,
            202: UpdateState.ACCEPTED,
            412: UpdateState.TRACE_VALIDATION_FAILED,
            404: UpdateState.NOT_FOUND,
            403: UpdateState.ABORT,
        }
        return UpdateResult(mapping.get(status, UpdateState.FAILED), interval, cancel)

    def upload_artifacts(
        self,
        job_id: int,
        job_token: str,
        path: Path,
        *,
        filename: str,
        artifact_type: str = "archive",
        artifact_format: str = "zip",
        expire_in: str = "",
    ) -> UploadResult:
        query = [
            f"artifact_type={quote(artifact_type)}",
            f"artifact_format={quote(artifact_format)}",
        ]
        if expire_in:
            query.append(f"expire_in={quote(expire_in)}")
        body = _MultipartFile(path, field="file", filename=filename)
        headers = {"JOB-TOKEN": job_token, "Content-Type": body.content_type}
        try:
            response = self._call(
                "POST",
                f"jobs/{job_id}/artifacts?{'&'.join(query)}",
                data=body,
                headers=headers,
                read_timeout=600.0,
            )
        except CoordinatorError as exc:
            return UploadResult(UploadState.FAILED, str(exc))
        finally:
            body.close()
        message = _message(response)
        states = {
            201: UploadState.SUCCEEDED,
            403: UploadState.FORBIDDEN,
            413: UploadState.TOO_LARGE,
            503: UploadState.SERVICE_UNAVAILABLE,
        }
        return UploadResult(states.get(response.status_code, UploadState.FAILED), message)

    def download_artifacts(
        self, job_id: int, token: str, destination: Path, *, max_bytes: int
    ) -> DownloadState:
        """Stream `GET /jobs/:id/artifacts` to `destination`, refusing more than `max_bytes`."""
        try:
            response = self._call(
                "GET",
                f"jobs/{job_id}/artifacts?direct_download=false",
                headers={"JOB-TOKEN": token},
                stream=True,
                read_timeout=600.0,
            )
        except CoordinatorError as exc:
            log.warning("job %s: downloading artifacts failed: %s", job_id, exc)
            return DownloadState.FAILED
        with response:
            if response.status_code != 200:
                return {
                    403: DownloadState.FORBIDDEN,
                    401: DownloadState.UNAUTHORIZED,
                    404: DownloadState.NOT_FOUND,
                }.get(response.status_code, DownloadState.FAILED)
            written = 0
            try:
                with destination.open("wb") as handle:
                    for chunk in response.iter_content(65536):
                        written += len(chunk)
                        if written > max_bytes:
                            return DownloadState.TOO_LARGE
                        handle.write(chunk)
            except (OSError, requests.RequestException) as exc:
                log.warning("job %s: downloading artifacts failed: %s", job_id, exc)
                return DownloadState.FAILED
        return DownloadState.SUCCEEDED

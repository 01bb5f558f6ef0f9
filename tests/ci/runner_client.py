"""A runner speaking GitLab's runner protocol over HTTP, as gitlab-runner sends it.

Headers and bodies follow gitlab-runner's `network/gitlab.go`, `network/client.go` and
`common/network.go`: JSON bodies with `token` and an `info` block (name, version, executor,
features), `Accept: application/json`, a `gitlab-runner` User-Agent; job calls with the
`JOB-TOKEN` header; trace patches with `Content-Range: start-end` (end inclusive) as
`text/plain`; artifacts as a multipart `file` part with `artifact_type`/`artifact_format`/
`expire_in` in the query; the previous `X-GitLab-Last-Update` sent back as `last_update`.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from typing import Any

import requests

USER_AGENT = "gitlab-runner 17.5.0 (17-5-stable; go1.22.7; linux/amd64)"
FEATURES = {
    "variables": True,
    "image": False,
    "services": False,
    "artifacts": True,
    "cache": True,
    "fallback_cache_keys": True,
    "shared": True,
    "upload_multiple_artifacts": True,
    "upload_raw_artifacts": True,
    "session": False,
    "terminal": False,
    "refspecs": True,
    "masking": True,
    "proxy": False,
    "raw_variables": True,
    "artifacts_exclude": True,
    "multi_build_steps": True,
    "trace_reset": True,
    "trace_checksum": True,
    "trace_size": True,
    "vault_secrets": False,
    "cancelable": True,
    "return_exit_code": True,
    "service_variables": False,
    "service_multiple_aliases": False,
    "image_executor_opts": False,
    "service_executor_opts": False,
    "cancel_gracefully": True,
    "native_steps_integration": False,
}
INFO = {
    "name": "gitlab-runner",
    "version": "17.5.0",
    "revision": "abcdef12",
    "platform": "linux",
    "architecture": "amd64",
    "executor": "shell",
    "shell": "bash",
    "features": FEATURES,
    "config": {"gpus": ""},
}


class RunnerClient:
    def __init__(self, base_url: str, token: str, *, system_id: str = "s_0123456789ab") -> None:
        self.api = f"{base_url}/api/v4/"
        self.token = token
        self.system_id = system_id
        self.last_update = ""
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def _json(self, method: str, path: str, body: dict[str, Any]) -> requests.Response:
        response = self.session.request(
            method,
            self.api + path,
            json=body,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            timeout=30,
        )
        if lu := response.headers.get("X-GitLab-Last-Update"):
            self.last_update = lu
        return response

    def verify(self) -> requests.Response:
        return self._json(
            "POST", "runners/verify", {"token": self.token, "system_id": self.system_id}
        )

    def unregister(self) -> requests.Response:
        return self._json("DELETE", "runners", {"token": self.token})

    def request_job(self) -> requests.Response:
        body: dict[str, Any] = {"info": INFO, "token": self.token, "system_id": self.system_id}
        if self.last_update:
            body["last_update"] = self.last_update
        return self._json("POST", "jobs/request", body)

    def patch_trace(
        self, job_id: int, job_token: str, content: bytes, offset: int
    ) -> requests.Response:
        end = offset + len(content) - 1
        return self.session.patch(
            f"{self.api}jobs/{job_id}/trace?debug_trace=false",
            data=content,
            headers={
                "Content-Range": f"{offset}-{end}",
                "JOB-TOKEN": job_token,
                "Content-Type": "text/plain",
            },
            timeout=30,
        )

    def update_job(
        self,
        job_id: int,
        job_token: str,
        state: str,
        *,
        trace: bytes | None = None,
        exit_code: int = 0,
        failure_reason: str = "",
    ) -> requests.Response:
        body: dict[str, Any] = {"info": INFO, "token": job_token, "state": state}
        if failure_reason:
            body["failure_reason"] = failure_reason
        if exit_code:
            body["exit_code"] = exit_code
        if trace is not None:
            checksum = f"crc32:{zlib.crc32(trace):08x}"
            body["checksum"] = checksum
            body["output"] = {"checksum": checksum, "bytesize": len(trace)}
        return self._json("PUT", f"jobs/{job_id}", body)

    def upload_artifacts(
        self,
        job_id: int,
        job_token: str,
        data: bytes,
        *,
        artifact_type: str = "archive",
        artifact_format: str = "zip",
        expire_in: str = "",
        filename: str = "artifacts.zip",
    ) -> requests.Response:
        params = {"artifact_format": artifact_format, "artifact_type": artifact_type}
        if expire_in:
            params["expire_in"] = expire_in
        return self.session.post(
            f"{self.api}jobs/{job_id}/artifacts",
            params=params,
            files={"file": (filename, data, "application/octet-stream")},
            headers={"JOB-TOKEN": job_token},
            timeout=60,
        )

    def download_artifacts(self, job_id: int, job_token: str) -> requests.Response:
        return self.session.get(
            f"{self.api}jobs/{job_id}/artifacts",
            headers={"JOB-TOKEN": job_token},
            timeout=30,
        )


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def variables_of(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["key"]: v for v in payload["variables"]}

"""The kubernetes executor through the official client, against a fake API server.

No cluster runs here, so a small HTTP server implements the four endpoints the executor uses
(create, read, follow the log of, and delete a pod) and plays the kubelet by running the
pod's command on this machine. The executor's code path is the real one: the `kubernetes`
client builds the requests and parses the answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kiln.runner.config import Kubernetes
from tests.runner.conftest import JOB_USER, make_config, processes_with, run_one
from tests.runner.coordinator import FakeCoordinator, job_payload

pytest.importorskip("kubernetes", reason="the kubernetes client is not installed")


@dataclass
class Pod:
    body: dict[str, Any]
    output: bytearray = field(default_factory=bytearray)
    phase: str = "Pending"
    exit_code: int | None = None
    process: subprocess.Popen[bytes] | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)
    deleted: bool = False


class FakeKubernetes:
    """The pods API of a cluster whose only node is this machine."""

    def __init__(self) -> None:
        self.pods: dict[str, Pod] = {}
        self.created: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        for pod in self.pods.values():
            self._kill(pod)
        self.server.shutdown()
        self.server.server_close()

    def _kill(self, pod: Pod) -> None:
        if pod.process and pod.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pod.process.pid, signal.SIGKILL)

    def _run(self, pod: Pod) -> None:
        container = pod.body["spec"]["containers"][0]
        env = {"PATH": os.environ["PATH"], **{e["name"]: e["value"] for e in container["env"]}}
        workdir = Path(container["workingDir"])
        workdir.mkdir(parents=True, exist_ok=True)
        # The container's user is not root (as in most images' CI setups); here it is the
        # same unprivileged user the shell executor's jobs use.
        if JOB_USER.switch:
            os.chown(workdir, JOB_USER.uid, JOB_USER.gid)
        pod.process = subprocess.Popen(
            container["command"],
            env=env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=JOB_USER.uid if JOB_USER.switch else None,
            group=JOB_USER.gid if JOB_USER.switch else None,
            extra_groups=[] if JOB_USER.switch else None,
        )
        with pod.changed:
            pod.phase = "Running"
            pod.changed.notify_all()
        assert pod.process.stdout is not None
        while chunk := os.read(pod.process.stdout.fileno(), 65536):
            with pod.changed:
                pod.output += chunk
                pod.changed.notify_all()
        code = pod.process.wait()
        with pod.changed:
            pod.exit_code = code if code >= 0 else 128 - code
            pod.phase = "Succeeded" if code == 0 else "Failed"
            pod.changed.notify_all()

    def _present(self, pod: Pod) -> dict[str, Any]:
        container = pod.body["spec"]["containers"][0]
        if pod.exit_code is not None:
            state: dict[str, Any] = {
                "terminated": {"exitCode": pod.exit_code, "reason": "Completed"}
            }
        elif pod.phase == "Running":
            state = {"running": {"startedAt": "2024-01-01T00:00:00Z"}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        return {
            **pod.body,
            "status": {
                "phase": pod.phase,
                "containerStatuses": [
                    {
                        "name": container["name"],
                        "image": container["image"],
                        "imageID": "",
                        "ready": pod.phase == "Running",
                        "restartCount": 0,
                        "state": state,
                    }
                ],
            },
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the log stream ends when the connection closes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _pod(self) -> tuple[str, Pod | None, str]:
                match = re.match(r"/api/v1/namespaces/([^/]+)/pods/([^/?]+)(/log)?", self.path)
                if not match:
                    return "", None, ""
                return match.group(2), cluster.pods.get(match.group(2)), match.group(3) or ""

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                pod = Pod(body)
                cluster.pods[body["metadata"]["name"]] = pod
                cluster.created.append(body)
                threading.Thread(target=cluster._run, args=(pod,), daemon=True).start()
                self._json(201, cluster._present(pod))

            def do_GET(self) -> None:
                _name, pod, log = self._pod()
                if pod is None:
                    return self._json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                if not log:
                    return self._json(200, cluster._present(pod))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                sent = 0
                while True:
                    with pod.changed:
                        while len(pod.output) == sent and pod.exit_code is None and not pod.deleted:
                            pod.changed.wait(0.1)
                        chunk = bytes(pod.output[sent:])
                        done = pod.exit_code is not None or pod.deleted
                    if chunk:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        sent += len(chunk)
                    elif done:
                        return None

            def do_DELETE(self) -> None:
                name, pod, _ = self._pod()
                if pod is None:
                    return self._json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                cluster._kill(pod)
                with pod.changed:
                    pod.deleted = True
                    pod.changed.notify_all()
                cluster.pods.pop(name, None)
                cluster.deleted.append(name)
                return self._json(200, cluster._present(pod))  # the API answers with the pod

        return Handler


@pytest.fixture
def cluster() -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes()
    try:
        yield fake
    finally:
        fake.stop()


def _config(workdir: Path, fake: FakeCoordinator, cluster: FakeKubernetes) -> Any:
    return make_config(
        workdir,
        fake,
        executor="kubernetes",
        kubernetes=Kubernetes(
            host=cluster.url,
            namespace="ci",
            image="debian:bookworm",
            builds_dir=str(workdir / "pod-builds"),
            poll_interval=0.05,
        ),
    )


def test_job_runs_in_a_pod_and_the_pod_is_deleted(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str], cluster: FakeKubernetes
) -> None:
    url, sha = source
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=["echo in the pod: $CI_JOB_ID", "sh app/main.sh", 'cat "$SETTINGS"'],
        after_script=["echo after: $CI_JOB_STATUS"],
        variables=[
            {"key": "SETTINGS", "value": "from a file variable\n", "file": True},
            {"key": "TOKEN", "value": "pod-secret-value", "masked": True},
        ],
        image={"name": "alpine:3.20"},
    )
    payload["steps"][0]["script"].append("echo $TOKEN")
    record, result = run_one(fake, _config(workdir, fake, cluster), payload)
    assert result is not None
    assert result.state == "success", record.text
    text = record.text
    assert f"in the pod: {record.id}" in text
    assert "from the repository" in text
    assert "from a file variable" in text
    assert "after: success" in text
    assert "pod-secret-value" not in text
    assert "[MASKED]" in text
    assert ":step_script\r\x1b[0K" in text
    (pod,) = cluster.created
    spec = pod["spec"]
    assert pod["metadata"]["namespace"] == "ci"
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["containers"][0]["image"] == "alpine:3.20"
    assert spec["activeDeadlineSeconds"] > 3600
    env = {e["name"]: e["value"] for e in spec["containers"][0]["env"]}
    assert env["CI_DISPOSABLE_ENVIRONMENT"] == "true"
    assert env["CI_PROJECT_DIR"].startswith(str(workdir / "pod-builds"))
    assert cluster.deleted == [pod["metadata"]["name"]]


def test_pod_exit_code_fails_the_job(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str], cluster: FakeKubernetes
) -> None:
    url, sha = source
    payload = job_payload(fake.new_job_id(), repo_url=url, sha=sha, script=["exit 7"])
    record, result = run_one(fake, _config(workdir, fake, cluster), payload)
    assert result is not None
    assert result.state == "failed"
    assert record.final["exit_code"] == 7
    assert "ERROR: Job failed: exit code 7" in record.text
    assert len(cluster.deleted) == 1


def test_pod_past_the_timeout_is_deleted(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str], cluster: FakeKubernetes
) -> None:
    url, sha = source
    payload = job_payload(
        fake.new_job_id(), repo_url=url, sha=sha, timeout=2, script=["sleep 42.5"]
    )
    started = time.monotonic()
    record, result = run_one(fake, _config(workdir, fake, cluster), payload)
    assert time.monotonic() - started < 15
    assert result is not None
    assert result.state == "failed"
    assert record.final["failure_reason"] == "job_execution_timeout"
    assert len(cluster.deleted) == 1
    assert processes_with("sleep 42.5") == []


def test_unsupported_features_are_said_in_the_log(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str], cluster: FakeKubernetes
) -> None:
    url, sha = source
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=["true"],
        artifacts=[{"paths": ["x"], "artifact_type": "archive", "artifact_format": "zip"}],
    )
    record, result = run_one(fake, _config(workdir, fake, cluster), payload)
    assert result is not None
    assert result.state == "success"
    assert "does not support artifacts yet" in record.text

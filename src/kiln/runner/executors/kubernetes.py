"""The kubernetes executor: one pod per job, through the official `kubernetes` client.

The pod has one container, `build`, in the job's `image` (or `kubernetes.image`), with an
`emptyDir` at the builds directory, no service account token, `restartPolicy: Never` and an
`activeDeadlineSeconds` that outlives the job's timeout only slightly. Its command is a small
POSIX script that picks bash when the image has it, writes file variables, then runs the
same get_sources / step_script / after_script scripts as the shell executor (each passed in
its own environment variable, so nothing is quoted twice), printing the log's section
markers itself. The runner follows the container's log into the job's trace (masking and the
output cap apply as for any job), watches the deadline and the server's cancel, reads the exit
code from the container's terminated state, and deletes the pod in every case.

Not done here yet (the log says so when a job asks): artifacts, caches, dependencies and
services; they need a helper container, which is the next step for this executor.

The `kubernetes` package is imported when this executor is first used, not before: it is
large, and only runners configured for kubernetes need it.
"""

from __future__ import annotations

import importlib
import logging
import re
import secrets
import threading
import time
from typing import Any

import urllib3

from kiln.runner.client import Coordinator
from kiln.runner.config import RunnerConfig
from kiln.runner.executors import COMMON_FEATURES, JobResult
from kiln.runner.executors.common import job_variables, project_path, report_failure
from kiln.runner.job import DEFAULT_AFTER_SCRIPT_TIMEOUT, Job
from kiln.runner.scripts import ScriptError, get_sources, quote, step
from kiln.runner.trace import JobTrace

log = logging.getLogger(__name__)

CONTAINER = "build"
BUILDS_DIR = "/builds"
_NAME_CHARS = re.compile(r"[^a-z0-9-]")

BOOT = r"""set +e
if command -v bash >/dev/null 2>&1; then KILN_SH=bash; else KILN_SH=sh; fi
kiln_section() { printf 'section_%s:%s:%s\r\033[0K' "$1" "$(date +%s)" "$2"; }
kiln_header() { printf '\033[36;1m%s\033[0;m\n' "$1"; }
mkdir -p "$KILN_TMP_DIR"
%(files)s
kiln_section start get_sources; kiln_header 'Getting source from Git repository'
"$KILN_SH" -c "$KILN_STEP_GET_SOURCES"; code=$?
kiln_section end get_sources
if [ "$code" -eq 0 ]; then
  kiln_section start step_script
  kiln_header 'Executing "step_script" stage of the job script'
  "$KILN_SH" -c "$KILN_STEP_SCRIPT"; code=$?
  kiln_section end step_script
fi
if [ -n "$KILN_STEP_AFTER_SCRIPT" ]; then
  if [ "$code" -eq 0 ]; then CI_JOB_STATUS=success; else CI_JOB_STATUS=failed; fi
  export CI_JOB_STATUS
  kiln_section start after_script; kiln_header 'Running after_script'
  if command -v timeout >/dev/null 2>&1; then
    timeout "$KILN_AFTER_SCRIPT_TIMEOUT" "$KILN_SH" -c "$KILN_STEP_AFTER_SCRIPT"; after=$?
  else
    "$KILN_SH" -c "$KILN_STEP_AFTER_SCRIPT"; after=$?
  fi
  if [ "$after" -ne 0 ]; then
    printf '\033[0;33mWARNING: %s: exit code %s\033[0;m\n' \
      'after_script failed, but job will continue unaffected' "$after"
  fi
  kiln_section end after_script
fi
exit "$code"
"""


class KubernetesError(Exception):
    pass


def pod_name(job: Job, short_token: str) -> str:
    raw = f"runner-{short_token}-project-{job.project_id}-job-{job.id}-{secrets.token_hex(3)}"
    return _NAME_CHARS.sub("-", raw.lower())[:63].strip("-")


class KubernetesExecutor:
    name = "kubernetes"

    def __init__(self, config: RunnerConfig, coordinator: Coordinator) -> None:
        self.config = config
        self.coordinator = coordinator
        self.settings = config.kubernetes
        self._api: Any = None
        self._api_lock = threading.Lock()
        # What a call through the client raises when the API refuses or cannot be reached.
        self.api_errors: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)

    def features(self) -> dict[str, bool]:
        return {
            **COMMON_FEATURES,
            "image": True,
            "artifacts": False,
            "cache": False,
            "upload_multiple_artifacts": False,
            "upload_raw_artifacts": False,
            "artifacts_exclude": False,
        }

    def startup_notes(self) -> list[tuple[str, str]]:
        where = self.settings.host or "the cluster from the service account or ~/.kube/config"
        return [
            (
                "info",
                f"kubernetes executor: pods in namespace {self.settings.namespace} of {where}",
            ),
            (
                "warning",
                "kubernetes executor: artifacts, caches and services are not supported yet",
            ),
        ]

    # -- the client -------------------------------------------------------------------------

    def api(self) -> Any:
        with self._api_lock:
            if self._api is None:
                self._api = self._make_api()
            return self._api

    def _make_api(self) -> Any:
        kubernetes = importlib.import_module("kubernetes")
        client = kubernetes.client
        self.api_errors = (client.exceptions.ApiException, *self.api_errors)
        if self.settings.host:
            configuration = client.Configuration(host=self.settings.host)
            if self.settings.token_file:
                with open(self.settings.token_file) as handle:
                    token = handle.read().strip()
                configuration.api_key = {"authorization": token}
                configuration.api_key_prefix = {"authorization": "Bearer"}
            if self.settings.ca_file:
                configuration.ssl_ca_cert = self.settings.ca_file
            configuration.verify_ssl = self.settings.verify_ssl
            return client.CoreV1Api(client.ApiClient(configuration))
        try:
            kubernetes.config.load_incluster_config()
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()
        return client.CoreV1Api(client.ApiClient())

    # -- the pod ----------------------------------------------------------------------------

    def pod_spec(self, job: Job, *, name: str, slot: int) -> dict[str, Any]:
        builds_dir = self.settings.builds_dir or BUILDS_DIR
        project_dir = f"{builds_dir}/{project_path(job)}"
        variables = job_variables(
            job,
            project_dir=project_dir,
            builds_dir=builds_dir,
            slot=slot,
            short_token=self.config.short_token,
            shared=False,
        )
        tmp_dir = f"{builds_dir}/.tmp"
        file_lines = []
        env: list[dict[str, str]] = [{"name": k, "value": v} for k, v in variables.plain.items()]
        for key, content in variables.files.items():
            path = f"{tmp_dir}/{key}"
            env.append({"name": f"KILN_FILE_{key}", "value": content})
            file_lines.append(
                f"printf '%s' \"$KILN_FILE_{key}\" > {quote(path)}; "
                f"{key}={quote(path)}; export {key}; unset KILN_FILE_{key}"
            )
        script_step = job.step("script")
        after = job.step("after_script")
        steps = {
            "KILN_STEP_GET_SOURCES": get_sources(job, project_dir=project_dir),
            "KILN_STEP_SCRIPT": step(
                script_step.script if script_step else (), project_dir=project_dir
            ),
            "KILN_STEP_AFTER_SCRIPT": (
                step(after.script, project_dir=project_dir)
                if after and any(line.strip() for line in after.script)
                else ""
            ),
        }
        env += [{"name": k, "value": v} for k, v in steps.items()]
        env += [
            {"name": "KILN_TMP_DIR", "value": tmp_dir},
            {
                "name": "KILN_AFTER_SCRIPT_TIMEOUT",
                "value": str((after.timeout if after else 0) or DEFAULT_AFTER_SCRIPT_TIMEOUT),
            },
        ]
        boot = BOOT.replace("%(files)s", "\n".join(file_lines))
        container: dict[str, Any] = {
            "name": CONTAINER,
            "image": job.image.name or self.settings.image,
            "command": ["sh", "-c", boot],
            "env": env,
            "workingDir": builds_dir,
            "volumeMounts": [{"name": "builds", "mountPath": builds_dir}],
        }
        spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": job.timeout + DEFAULT_AFTER_SCRIPT_TIMEOUT + 60,
            "automountServiceAccountToken": False,
            "containers": [container],
            "volumes": [{"name": "builds", "emptyDir": {}}],
        }
        if self.settings.service_account:
            spec["serviceAccountName"] = self.settings.service_account
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": self.settings.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "kiln-runner",
                    "kiln.runner/job-id": str(job.id),
                    "kiln.runner/project-id": str(job.project_id),
                },
            },
            "spec": spec,
        }

    def _status(self, name: str) -> tuple[str, int | None, str]:
        """(phase, exit code when terminated, a waiting reason such as ErrImagePull)."""
        pod = self.api().read_namespaced_pod(name, self.settings.namespace)
        phase = getattr(pod.status, "phase", "") or ""
        for status in getattr(pod.status, "container_statuses", None) or []:
            if status.name != CONTAINER or status.state is None:
                continue
            if status.state.terminated is not None:
                return phase, int(status.state.terminated.exit_code), ""
            if status.state.waiting is not None:
                return phase, None, status.state.waiting.reason or ""
        return phase, None, ""

    def _delete(self, name: str) -> None:
        try:
            # The answer (the Pod, or a Status) is not needed: not parsing it spares a model
            # mismatch between API server versions from failing the cleanup.
            response = self.api().delete_namespaced_pod(
                name, self.settings.namespace, grace_period_seconds=0, _preload_content=False
            )
            response.release_conn()
        except self.api_errors as exc:  # already gone, or the API is down: log, never raise
            if getattr(exc, "status", None) != 404:
                log.warning("deleting pod %s failed: %s", name, exc)

    def run(self, job: Job, trace: JobTrace, *, slot: int, shutdown: threading.Event) -> JobResult:
        namespace = self.settings.namespace
        image = job.image.name or self.settings.image
        trace.section_start("prepare_executor", 'Preparing the "kubernetes" executor')
        trace.system(f"Using Kubernetes namespace: {namespace}")
        trace.system(f"Using Kubernetes executor with image {image} ...")
        for what, present in (
            ("services", bool(job.services)),
            ("artifacts", bool(job.artifacts)),
            ("cache", bool(job.caches)),
            ("dependencies", any(d.artifacts_filename for d in job.dependencies)),
        ):
            if present:
                trace.warning(f"the kubernetes executor does not support {what} yet; ignored")
        trace.section_end("prepare_executor")
        name = pod_name(job, self.config.short_token)
        try:
            body = self.pod_spec(job, name=name, slot=slot)
        except ScriptError as exc:
            trace.error(f"Job failed (system failure): {exc}")
            return JobResult.failed("runner_system_failure")
        trace.section_start("prepare_script", "Preparing environment")
        try:
            self.api().create_namespaced_pod(namespace, body)
        except self.api_errors as exc:  # the API refused or is unreachable
            trace.section_end("prepare_script")
            trace.error(f"Job failed (system failure): creating the pod failed: {exc}")
            return JobResult.failed("runner_system_failure")
        try:
            return self._follow(job, trace, name, shutdown)
        finally:
            self._delete(name)

    def _wait_started(
        self, job: Job, trace: JobTrace, name: str, shutdown: threading.Event
    ) -> JobResult | None:
        start_deadline = time.monotonic() + self.settings.pod_start_timeout
        while True:
            if shutdown.is_set() or trace.should_stop:
                return report_failure(
                    job, trace, exit_code=1, timed_out=False, shutdown=shutdown.is_set()
                )
            phase, _code, waiting = self._status(name)
            if phase in ("Running", "Succeeded", "Failed"):
                return None
            if waiting in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                trace.error(f"Job failed (system failure): the image cannot be pulled ({waiting})")
                return JobResult.failed(
                    job.failure_reason("image_pull_failure", "runner_system_failure")
                )
            if time.monotonic() >= start_deadline:
                trace.error("Job failed (system failure): the pod did not start in time")
                return JobResult.failed("runner_system_failure")
            time.sleep(self.settings.poll_interval)

    def _follow(self, job: Job, trace: JobTrace, name: str, shutdown: threading.Event) -> JobResult:
        namespace = self.settings.namespace
        trace.system(f"Waiting for pod {namespace}/{name} to be running...")
        failure = self._wait_started(job, trace, name, shutdown)
        trace.section_end("prepare_script")
        if failure is not None:
            return failure
        trace.system(f"Running on {name} via kubernetes...")

        after = job.step("after_script")
        deadline = (
            time.monotonic()
            + job.timeout
            + (((after.timeout if after else 0) or DEFAULT_AFTER_SCRIPT_TIMEOUT) if after else 0)
        )
        streamed = threading.Event()

        def stream() -> None:
            try:
                response = self.api().read_namespaced_pod_log(
                    name, namespace, container=CONTAINER, follow=True, _preload_content=False
                )
                for chunk in response.stream(65536):
                    trace.write(chunk)
                response.release_conn()
            except (
                self.api_errors
            ) as exc:  # the pod was deleted under the stream, or the API failed
                log.info("log stream of pod %s ended: %s", name, exc)
            finally:
                streamed.set()

        reader = threading.Thread(target=stream, name=f"pod-log-{job.id}", daemon=True)
        reader.start()
        timed_out = stopped = False
        exit_code: int | None = None
        while True:
            if streamed.wait(self.settings.poll_interval):
                # The log ends when the container does; its exit code may lag a moment.
                for _ in range(50):
                    phase, exit_code, _waiting = self._status(name)
                    if exit_code is not None or phase in ("Succeeded", "Failed"):
                        break
                    time.sleep(self.settings.poll_interval / 5)
                break
            if time.monotonic() >= deadline:
                timed_out = True
                break
            if shutdown.is_set() or trace.should_stop:
                stopped = True
                break
        if timed_out or stopped:
            self._delete(name)
            reader.join(timeout=10)
        if exit_code == 0 and not timed_out and not stopped:
            trace.notice("Job succeeded")
            return JobResult.success()
        return report_failure(
            job,
            trace,
            exit_code=exit_code if exit_code is not None else 1,
            timed_out=timed_out,
            shutdown=shutdown.is_set(),
        )

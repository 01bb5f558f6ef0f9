"""Hostile input for CI, each a test with GitLab's answer and a check that nothing leaked or
was written: job tokens out of their job or scope, protected variables on unprotected refs,
oversized and malicious artifacts, broken configurations, runners racing for one job."""

from __future__ import annotations

import io
import os
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from kiln.ci import storage
from kiln.ci.models import Job, JobArtifact, Pipeline, Variable
from tests.ci.builders import commit, latest_pipeline, project_with_ci, statuses
from tests.ci.runner_client import RunnerClient, variables_of, zip_bytes
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b
from tests.support.git import git

pytestmark = pytest.mark.slow

SIMPLE = "job:\n  script: [echo hi]\n"


@pytest.fixture
def root_user(web_url: str) -> Any:
    return b.root_user()


def _runner(web_url: str, **attrs: Any) -> RunnerClient:
    from kiln.ci.runners import create_runner
    from kiln.core.actor import Actor

    registered = create_runner(
        actor=Actor.for_user(b.root_user()), runner_type="instance_type", attrs=attrs
    )
    return RunnerClient(web_url, registered.token)


def _take(runner: RunnerClient) -> dict[str, Any]:
    response = runner.request_job()
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_job_token_reaches_only_its_own_project_and_only_while_running(
    root_user: Any, web_url: str, tmp_path: Path
) -> None:
    project_with_ci(root_user, SIMPLE, name="Mine")
    other = b.project(root_user, "Secret")
    commit(root_user, other, {"secret.txt": "top secret\n"})
    job = _take(_runner(web_url))
    token = job["token"]
    headers = {"JOB-TOKEN": token}
    api = f"{web_url}/api/v4"

    # The job's own user is an administrator; the token still sees only the job's project.
    own = requests.get(f"{api}/job", headers=headers, timeout=30)
    assert own.status_code == 200
    assert own.json()["id"] == job["id"]
    # Its own project's artifact endpoints take it (this job has no archive yet: 404, not 401).
    mine = requests.get(
        f"{api}/projects/root%2Fmine/jobs/{job['id']}/artifacts", headers=headers, timeout=30
    )
    assert mine.status_code == 404
    assert mine.json() == {"message": "404 Not found"}
    foreign = requests.get(
        f"{api}/projects/{other.pk}/jobs/{job['id']}/artifacts", headers=headers, timeout=30
    )
    assert foreign.status_code == 404
    assert foreign.json() == {"message": "404 Project Not Found"}
    # Endpoints GitLab does not open to job tokens ignore them: a private project is not found.
    ignored = requests.get(f"{api}/projects/{other.pk}", headers=headers, timeout=30)
    assert ignored.status_code == 404
    ignored = requests.get(f"{api}/projects/{other.pk}/pipelines", headers=headers, timeout=30)
    assert ignored.status_code == 404
    # git: the other project is not found; pushing to its own project is refused.
    url = job["git_info"]["repo_url"].replace("/root/mine.git", "/root/secret.git")
    cloned = git("clone", "-q", url, str(tmp_path / "other"), check=False)
    assert cloned.returncode != 0
    assert not (tmp_path / "other" / "secret.txt").exists()
    work = tmp_path / "own"
    assert git("clone", "-q", job["git_info"]["repo_url"], str(work), check=False).returncode == 0
    (work / "x.txt").write_text("x")
    git("add", "x.txt", cwd=work)
    git("commit", "-q", "-m", "x", cwd=work)
    pushed = git("push", "-q", "origin", "HEAD:refs/heads/from-ci", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "not allowed to upload code" in pushed.stderr

    # Finished: the token is refused everywhere.
    runner = RunnerClient(web_url, "unused")
    assert runner.update_job(job["id"], token, "success").status_code == 200
    assert requests.get(f"{api}/job", headers=headers, timeout=30).status_code == 401
    assert requests.get(f"{api}/job", params={"job_token": token}, timeout=30).status_code == 401
    again = git("clone", "-q", job["git_info"]["repo_url"], str(tmp_path / "late"), check=False)
    assert again.returncode != 0
    assert "Authentication failed" in again.stderr or "401" in again.stderr


def test_protected_variables_reach_only_protected_refs(root_user: Any, web_url: str) -> None:
    project = project_with_ci(root_user, "job:\n  script: [x]\n  rules:\n    - when: always\n")
    # (The first pipeline, on main, is created before the variables exist: start over.)
    Pipeline.objects.filter(project=project).delete()
    Variable.objects.create(project=project, key="DEPLOY_KEY", value="s3cr3t-value", protected=True)
    Variable.objects.create(project=project, key="PLAIN", value="visible")
    commit(root_user, project, {"a.txt": "1"}, branch="main")
    runner = _runner(web_url)
    on_main = variables_of(_take(runner))
    assert on_main["DEPLOY_KEY"]["value"] == "s3cr3t-value"
    assert on_main["DEPLOY_KEY"]["public"] is False
    assert on_main["CI_COMMIT_REF_PROTECTED"]["value"] == "true"

    from kiln.core.actor import Actor
    from kiln.repositories import branches

    branches.create_branch(
        actor=Actor.for_user(root_user), project=project, name="feature", ref="main"
    )
    commit(root_user, project, {"b.txt": "2"}, branch="feature")
    on_feature = _take(runner)
    variables = variables_of(on_feature)
    assert "DEPLOY_KEY" not in variables
    assert variables["PLAIN"]["value"] == "visible"
    assert variables["CI_COMMIT_REF_PROTECTED"]["value"] == "false"
    assert "s3cr3t-value" not in str(on_feature)


def _artifact_rows() -> int:
    return JobArtifact.objects.count()


def test_artifacts_over_the_cap_are_refused_and_nothing_is_kept(
    root_user: Any, web_url: str
) -> None:
    project_with_ci(root_user, SIMPLE)
    namespace = root_user.namespace
    namespace.max_artifacts_size = 1  # MB
    namespace.save(update_fields=["max_artifacts_size"])
    runner = _runner(web_url)
    job = _take(runner)
    big = os.urandom(1024 * 1024 + 4096)
    before = _artifact_rows()

    refused = runner.upload_artifacts(job["id"], job["token"], big)
    assert refused.status_code == 413
    assert refused.json() == {"message": "file size has reached maximum size limit"}

    # Chunked (no Content-Length), as gitlab-runner streams: refused while streaming.
    boundary = "kilnboundary"

    def body() -> Any:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="artifacts.zip"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        streamed = requests.post(
            f"{web_url}/api/v4/jobs/{job['id']}/artifacts?artifact_format=zip&artifact_type=archive",
            data=body(),
            headers={
                "JOB-TOKEN": job["token"],
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            timeout=30,
        )
        assert streamed.status_code == 413
    except requests.ConnectionError:
        pass  # the server may close the connection while the client still sends
    assert _artifact_rows() == before
    assert not list(storage.upload_dir().iterdir())

    # Under the cap it is accepted, also chunked.
    small = zip_bytes({"a.txt": b"a"})

    def small_body() -> Any:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="artifacts.zip"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        yield small
        yield f"\r\n--{boundary}--\r\n".encode()

    accepted = requests.post(
        f"{web_url}/api/v4/jobs/{job['id']}/artifacts?artifact_format=zip&artifact_type=archive",
        data=small_body(),
        headers={
            "JOB-TOKEN": job["token"],
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        timeout=30,
    )
    assert accepted.status_code == 201, accepted.text
    assert JobArtifact.objects.get(job_id=job["id"]).size == len(small)


def test_malicious_archives_are_kept_but_never_extracted(root_user: Any, web_url: str) -> None:
    project = project_with_ci(root_user, SIMPLE)
    runner = _runner(web_url)
    job = _take(runner)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../escape.txt", b"escaped")
        archive.writestr("/etc/absolute.txt", b"absolute")
        link = zipfile.ZipInfo("link")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("ok/file.txt", b"fine")
    data = buffer.getvalue()
    assert runner.upload_artifacts(job["id"], job["token"], data).status_code == 201
    assert runner.update_job(job["id"], job["token"], "success").status_code == 200
    base = f"{web_url}/api/v4/projects/{project.pk}/jobs/{job['id']}/artifacts"
    headers = {"PRIVATE-TOKEN": ROOT_TOKEN}
    assert requests.get(f"{base}/ok/file.txt", headers=headers, timeout=30).content == b"fine"
    for hostile in (
        "..%2F..%2Fescape.txt",
        "link",
        "ok",
        "%2Fetc%2Fabsolute.txt",
        "ok%2F..%2Fok%2Ffile.txt",
    ):
        response = requests.get(f"{base}/{hostile}", headers=headers, timeout=30)
        assert response.status_code == 404, hostile
    data_dir = storage.artifacts_root().parent
    assert not (data_dir / "escape.txt").exists()
    assert not (data_dir.parent / "escape.txt").exists()


def test_an_invalid_configuration_fails_the_pipeline_with_gitlabs_error(
    root_user: Any, web_url: str
) -> None:
    broken = project_with_ci(root_user, "build:\n  script: [unclosed\n")
    pipeline = latest_pipeline(broken)
    assert pipeline is not None
    assert pipeline.status == "failed"
    assert pipeline.failure_reason == "config_error"
    assert "while parsing a flow sequence" in pipeline.yaml_errors
    assert not Job.objects.filter(pipeline=pipeline).exists()
    shown = requests.get(
        f"{web_url}/api/v4/projects/{broken.pk}/pipelines/{pipeline.pk}",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
        timeout=30,
    ).json()
    assert shown["status"] == "failed"
    assert shown["yaml_errors"] == pipeline.yaml_errors

    wrong = project_with_ci(root_user, "build:\n  scriptt: [x]\n")
    assert latest_pipeline(wrong).yaml_errors == (  # type: ignore[union-attr]
        "jobs build config should implement the script:, run:, or trigger: keyword"
    )


def test_ten_thousand_jobs_are_refused_with_a_clear_error(root_user: Any, web_url: str) -> None:
    values = ", ".join(str(i) for i in range(100))
    matrix = project_with_ci(
        root_user,
        "big:\n  script: [x]\n  parallel:\n    matrix:\n"
        f"      - A: [{values}]\n        B: [{values}]\n",
    )
    pipeline = latest_pipeline(matrix)
    assert pipeline is not None
    assert pipeline.status == "failed"
    assert pipeline.yaml_errors == (
        "jobs:big:parallel:matrix config generates too many jobs (maximum is 200)"
    )
    many = "".join(f"j{i}:\n  script: [x]\n  parallel: 200\n" for i in range(50))
    flood = project_with_ci(root_user, many)
    assert latest_pipeline(flood).yaml_errors == (  # type: ignore[union-attr]
        "Pipeline has too many jobs! Requested 10000, but the limit is 2000."
    )
    assert not Job.objects.filter(pipeline__project__in=[matrix, flood]).exists()


def test_racing_runners_never_share_a_job(root_user: Any, web_url: str) -> None:
    project_with_ci(root_user, SIMPLE)
    runners = [_runner(web_url) for _ in range(8)]
    barrier = threading.Barrier(len(runners))
    answers: list[int] = []
    lock = threading.Lock()

    def ask(runner: RunnerClient) -> None:
        barrier.wait()
        status = runner.request_job().status_code
        with lock:
            answers.append(status)

    threads = [threading.Thread(target=ask, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [201] + [204] * 7
    assert Job.objects.filter(status="running").count() == 1


def test_runners_get_only_jobs_they_may_run(root_user: Any, web_url: str) -> None:
    project = project_with_ci(
        root_user,
        "tagged:\n  script: [x]\n  tags: [gpu]\nplain:\n  script: [x]\n",
    )
    pipeline = latest_pipeline(project)
    assert pipeline is not None
    paused = _runner(web_url, paused=True, tag_list=["gpu"])
    assert paused.request_job().status_code == 204
    protected_only = _runner(web_url, access_level="ref_protected", tag_list=["cpu"])
    untagged_only = _runner(web_url)
    got = _take(untagged_only)
    assert got["job_info"]["name"] == "plain"
    assert untagged_only.request_job().status_code == 204  # no runner tag "gpu"
    assert protected_only.request_job().status_code == 204  # no tag, and main is protected...
    gpu = _runner(web_url, tag_list=["gpu", "linux"], run_untagged=False)
    assert _take(gpu)["job_info"]["name"] == "tagged"
    assert statuses(pipeline) == {"tagged": "running", "plain": "running"}


def test_runner_calls_with_bad_credentials(root_user: Any, web_url: str) -> None:
    project_with_ci(root_user, SIMPLE)
    api = f"{web_url}/api/v4"
    missing = requests.post(f"{api}/jobs/request", json={}, timeout=30)
    assert missing.status_code == 400
    assert missing.json() == {"error": "token is missing"}
    wrong = RunnerClient(web_url, "glrt-not-a-real-token")
    assert wrong.request_job().status_code == 403
    assert wrong.verify().status_code == 403
    assert wrong.unregister().status_code == 403
    runner = _runner(web_url)
    job = _take(runner)
    no_range = requests.patch(
        f"{api}/jobs/{job['id']}/trace",
        data=b"x",
        headers={"JOB-TOKEN": job["token"]},
        timeout=30,
    )
    assert no_range.status_code == 400
    assert no_range.json() == {"message": "400 Missing header Content-Range"}
    bad_token = runner.patch_trace(job["id"], "glcbt-wrong", b"x", 0)
    assert bad_token.status_code == 403
    assert runner.update_job(job["id"], "glcbt-wrong", "success").status_code == 403
    assert runner.upload_artifacts(job["id"], "glcbt-wrong", b"zip").status_code == 403
    assert runner.download_artifacts(job["id"], "glcbt-wrong").status_code == 401
    assert runner.patch_trace(job["id"], job["token"], b"x", 10**12).status_code == 416
    assert storage.trace_size(job["id"]) == 0
    assert runner.unregister().status_code == 204
    assert runner.request_job().status_code == 403


def test_trace_reset_after_a_failed_validation(root_user: Any, web_url: str) -> None:
    project_with_ci(root_user, SIMPLE)
    runner = _runner(web_url)
    job = _take(runner)
    assert runner.patch_trace(job["id"], job["token"], b"garbled", 0).status_code == 202
    log = b"the real log\n"
    # The runner's checksum does not match what was stored: 412, and it sends all again.
    assert runner.update_job(job["id"], job["token"], "success", trace=log).status_code == 412
    resent = runner.patch_trace(job["id"], job["token"], log, 0)
    assert resent.status_code == 202
    assert resent.headers["Range"] == f"0-{len(log)}"
    assert runner.update_job(job["id"], job["token"], "success", trace=log).status_code == 200
    assert storage.read_trace(job["id"]) == log


def test_dotenv_reports_feed_later_jobs_within_gitlabs_limits(root_user: Any, web_url: str) -> None:
    import gzip

    project_with_ci(
        root_user,
        "stages: [a, b]\n"
        "make:\n  stage: a\n  script: [x]\n  artifacts:\n    reports:\n      dotenv: build.env\n"
        "use:\n  stage: b\n  script: [x]\n",
    )
    runner = _runner(web_url)
    job = _take(runner)
    too_many = "".join(f"K{i}=v\n" for i in range(21)).encode()
    refused = runner.upload_artifacts(
        job["id"],
        job["token"],
        gzip.compress(too_many),
        artifact_type="dotenv",
        artifact_format="gzip",
        filename="build.env.gz",
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "message": "400 Bad request - Dotenv files cannot have more than 20 variables"
    }
    accepted = runner.upload_artifacts(
        job["id"],
        job["token"],
        gzip.compress(b'VERSION="1.2.3"\nBUILD_ID=42\n'),
        artifact_type="dotenv",
        artifact_format="gzip",
        filename="build.env.gz",
    )
    assert accepted.status_code == 201
    assert runner.update_job(job["id"], job["token"], "success").status_code == 200
    later = variables_of(_take(runner))
    assert later["VERSION"]["value"] == "1.2.3"
    assert later["BUILD_ID"]["value"] == "42"

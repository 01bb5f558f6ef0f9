"""The shell executor against the stand-in coordinator: a job from request to final update.

Checkout, variables (expanded, raw, file), after_script, masking across reads, artifacts
passed between jobs (exclude, reports, links out of the build skipped), the cache, and the
trace protocol: contiguous increments, resuming after 416, retrying the final update on 202
and resending the trace on 412.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from tests.runner.conftest import (
    JOB_USER,
    SANDBOX,
    make_config,
    needs_bwrap,
    run_one,
)
from tests.runner.coordinator import FakeCoordinator, crc, job_payload

SANDBOX_MODES = [
    pytest.param("auto", marks=needs_bwrap, id="bwrap"),
    pytest.param("none", id="no-sandbox"),
]


def test_job_runs_checkout_script_and_after_script(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake)
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=[
            "echo hello from $CI_JOB_ID",
            "sh app/main.sh",
            'test "$(git rev-parse HEAD)" = "$CI_COMMIT_SHA"',
        ],
        after_script=["echo after: $CI_JOB_STATUS"],
        variables=[
            {
                "key": "GREETING",
                "value": "hi $CI_COMMIT_REF_NAME",
                "public": False,
                "masked": False,
            },
            {"key": "RAW", "value": "keep $CI_COMMIT_REF_NAME", "public": False, "raw": True},
            {"key": "CONFIG_FILE", "value": "line1\nline2\n", "file": True},
        ],
    )
    payload["steps"][0]["script"] += [
        'echo "$GREETING / $RAW"',
        'cat "$CONFIG_FILE"',
        "echo $CI_PROJECT_DIR",
    ]
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "success", record.text
    text = record.text
    assert f"hello from {record.id}" in text
    assert "from the repository" in text
    assert "hi main / keep $CI_COMMIT_REF_NAME" in text
    assert "line1\nline2" in text
    assert "after: success" in text
    assert "Job succeeded" in text
    # GitLab's section markers around each stage.
    for name in ("prepare_executor", "get_sources", "step_script", "after_script"):
        assert f":{name}\r\x1b[0K" in text
    assert "\x1b[32;1m$ echo hello from $CI_JOB_ID\x1b[0;m" in text  # ANSI passes through
    final = record.final
    assert final["state"] == "success"
    assert final["exit_code"] == 0
    assert final["output"] == {"checksum": crc(bytes(record.trace)), "bytesize": len(record.trace)}
    assert final["checksum"] == crc(bytes(record.trace))
    # The fresh build directory is gone.
    assert not any((workdir / "builds").glob(f"{record.id}-*"))


def test_failing_script_reports_exit_code_and_still_runs_after_script(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake)
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=["echo before", "exit 3", "echo never"],
        after_script=["echo after: $CI_JOB_STATUS", "exit 1"],
    )
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "failed"
    assert record.final["failure_reason"] == "script_failure"
    assert record.final["exit_code"] == 3
    assert "never" not in record.text.replace("echo never", "")
    assert "after: failed" in record.text
    assert "after_script failed, but job will continue unaffected: exit code 1" in record.text
    assert "ERROR: Job failed: exit code 3" in record.text


def test_masked_value_split_across_reads_is_masked(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake)
    secret = "s3cr3t-v4lue-xyz"
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        # Two writes a pause apart: the job's output reaches the runner in two reads, and
        # the first patch is sent while the second half is not printed yet.
        script=[
            'printf "%s" "${SECRET:0:7}"; sleep 0.5; printf "%s\\n" "${SECRET:7}"',
            "echo glpat-AbCdEf123",
        ],
        variables=[{"key": "SECRET", "value": secret, "public": False, "masked": True}],
    )
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "success", record.text
    text = record.text
    assert secret not in text
    assert secret[:7] not in text.replace("${SECRET:0:7}", "")
    assert secret[7:] not in text
    assert "[MASKED]\n" in text
    assert "glpat-[MASKED]" in text
    assert "AbCdEf123" not in text
    assert record.token not in text  # the job token is always masked
    assert len([p for p in record.patches if p[1] == 202]) >= 2


def test_artifacts_pass_between_jobs_with_exclude_reports_and_outside_links_skipped(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake)
    build = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=[
            "mkdir -p out/sub",
            "echo built > out/result.txt",
            "echo deep > out/sub/deep.txt",
            "echo object > out/skip.o",
            "ln -s /etc/passwd out/passwd-link",
            "ln -s result.txt out/inner-link",
            "echo '<testsuite/>' > report.xml",
        ],
        artifacts=[
            {
                "name": "bundle",
                "untracked": False,
                "paths": ["out/", "../outside", "/etc/hostname"],
                "exclude": ["out/*.o"],
                "when": "on_success",
                "artifact_type": "archive",
                "artifact_format": "zip",
                "expire_in": "1 week",
            },
            {
                "name": "junit",
                "untracked": False,
                "paths": ["report.xml"],
                "when": "always",
                "artifact_type": "junit",
                "artifact_format": "gzip",
                "expire_in": "1 week",
            },
        ],
    )
    first, result = run_one(fake, config, build)
    assert result is not None
    assert result.state == "success", first.text
    filename, archive, query = first.artifacts["archive"]
    assert filename == "bundle.zip"
    assert query["artifact_format"] == ["zip"]
    assert query["artifact_type"] == ["archive"]
    assert query["expire_in"] == ["1 week"]
    import io
    import zipfile

    names = set(zipfile.ZipFile(io.BytesIO(archive)).namelist())
    assert {"out/", "out/result.txt", "out/sub/deep.txt", "out/inner-link"} <= names
    assert "out/skip.o" not in names
    assert "out/passwd-link" not in names
    assert not any("outside" in n or "hostname" in n for n in names)
    assert "out/passwd-link: symbolic link to a path outside the project directory" in first.text
    import gzip

    _, report, report_query = first.artifacts["junit"]
    assert report_query["artifact_format"] == ["gzip"]
    assert gzip.decompress(report) == b"<testsuite/>\n"

    consume = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=[
            "cat out/result.txt out/sub/deep.txt",
            "test -L out/inner-link",
            "test ! -e out/skip.o",
        ],
        dependencies=[
            {
                "id": first.id,
                "token": "",
                "name": "build",
                "artifacts_file": {"filename": "bundle.zip", "size": len(archive)},
            }
        ],
    )
    consume["dependencies"][0]["token"] = consume["token"]
    second, result = run_one(fake, config, consume)
    assert result is not None
    assert result.state == "success", second.text
    assert "built\ndeep" in second.text
    assert f"Downloading artifacts for build ({first.id})... ok" in second.text
    downloads = fake.calls("GET", rf"/jobs/{first.id}/artifacts")
    assert downloads
    assert downloads[0].headers["JOB-TOKEN"] == consume["token"]


def test_cache_is_saved_and_restored_by_key_and_policy(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake)
    cache = {
        "key": "deps-main",
        "untracked": False,
        "policy": "pull-push",
        "paths": ["vendor/"],
        "when": "on_success",
    }
    first, result = run_one(
        fake,
        config,
        job_payload(
            fake.new_job_id(),
            repo_url=url,
            sha=sha,
            script=["mkdir -p vendor", "echo cached-bits > vendor/lib.txt"],
            cache=[cache],
        ),
    )
    assert result is not None
    assert result.state == "success", first.text
    assert "Created cache deps-main" in first.text
    assert (workdir / "cache" / "project-1" / "deps-main.zip").is_file()

    pull_only = {**cache, "policy": "pull"}
    second, result = run_one(
        fake,
        config,
        job_payload(
            fake.new_job_id(),
            repo_url=url,
            sha=sha,
            script=["cat vendor/lib.txt", "echo changed > vendor/lib.txt"],
            cache=[pull_only],
        ),
    )
    assert result is not None
    assert result.state == "success", second.text
    assert "Successfully extracted cache deps-main" in second.text
    assert "cached-bits" in second.text
    assert "Creating cache" not in second.text  # policy pull never saves

    other_project = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=["test ! -e vendor/lib.txt"],
        cache=[pull_only],
        project_id=2,
    )
    third, result = run_one(fake, config, other_project)
    assert result is not None
    assert result.state == "success", third.text  # caches are per project


def test_trace_increments_are_contiguous_and_the_checksum_matches(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake)
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=["echo one", "sleep 0.4", "echo two", "sleep 0.4", "echo three"],
    )
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "success"
    accepted = [r for r, status in record.patches if status == 202]
    assert len(accepted) >= 3
    expected_start = 0
    for content_range in accepted:
        start, end = (int(x) for x in content_range.split("-"))
        assert start == expected_start
        expected_start = end + 1
    assert expected_start == len(record.trace)
    assert record.final["output"]["checksum"] == f"crc32:{zlib.crc32(bytes(record.trace)):08x}"
    # The request carried the runner's info and features, as gitlab-runner's does.
    request = fake.calls("POST", r"/jobs/request$")[-1]
    import json

    info = json.loads(request.body)["info"]
    assert info["executor"] == "shell"
    assert info["features"]["trace_checksum"] is True
    assert info["features"]["refspecs"] is True
    assert info["features"]["masking"] is True


def test_trace_resumes_from_the_servers_range_after_416(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake)
    lost = {"done": False}

    def lose_data(job, start, body):  # type: ignore[no-untyped-def]
        # On the third patch the server has lost the tail of what it had acknowledged.
        if len(job.patches) == 2 and not lost["done"]:
            lost["done"] = True
            del job.trace[len(job.trace) // 2 :]
        return

    fake.patch_hook = lose_data
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=["for i in 1 2 3 4 5 6; do echo line $i; sleep 0.15; done"],
    )
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "success", record.text
    statuses = [status for _, status in record.patches]
    assert 416 in statuses
    resumed = record.patches[statuses.index(416) + 1][0]
    assert int(resumed.split("-")[0]) < int(record.patches[statuses.index(416)][0].split("-")[0])
    assert all(f"line {i}" in record.text for i in range(1, 7))
    assert record.update_statuses[-1] == 200  # the checksum of the repaired trace matched


def test_final_update_retries_on_202_and_resends_the_trace_on_412(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake)
    answers = iter([202, 412])

    def final_answers(job, data):  # type: ignore[no-untyped-def]
        if data.get("state") in ("success", "failed"):
            return next(answers, None)
        return None

    fake.update_hook = final_answers
    record, result = run_one(
        fake, config, job_payload(fake.new_job_id(), repo_url=url, sha=sha, script=["echo done"])
    )
    assert result is not None
    assert result.state == "success"
    assert record.update_statuses[-3:] == [202, 412, 200]
    # After the 412 the whole trace went again, from offset 0.
    puts = [r for r in fake.requests if r.method == "PUT"]
    patches_after = [
        r
        for r in fake.requests
        if r.method == "PATCH" and fake.requests.index(r) > fake.requests.index(puts[-2])
    ]
    assert patches_after
    assert patches_after[0].headers["Content-Range"].startswith("0-")
    assert record.status == "success"


@pytest.mark.skipif(not SANDBOX.enabled, reason="only meaningful with the sandbox on")
def test_sandbox_status_is_reported_at_startup(fake: FakeCoordinator, workdir: Path) -> None:
    from kiln.runner.client import Coordinator
    from kiln.runner.executors import make_executor

    executor = make_executor(make_config(workdir, fake), Coordinator(fake.url))
    notes = {message: level for level, message in executor.startup_notes()}
    assert any("inside bubblewrap" in m for m in notes)
    executor = make_executor(make_config(workdir, fake, sandbox="none"), Coordinator(fake.url))
    assert any(level == "warning" and "NOT sandboxed" in m for level, m in executor.startup_notes())


@pytest.mark.skipif(not JOB_USER.switch, reason="jobs run as the runner's own user here")
def test_a_builds_dir_the_job_user_cannot_reach_is_reported(
    fake: FakeCoordinator, workdir: Path, tmp_path: Path
) -> None:
    from kiln.runner.client import Coordinator
    from kiln.runner.executors import make_executor

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    config = make_config(workdir, fake, builds_dir=str(private / "builds"))
    executor = make_executor(config, Coordinator(fake.url))
    assert any(
        level == "error" and "cannot reach" in message
        for level, message in executor.startup_notes()
    )

"""The CI/CD pages in a real browser against the real server (`kiln web`): a push with a
`.gitlab-ci.yml` becomes a pipeline, a runner (GitLab's runner protocol) runs its job, and the
user follows it from the pipelines list to the job's live log: coloured lines, a collapsible
section, and the lines the runner sends later appended by follow mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ci.runner_client import RunnerClient
from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, git, make_repo

pytestmark = pytest.mark.slow

CI_YAML = """\
stages: [build, test]

compile:
  stage: build
  script: [make]

check:
  stage: test
  needs: [compile]
  script: [make check]
"""


def test_follow_a_pipeline_to_its_live_job_log(
    git_url: str, page: Any, sign_in: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    root = client(git_url, ROOT_TOKEN)
    root.auth()
    assert root.user is not None
    root.projects.create({"name": "ui-ci", "visibility": "private"})
    work = make_repo(tmp_path / "work", {".gitlab-ci.yml": CI_YAML, "README.md": "hi\n"})
    git("push", "-q", authed(f"{git_url}/root/ui-ci.git", "root", ROOT_TOKEN), "main", cwd=work)
    runner = RunnerClient(git_url, root.user.runners.create({"runner_type": "instance_type"}).token)
    build = runner.request_job().json()
    first = (
        b"\x1b[32;1m$ make\x1b[0;m\n"
        b"section_start:1700000000:deps[collapsed=true]\r\x1b[0K\x1b[36;1mInstalling deps\x1b[0;m\n"
        b"fetched <script>window.pwned=1</script>\n"
        b"section_end:1700000003:deps\r\x1b[0K\n"
    )
    assert runner.patch_trace(build["id"], build["token"], first, 0).status_code == 202

    sign_in(git_url)
    page.goto(f"{git_url}/root/ui-ci/-/pipelines")
    row = page.get_by_role("row").filter(has_text="push")
    expect(row.get_by_role("link", name="Pipeline #")).to_contain_text("running")
    row.get_by_role("link", name="#", exact=False).first.click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    expect(page.get_by_label("Stage build")).to_contain_text("compile")
    expect(page.get_by_label("Stage test")).to_contain_text("Needs: compile")
    page.get_by_role("link", name="compile").click()

    log = page.locator("#job-log")
    expect(log.locator(".term-fg-green.term-bold")).to_have_text("$ make")
    section = log.locator("details.log-section")
    expect(section.locator("summary")).to_have_text("Installing deps")
    inner = section.get_by_text("fetched <script>window.pwned=1</script>")
    expect(inner).to_be_hidden()  # collapsed=true
    section.locator("summary").click()
    expect(inner).to_be_visible()
    assert page.evaluate("window.pwned") is None

    # Follow mode: what the runner sends next appears without a reload, then the finished
    # job's page comes back with its final status.
    more = b"\x1b[31mwarning: something red\x1b[0m\nall done\n"
    assert runner.patch_trace(build["id"], build["token"], more, len(first)).status_code == 202
    expect(log.locator(".term-fg-red")).to_have_text("warning: something red", timeout=15_000)
    full = first + more
    assert runner.update_job(build["id"], build["token"], "success", trace=full).status_code == 200
    expect(page.locator(".page-header [data-ci-status]").first).to_have_text(
        "passed", timeout=15_000
    )
    expect(page.get_by_role("link", name="Show complete raw")).to_be_visible()
    assert page.console_errors == []


PARENT_YAML = """\
ok-child:
  trigger:
    include: child.yml
    strategy: depend
broken-child:
  trigger:
    include: missing.yml
"""


def test_bridges_link_their_child_pipelines_and_back(
    git_url: str, page: Any, sign_in: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    root = client(git_url, ROOT_TOKEN)
    root.auth()
    project = root.projects.create({"name": "ui-parent", "visibility": "private"})
    files = {".gitlab-ci.yml": PARENT_YAML, "child.yml": "child-job:\n  script: [x]\n"}
    work = make_repo(tmp_path / "parent", files)
    git("push", "-q", authed(f"{git_url}/root/ui-parent.git", "root", ROOT_TOKEN), "main", cwd=work)
    [parent] = project.pipelines.list(get_all=True)
    bridges = {b.name: b for b in parent.bridges.list(get_all=True)}
    child_id = bridges["ok-child"].downstream_pipeline["id"]

    sign_in(git_url)
    page.goto(f"{git_url}/root/ui-parent/-/pipelines/{parent.id}")
    ok = page.locator("li.ci-job[data-job='ok-child']")
    expect(ok).to_contain_text("Child pipeline")
    expect(ok.locator(".ci-downstream [data-ci-status]")).to_have_attribute(
        "data-ci-status", "pending"
    )
    broken = page.locator("li.ci-job[data-job='broken-child']")
    expect(broken.get_by_role("alert")).to_contain_text("Local file `missing.yml` does not exist!")
    expect(broken.get_by_role("button", name="Retry broken-child")).to_be_visible()

    ok.get_by_role("link", name=f"#{child_id}").click()
    expect(page).to_have_url(f"{git_url}/root/ui-parent/-/pipelines/{child_id}")
    upstream = page.locator(".ci-upstream")
    expect(upstream).to_contain_text("Child pipeline of")
    expect(upstream).to_contain_text("ok-child")
    upstream.get_by_role("link", name=f"pipeline #{parent.id}").click()
    expect(page).to_have_url(f"{git_url}/root/ui-parent/-/pipelines/{parent.id}")

"""The Environments page of a project (`/<path>/-/environments`), its environment page and the
environment on the job page: who sees what (Reporters read, Developers stop, outsiders get
404), and in a real browser, stopping an environment plays its `on_stop` job."""

from __future__ import annotations

from typing import Any

import gitlab

from kiln.ci import statuses as st
from kiln.ci.models import Environment, Job
from tests.ci.builders import finish, instance_runner, latest_pipeline, project_with_ci, take
from tests.ci.test_environments import REVIEW
from tests.projects import builders as b
from tests.web.test_project_settings import forms_have_csrf, web_factory


def _deployed(name: str) -> tuple[Any, Any]:
    """A project whose review app for `main` is deployed (the stop job is manual)."""
    root = b.root_user()
    project = project_with_ci(root, REVIEW, name=name)
    runner = instance_runner()
    finish(take(runner).job)
    finish(take(runner).job)
    return project, runner


def test_environments_pages_and_permissions(
    gl: gitlab.Gitlab, server_url: str, make_user: Any
) -> None:
    project, _ = _deployed(b.unique("envpage"))
    environment = Environment.objects.get(project=project)
    reporter, _ = make_user("envreporter", password="password-123")
    make_user("envoutsider", password="password-123")
    gl.projects.get(project.pk, lazy=True).members.create(
        {"user_id": reporter.pk, "access_level": 20}
    )
    web = web_factory(server_url)
    base = f"/{project.full_path}/-/environments"

    as_root = web("root", password="root-password-1")
    page = as_root.get(base)
    assert page.status_code == 200
    assert "review/main" in page.text
    assert 'href="https://main.review.example.com"' in page.text
    assert "Stop review/main" in page.text
    forms_have_csrf(page.text)
    shown = as_root.get(f"{base}/{environment.pk}")
    assert shown.status_code == 200
    assert "deploy_review" in shown.text
    deploy = Job.objects.get(pipeline__project=project, name="deploy_review")
    job_page = as_root.get(f"/{project.full_path}/-/jobs/{deploy.pk}")
    assert f'href="{base}/{environment.pk}"' in job_page.text

    as_reporter = web("envreporter", password="password-123")
    listed = as_reporter.get(base)
    assert listed.status_code == 200
    assert "review/main" in listed.text
    assert "Stop review/main" not in listed.text
    assert as_reporter.post(f"{base}/{environment.pk}/stop").status_code == 404
    assert Environment.objects.get(pk=environment.pk).state == "available"

    as_outsider = web("envoutsider", password="password-123")
    for path in (base, f"{base}/{environment.pk}"):
        assert as_outsider.get(path).status_code == 404
    assert as_outsider.post(f"{base}/{environment.pk}/stop").status_code == 404
    assert web().get(base).status_code in (302, 404)
    assert as_root.get(f"{base}/999999").status_code == 404


def test_stop_an_environment_in_the_browser(server_url: str, page: Any, sign_in: Any) -> None:
    from playwright.sync_api import expect

    project, runner = _deployed(b.unique("envui"))
    sign_in(server_url)
    page.goto(f"{server_url}/{project.full_path}")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Environments").click()
    expect(page.get_by_role("heading", name="Environments")).to_be_visible()
    row = page.locator('tr[data-environment="review/main"]')
    expect(row).to_contain_text("available")
    expect(row.locator("[data-deployment-status]")).to_have_text("success")
    expect(row.get_by_role("link", name="Open")).to_have_attribute(
        "href", "https://main.review.example.com"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Stop review/main").click()
    expect(page.get_by_text("Stopping review/main")).to_be_visible()
    expect(row).to_contain_text("stopping")

    stop_job = take(runner).job
    assert stop_job.name == "stop_review"
    finish(stop_job)
    page.reload()
    page.get_by_role("link", name="Stopped 1").click()
    expect(page.locator('tr[data-environment="review/main"]')).to_contain_text("stopped")
    page.get_by_role("link", name="review/main").click()
    expect(page.get_by_role("heading", name="review/main")).to_be_visible()
    expect(page.get_by_text("deploy_review")).to_be_visible()
    assert latest_pipeline(project) is not None
    assert Job.objects.get(pk=stop_job.pk).status == st.SUCCESS
    assert page.console_errors == []

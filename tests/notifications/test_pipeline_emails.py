"""Pipeline emails: failed, fixed and successful pipelines to the pipeline's user, by their
notification level, with GitLab's subject and `X-GitLab-Pipeline-*` headers. Pipelines are
created by real commits through the API and run by a runner through the job services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab

from kiln.ci import statuses as st
from kiln.ci.models import Pipeline
from tests.ci.builders import instance_runner, run_next
from tests.notifications.support import MAINTAINER, header, member, set_custom, set_level
from tests.repositories.support import commit_files

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]

CI = "test:\n  script:\n    - echo hi\n"


class Pipelines:
    """Commits by one user (so the pipelines are theirs), each run to an end by a runner."""

    def __init__(self, project: Any, outbox: list[Any]) -> None:
        self.project, self.outbox = project, outbox
        self.runner = instance_runner()
        self.count = 0

    def run(self, state: str) -> Pipeline:
        self.count += 1
        commit_files(self.project, {"n.txt": f"{self.count}\n"}, message=f"Change {self.count}")
        self.outbox.clear()
        job = run_next(self.runner, state)
        return Pipeline.objects.get(pk=job.pipeline_id)

    def subjects(self) -> list[str]:
        return [m.subject for m in self.outbox]


def test_failed_fixed_and_successful_pipelines(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    dev, dgl = make_user("p-dev")
    watcher, wgl = make_user("p-watcher")
    project = gl.projects.create({"name": "notif-ci"})
    member(project, dev, MAINTAINER)  # pushes to the protected default branch
    member(project, watcher)
    set_level(wgl, project.id, "watch")  # watchers of the project do not hear of others' runs
    commit_files(dgl.projects.get(project.id), {".gitlab-ci.yml": CI}, message="Add CI")
    runs = Pipelines(dgl.projects.get(project.id), mailoutbox)
    runs.run(st.SUCCESS)  # the first pipeline of the ref (it was created with the CI file)

    # Failed: the default (participating) level takes it; only the pipeline's user hears.
    pipeline = runs.run(st.FAILED)
    assert pipeline.user_id == dev.pk
    [failed] = mailoutbox
    assert failed.to == [dev.email]
    assert failed.subject == f"notif-ci | Failed pipeline for main | {pipeline.sha[:8]}"
    assert header(failed, "X-GitLab-Pipeline-Id") == str(pipeline.pk)
    assert header(failed, "X-GitLab-Pipeline-Ref") == "main"
    assert header(failed, "X-GitLab-Pipeline-Status") == "failed"
    assert header(failed, "X-GitLab-Project-Id") == str(project.id)
    assert header(failed, "Auto-Submitted") == "auto-generated"
    assert header(failed, "In-Reply-To") == ""
    assert "It had 1 failed job:" in failed.body
    assert "  test: test" in failed.body
    assert f"/root/notif-ci/-/pipelines/{pipeline.pk}" in failed.body

    # Fixed: the previous pipeline of the ref failed.
    fixed = runs.run(st.SUCCESS)
    assert runs.subjects() == [f"notif-ci | Fixed pipeline for main | {fixed.sha[:8]}"]
    assert header(mailoutbox[0], "X-GitLab-Pipeline-Status") == "success"

    # A plain success: custom only.
    runs.run(st.SUCCESS)
    assert mailoutbox == []
    set_custom(dgl, project.id, on={"success_pipeline"})
    passed = runs.run(st.SUCCESS)
    assert runs.subjects() == [f"notif-ci | Successful pipeline for main | {passed.sha[:8]}"]
    # `failed_pipeline` off: no failure email; `success_pipeline` covers the fix after it.
    runs.run(st.FAILED)
    assert mailoutbox == []
    runs.run(st.SUCCESS)
    assert [s.split(" | ")[1] for s in runs.subjects()] == ["Fixed pipeline for main"]

    # Watch: failures and fixes, not plain successes. Mention and disabled: nothing.
    set_level(dgl, project.id, "watch")
    runs.run(st.SUCCESS)
    assert mailoutbox == []
    runs.run(st.FAILED)
    assert len(mailoutbox) == 1
    for level in ("mention", "disabled"):
        set_level(dgl, project.id, level)
        runs.run(st.FAILED)
        assert mailoutbox == []

    # The user lost access to the project: nothing, even with the default level.
    set_level(dgl, project.id, "global")
    commit_files(runs.project, {"n.txt": "last\n"}, message="Last")
    project.members.delete(dev.pk)
    mailoutbox.clear()
    run_next(runs.runner, st.FAILED)
    assert mailoutbox == []


def test_no_pipeline_email_when_the_project_turned_emails_off(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    dev, dgl = make_user("q-dev")
    project = gl.projects.create({"name": "quiet-ci"})
    member(project, dev, MAINTAINER)
    commit_files(dgl.projects.get(project.id), {".gitlab-ci.yml": CI}, message="Add CI")
    runs = Pipelines(dgl.projects.get(project.id), mailoutbox)
    runs.run(st.FAILED)
    runs.run(st.FAILED)
    assert len(mailoutbox) == 1  # still failing: a failure email again
    gl.projects.update(project.id, {"emails_enabled": False})
    runs.run(st.FAILED)
    assert mailoutbox == []

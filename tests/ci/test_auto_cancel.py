"""`interruptible` and the project setting `auto_cancel_pending_pipelines`: a newer pipeline of
a branch cancels the older one when nothing non-interruptible of it has started."""

from __future__ import annotations

import gitlab

from kiln.ci import statuses as st
from kiln.ci.models import Job, Pipeline
from tests.ci.builders import commit, instance_runner, latest_pipeline, project_with_ci, take
from tests.projects import builders as b

INTERRUPTIBLE = """\
stages: [build, test]
build:
  stage: build
  interruptible: true
  script: [make]
test:
  stage: test
  script: [make test]
"""


def _pipelines(project: object) -> list[Pipeline]:
    return list(Pipeline.objects.filter(project=project).order_by("pk"))


def test_newer_pipeline_cancels_interruptible_older_one(gl: gitlab.Gitlab) -> None:
    root = b.root_user()
    project = project_with_ci(root, INTERRUPTIBLE, name=b.unique("ac"))
    first = latest_pipeline(project)
    assert first is not None
    assert first.status == st.PENDING
    # The interruptible job even runs: still canceled.
    runner = instance_runner()
    take(runner)
    commit(root, project, {"README.md": "two\n"})
    first.refresh_from_db()
    assert first.status == st.CANCELED
    assert set(Job.objects.filter(pipeline=first).values_list("status", flat=True)) == {st.CANCELED}
    second = latest_pipeline(project)
    assert second is not None
    assert second.pk != first.pk
    assert second.status == st.PENDING


def test_started_non_interruptible_job_keeps_the_older_pipeline(gl: gitlab.Gitlab) -> None:
    root = b.root_user()
    config = INTERRUPTIBLE.replace("  interruptible: true\n", "")
    project = project_with_ci(root, config, name=b.unique("ac"))
    first = latest_pipeline(project)
    assert first is not None
    take(instance_runner())  # `build` (not interruptible) is running
    commit(root, project, {"README.md": "two\n"})
    first.refresh_from_db()
    assert first.status == st.RUNNING
    # Not started yet: canceled even without `interruptible`.
    commit(root, project, {"README.md": "three\n"})
    pipelines = _pipelines(project)
    assert [p.status for p in pipelines] == [st.RUNNING, st.CANCELED, st.PENDING]


def test_the_project_setting_turns_it_off(gl: gitlab.Gitlab) -> None:
    root = b.root_user()
    project = project_with_ci(root, INTERRUPTIBLE, name=b.unique("ac"))
    remote = gl.projects.get(project.pk)
    remote.auto_cancel_pending_pipelines = "disabled"
    remote.save()
    commit(root, project, {"README.md": "two\n"})
    assert [p.status for p in _pipelines(project)] == [st.PENDING, st.PENDING]

"""Helpers for the merge request tests: projects with branches, merge requests, raw HTTP."""

from __future__ import annotations

from typing import Any

import gitlab
import requests

from tests.repositories.support import commit_files, create_project


def api(server_url: str, token: str | None) -> requests.Session:
    session = requests.Session()
    if token is not None:
        session.headers["PRIVATE-TOKEN"] = token
    session.base_url = f"{server_url}/api/v4"  # type: ignore[attr-defined]
    return session


def call(session: requests.Session, method: str, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("timeout", 60)
    return session.request(method, session.base_url + path, **kwargs)  # type: ignore[attr-defined]


def project_with_branch(
    gl: gitlab.Gitlab,
    name: str,
    *,
    base: dict[str, str] | None = None,
    branch: str = "feature",
    changes: dict[str, str] | None = None,
    visibility: str = "private",
    message: str = "Feature change",
    namespace_id: int | None = None,
) -> Any:
    """A project whose `main` holds `base` and whose `branch` adds `changes` on top."""
    if namespace_id is None:
        project = create_project(gl, name, base or {"README.md": "# base\n"}, visibility=visibility)
    else:
        created = gl.projects.create(
            {"name": name, "visibility": visibility, "namespace_id": namespace_id}
        )
        commit_files(created, base or {"README.md": "# base\n"}, message="Initial commit")
        project = gl.projects.get(created.id)
    project.branches.create({"branch": branch, "ref": "main"})
    commit_files(project, changes or {"feature.txt": "feature\n"}, branch=branch, message=message)
    return project


def open_mr(
    project: Any, *, source: str = "feature", title: str = "Add feature", **extra: Any
) -> Any:
    return project.mergerequests.create(
        {"source_branch": source, "target_branch": "main", "title": title, **extra}
    )


def branch_head(project_id: int, branch: str) -> str | None:
    from tests.repositories.support import head_of

    return head_of(project_id, branch)


def commit_of(project_id: int, sha: str) -> Any:
    from kiln.projects.models import Project
    from kiln.repositories.storage import repo_path, store

    path = repo_path(Project.objects.get(pk=project_id))
    return store().get_commit(relative_path=path, revision=sha)

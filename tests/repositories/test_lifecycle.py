"""A project's repository follows the project: created with it (with a README when asked)."""

from __future__ import annotations

import gitlab


def test_initialize_with_readme(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create(
        {"name": "Fresh Start", "initialize_with_readme": True, "default_branch": "trunk"}
    )
    assert project.empty_repo is False
    assert project.default_branch == "trunk"
    readme = project.files.get("README.md", ref="trunk")
    assert readme.decode() == b"# Fresh Start\n"
    commit = project.commits.get("trunk")
    assert commit.title == "Initial commit"
    assert commit.author_name == "Administrator"
    # The default branch is protected from the start.
    assert [b.name for b in project.protectedbranches.list()] == ["trunk"]


def test_plain_project_is_empty_and_deleting_removes_the_repository(gl: gitlab.Gitlab) -> None:
    from kiln.projects.models import Project
    from kiln.repositories.storage import repo_path, store

    project = gl.projects.create({"name": "Plain"})
    assert project.empty_repo is True
    path = repo_path(Project.objects.get(pk=project.id))
    assert store().repository_exists(relative_path=path)
    project.delete()
    assert not store().repository_exists(relative_path=path)

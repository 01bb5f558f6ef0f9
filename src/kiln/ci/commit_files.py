"""Reading a pipeline's files at its commit: the configuration, the commit's paths (listed
only when a rule asks), the paths a push changed, and `include:` sources (other projects only
as the pipeline's user may read their code)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import overload

from kiln.ci.config import BundledTemplates, IncludeNotFoundError
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.gitstore import GitStoreError
from kiln.projects.models import Project
from kiln.projects.queries import find_project
from kiln.repositories.storage import repo_path, store

MAX_CONFIG_BYTES = 1024 * 1024


def read_config_text(project: Project, revision: str, path: str) -> str | None:
    """The text of the file at `path` in `revision`, if it is a small enough regular file."""
    try:
        blob = store().get_blob_at(
            relative_path=repo_path(project),
            revision=revision,
            path=path,
            max_size=MAX_CONFIG_BYTES + 1,
        )
    except (GitStoreError, ValueError):
        return None
    if blob.is_symlink:
        return None
    return blob.data.decode("utf-8", errors="replace")


class LazyPaths(Sequence[str]):
    """The commit's file paths, listed only if a rule asks (`exists:`, wildcard includes)."""

    def __init__(self, load: Callable[[], list[str]]) -> None:
        self._load = load
        self._paths: list[str] | None = None

    def _all(self) -> list[str]:
        if self._paths is None:
            self._paths = self._load()
        return self._paths

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())


def tree_paths(project: Project, revision: str) -> list[str]:
    try:
        entries = store().list_tree(
            relative_path=repo_path(project), revision=revision, recursive=True
        )
    except GitStoreError:
        return []
    return [entry.path for entry in entries if entry.type == "blob"]


def paths_changed(project: Project, before: str, after: str) -> list[str]:
    try:
        diffs = store().diff(
            relative_path=repo_path(project),
            from_revision=before,
            to_revision=after,
            max_patch_bytes=1,
        )
    except GitStoreError:
        return []
    paths: list[str] = []
    for item in diffs:
        for path in (item.old_path, item.new_path):
            if path and path not in paths:
                paths.append(path)
    return paths


class ProjectIncludeFetcher:
    """`include:` sources for one pipeline; other projects only as the pipeline's user."""

    def __init__(self, project: Project, sha: str, actor: Actor) -> None:
        self._project = project
        self.sha = sha
        self.actor = actor
        self.paths = LazyPaths(lambda: tree_paths(project, sha))
        self.templates = BundledTemplates()

    def local(self, path: str) -> str | None:
        return read_config_text(self._project, self.sha, path.lstrip("/"))

    def local_paths(self) -> Sequence[str]:
        return self.paths

    def project(self, project: str, ref: str | None, path: str) -> str | None:
        other = find_project(project)
        if other is None or not can(self.actor, "read_code", other):
            raise IncludeNotFoundError("project")
        revision = ref or other.default_branch
        try:
            sha = store().resolve_revision(relative_path=repo_path(other), revision=revision)
        except (GitStoreError, ValueError):
            sha = None
        if sha is None:
            raise IncludeNotFoundError("ref")
        return read_config_text(other, sha, path.lstrip("/"))

    def template(self, name: str) -> str | None:
        return self.templates(name)

    def remote(self, url: str) -> str | None:
        return None

    def artifact(self, job: str, path: str) -> str | None:
        # Only child pipelines read artifacts (kiln.ci.downstream's fetcher).
        return None

"""What the hostile-input tests send, and the target project they send it to.

Every test asserts GitLab's 4xx body and, through the `unchanged` fixture, that nothing was
written: the target's refs and push records are as before and no file appeared outside the
repository (the canary a `--output=` option would have created)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.repositories.support import (
    World,
    bare_path,
    create_project,
    fetch_into,
    snapshot,
    world_for,
)
from tests.support.git import git

# A fixed name: it appears in the parametrized test ids, which must be the same in every
# xdist worker. It must never exist; no test creates it on purpose.
CANARY = Path("/tmp/kiln-hostile-canary")

# One of each way a name or revision could be read as an option or as revision syntax, or is
# refused by git's ref rules.
HOSTILE_REFS = [
    f"--output={CANARY}",
    f"refs/heads/--upload-pack=touch {CANARY}",
    "main..feature",
    "a:b",
    "main^",
    "main~1",
    "main@{1}",
    ":/Initial",
    "a\x01b",
    "a b",
    "a*b",
    "../../etc/passwd",
]
HOSTILE_PATHS = [
    "../etc/passwd",
    "a/../../etc/passwd",
    "..",
    "/etc/passwd",
    ".git/config",
    ".GIT/hooks/pre-receive",
    "sub/.git/x",
    "git~1/config",
    "a//b",
    "a\nb",
]
FILE_PATH_ERROR = {"error": "file_path should be a valid file path"}


def encoded(value: str) -> str:
    """A path segment, percent-encoded so that it reaches the API as one segment (also `..`)."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def target_world(kiln_server: Any, django_db_blocker: Any, work_dir: Path) -> Iterator[World]:
    """A private project with `main`, `feature`, a directory and two committed symlinks."""

    def build(world: World) -> None:
        project = create_project(
            world.root.gl, "target", {"README.md": "t\n", "real/in.txt": "in\n"}
        )
        project.branches.create({"branch": "feature", "ref": "main"})
        work = work_dir / "work"
        git("clone", "-q", str(bare_path(project.id)), str(work))
        (work / "to-real").symlink_to("real")
        (work / "to-tmp").symlink_to("/tmp")
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "Links", cwd=work)
        fetch_into(project.id, work)
        world.projects["target"] = project

    with world_for(kiln_server, django_db_blocker, build) as built:
        yield built


def unchanged_target(world: World) -> Iterator[int]:
    project_id = world.projects["target"].id
    before = snapshot(project_id)
    yield project_id
    assert snapshot(project_id) == before
    assert not CANARY.exists()

"""Where CI files live on disk: artifacts under KILN_DATA_DIR/artifacts, job logs under
KILN_DATA_DIR/builds.

Paths are built from database ids only (never from a name a user chose), so nothing here can
be steered outside its root. Writers create a file next to its final place and rename it
there, so a reader never sees half a file. An object-store implementation can replace this
module's functions later; callers only pass ids and relative paths around.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from django.conf import settings


def artifacts_root() -> Path:
    return Path(settings.DATA_DIR) / "artifacts"


def traces_root() -> Path:
    return Path(settings.DATA_DIR) / "builds"


def _shard(number: int) -> str:
    return f"{number % 256:02x}"


def new_artifact_path(project_id: int, job_id: int, file_type: str) -> str:
    """A fresh relative path for an artifact of a job (a new name on each upload)."""
    if not file_type.isidentifier():
        raise ValueError("invalid artifact type")
    return f"{_shard(project_id)}/{project_id}/{job_id}/{file_type}-{uuid.uuid4().hex}"


def artifact_file(relative: str) -> Path:
    root = artifacts_root().resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ValueError("artifact path escapes the artifacts root")
    return path


def upload_dir() -> Path:
    """Temporary files of uploads in progress, on the same filesystem as the artifacts."""
    path = artifacts_root() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(temporary: Path, relative: str) -> Path:
    """Move a finished upload into its place."""
    target = artifact_file(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temporary, target)
    return target


def delete_artifact(relative: str) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError):
        artifact_file(relative).unlink()


def trace_file(job_id: int) -> Path:
    return traces_root() / _shard(job_id) / f"{job_id}.log"


def trace_size(job_id: int) -> int:
    try:
        return trace_file(job_id).stat().st_size
    except FileNotFoundError:
        return 0


def append_trace(job_id: int, offset: int, data: bytes) -> int:
    """Write `data` at `offset` (truncating what follows it); returns the new size.

    The caller holds the job's row lock, so appends of one job never interleave.
    """
    path = trace_file(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        return offset + len(data)
    finally:
        os.close(fd)


def read_trace(job_id: int, *, limit: int | None = None) -> bytes:
    try:
        with trace_file(job_id).open("rb") as fh:
            return fh.read() if limit is None else fh.read(limit)
    except FileNotFoundError:
        return b""


def delete_trace(job_id: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        trace_file(job_id).unlink()

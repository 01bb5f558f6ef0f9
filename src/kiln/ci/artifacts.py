"""Job artifacts: uploads from runners, downloads, and single files out of an archive.

Uploads are multipart bodies streamed to a temporary file next to the artifacts (never held in
memory) and refused with 413 once they pass the size cap: the group's `max_artifacts_size`,
else the instance's (default 100 MB, GitLab's). A Content-Length over the cap is refused
before anything is read. Archives are never extracted on the server; one file is read out of
a zip only to serve `artifacts/*path`, by its exact name, never a symlink or directory entry.

A `dotenv` report is parsed (GitLab's limits: 20 variables, 5 KB) into variables for the jobs
that depend on the job.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.core.files.uploadhandler import FileUploadHandler
from django.db import transaction
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils import timezone

from kiln.ci import storage
from kiln.ci.config.durations import parse_duration
from kiln.ci.models import ArtifactType, Job, JobArtifact
from kiln.core import appsettings
from kiln.core.errors import BadRequest, KilnError, NotFound

DEFAULT_MAX_MB = 100
DEFAULT_EXPIRE_SECONDS = 30 * 24 * 3600
# A multipart envelope around the file (boundaries, part headers) is never this big.
ENVELOPE_SLACK = 64 * 1024
CHUNK = 256 * 1024
DOTENV_MAX_BYTES = 5 * 1024
DOTENV_MAX_VARIABLES = 20
FORMATS = ("zip", "gzip", "raw")


class ArtifactTooLarge(KilnError):
    status = 413
    reason = "artifact_too_large"

    def __init__(self) -> None:
        super().__init__("file size has reached maximum size limit")


def max_artifact_bytes(job: Job) -> int:
    megabytes = job.project.namespace.max_artifacts_size
    if not megabytes:
        megabytes = getattr(appsettings.current(), "max_artifacts_size", None) or DEFAULT_MAX_MB
    return int(megabytes) * 1024 * 1024


# --- upload ---------------------------------------------------------------------------------


@dataclass
class _Received:
    path: Path
    filename: str
    size: int
    sha256: str


class _CappedFileHandler(FileUploadHandler):
    """Writes the `file` part to a temporary file, counting bytes; other parts are dropped."""

    chunk_size = CHUNK

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.received: _Received | None = None
        self._fh: IO[bytes] | None = None
        self._path: Path | None = None
        self._size = 0
        self._hash = hashlib.sha256()
        self._active = False

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self._active = field_name == "file" and self.received is None and self._fh is None
        if self._active:
            fd, name = tempfile.mkstemp(dir=storage.upload_dir(), prefix="upload-")
            self._fh = os.fdopen(fd, "wb")
            self._path = Path(name)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if not self._active or self._fh is None:
            return
        self._size += len(raw_data)
        if self._size > self.cap:
            raise ArtifactTooLarge()
        self._fh.write(raw_data)
        self._hash.update(raw_data)

    def file_complete(self, file_size: int) -> None:
        if self._active and self._fh is not None and self._path is not None:
            self._fh.close()
            self.received = _Received(
                self._path,
                os.path.basename(self.file_name or "artifacts"),
                self._size,
                self._hash.hexdigest(),
            )
            self._active = False

    def cleanup(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        if self._path is not None and (self.received is None or not self.received.path.exists()):
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()


def receive_upload(meta: Mapping[str, Any], stream: IO[bytes], *, cap: int) -> _Received:
    """Parse a multipart body from `stream`, keeping its `file` part (at most `cap` bytes)."""
    length = str(meta.get("CONTENT_LENGTH") or "")
    if length.isdigit() and int(length) > cap + ENVELOPE_SLACK:
        raise ArtifactTooLarge()
    parser_meta = dict(meta)
    if not length.isdigit() or int(length) == 0:
        # Chunked: the stream ends where the body ends; the parser only needs "not empty".
        parser_meta["CONTENT_LENGTH"] = "1"
    handler = _CappedFileHandler(cap)
    try:
        MultiPartParser(parser_meta, stream, [handler], "utf-8").parse()  # type: ignore[arg-type]
    except MultiPartParserError:
        handler.cleanup()
        raise BadRequest("file is missing") from None
    except BaseException:
        handler.cleanup()
        raise
    if handler.received is None:
        handler.cleanup()
        raise BadRequest("file is missing")
    return handler.received


def _expire_at(expire_in: str | None) -> Any:
    if expire_in is None or expire_in == "":
        return timezone.now() + timedelta(seconds=DEFAULT_EXPIRE_SECONDS)
    if expire_in.strip().lower() == "never":
        return None
    seconds = parse_duration(expire_in)
    if seconds is None:
        raise BadRequest("expire_in is invalid")
    return timezone.now() + timedelta(seconds=seconds)


def parse_dotenv(data: bytes) -> list[dict[str, str]]:
    """GitLab's dotenv report rules: KEY=VALUE lines, at most 20 variables and 5 KB."""
    if len(data) > DOTENV_MAX_BYTES:
        raise BadRequest("Dotenv Artifact Too Big. Maximum Allowable Size: 5 KB")
    variables: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[a-zA-Z0-9_]+", key):
            raise BadRequest("Validation failed: Key can contain only letters, digits and '_'.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        variables[key] = value
    if len(variables) > DOTENV_MAX_VARIABLES:
        raise BadRequest(f"Dotenv files cannot have more than {DOTENV_MAX_VARIABLES} variables")
    return [{"key": k, "value": v} for k, v in variables.items()]


def store_artifact(
    job: Job,
    received: _Received,
    *,
    artifact_type: str,
    artifact_format: str,
    expire_in: str | None,
) -> JobArtifact:
    """Keep an upload as the job's artifact of `artifact_type` (replacing an earlier one)."""
    try:
        if artifact_type not in ArtifactType.values:
            raise BadRequest("artifact_type does not have a valid value")
        if artifact_format not in FORMATS:
            raise BadRequest("artifact_format does not have a valid value")
        expire_at = _expire_at(expire_in)
        dotenv: list[dict[str, str]] | None = None
        if artifact_type == ArtifactType.DOTENV:
            with received.path.open("rb") as fh:
                raw = fh.read(DOTENV_MAX_BYTES * 20)
            if artifact_format == "gzip":
                try:
                    raw = gzip.GzipFile(fileobj=io.BytesIO(raw)).read(DOTENV_MAX_BYTES + 1)
                except (OSError, EOFError):
                    raise BadRequest("Dotenv artifact is not valid gzip") from None
            dotenv = parse_dotenv(raw)
        relative = storage.new_artifact_path(job.project_id, job.pk, artifact_type)
        storage.store_upload(received.path, relative)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            received.path.unlink()
        raise
    old_paths: list[str] = []
    with transaction.atomic():
        for old in JobArtifact.objects.filter(job=job, file_type=artifact_type):
            old_paths.append(old.storage_path)
            old.delete()
        artifact = JobArtifact.objects.create(
            job=job,
            project_id=job.project_id,
            file_type=artifact_type,
            file_format=artifact_format,
            filename=received.filename[:255] or "artifacts.zip",
            size=received.size,
            file_sha256=received.sha256,
            storage_path=relative,
            expire_at=expire_at,
        )
        fields = []
        if artifact_type == ArtifactType.ARCHIVE:
            job.artifacts_expire_at = expire_at
            fields.append("artifacts_expire_at")
        if dotenv is not None:
            job.dotenv_variables = dotenv
            fields.append("dotenv_variables")
        if fields:
            job.save(update_fields=fields)

        def remove_old() -> None:
            for path in old_paths:
                storage.delete_artifact(path)

        transaction.on_commit(remove_old)
    return artifact


# --- download -------------------------------------------------------------------------------


def archive_of(job: Job) -> JobArtifact | None:
    """The job's artifacts archive if it has one that has not expired."""
    artifact = JobArtifact.objects.filter(job=job, file_type=ArtifactType.ARCHIVE).first()
    if artifact is None:
        return None
    if artifact.expire_at is not None and artifact.expire_at < timezone.now():
        return None
    return artifact


def artifact_path(artifact: JobArtifact) -> Path:
    return storage.artifact_file(artifact.storage_path)


def _safe_member_name(path: str) -> str:
    name = path.strip()
    parts = name.split("/")
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise NotFound("File")
    return name


def open_member(artifact: JobArtifact, path: str) -> tuple[zipfile.ZipInfo, Iterator[bytes]]:
    """One regular file of a zip archive, by its exact name, streamed in chunks."""
    name = _safe_member_name(path)
    file = artifact_path(artifact)
    try:
        archive = zipfile.ZipFile(file)
    except (OSError, zipfile.BadZipFile):
        raise NotFound("File") from None
    try:
        info = archive.getinfo(name)
    except KeyError:
        archive.close()
        raise NotFound("File") from None
    mode = info.external_attr >> 16
    if info.is_dir() or stat.S_ISLNK(mode):
        archive.close()
        raise NotFound("File")

    def chunks() -> Iterator[bytes]:
        try:
            with archive.open(info) as member:
                while chunk := member.read(CHUNK):
                    yield chunk
        finally:
            archive.close()

    return info, chunks()

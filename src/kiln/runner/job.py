"""The job payload of `POST /api/v4/jobs/request`, as gitlab-runner's `common.JobResponse` reads it.

Parsing is lenient in what it accepts (a missing field takes gitlab-runner's zero value) and
strict in what it lets through to a shell: nothing here is trusted yet, the executors quote
every value they use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT = 3600  # seconds, GitLab's default job timeout
DEFAULT_AFTER_SCRIPT_TIMEOUT = 300  # gitlab-runner's default for after_script


@dataclass(frozen=True)
class Variable:
    key: str
    value: str
    public: bool = False
    file: bool = False
    masked: bool = False
    raw: bool = False


@dataclass(frozen=True)
class GitInfo:
    repo_url: str = ""
    ref: str = ""
    sha: str = ""
    before_sha: str = ""
    ref_type: str = ""
    refspecs: tuple[str, ...] = ()
    depth: int = 0


@dataclass(frozen=True)
class Step:
    name: str
    script: tuple[str, ...]
    timeout: int = 0
    when: str = "on_success"
    allow_failure: bool = False


@dataclass(frozen=True)
class Artifact:
    name: str = ""
    untracked: bool = False
    paths: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    when: str = "on_success"
    artifact_type: str = "archive"
    artifact_format: str = "zip"
    expire_in: str = ""

    def wanted(self, *, success: bool) -> bool:
        when = self.when or "on_success"
        if success:
            return when in ("on_success", "always")
        return when in ("on_failure", "always")


@dataclass(frozen=True)
class Cache:
    key: str = ""
    key_files: tuple[str, ...] = ()  # `key:files` when the server left the hashing to us
    key_prefix: str = ""
    untracked: bool = False
    policy: str = "pull-push"
    paths: tuple[str, ...] = ()
    when: str = "on_success"
    fallback_keys: tuple[str, ...] = ()

    def pulls(self) -> bool:
        return (self.policy or "pull-push") in ("pull-push", "pull")

    def pushes(self) -> bool:
        return (self.policy or "pull-push") in ("pull-push", "push")

    def wanted(self, *, success: bool) -> bool:
        when = self.when or "on_success"
        if success:
            return when in ("on_success", "always")
        return when in ("on_failure", "always")


@dataclass(frozen=True)
class Dependency:
    id: int
    token: str
    name: str
    artifacts_filename: str = ""
    artifacts_size: int = 0


@dataclass(frozen=True)
class Image:
    name: str = ""
    entrypoint: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    alias: str = ""


@dataclass(frozen=True)
class Features:
    trace_sections: bool = False
    token_mask_prefixes: tuple[str, ...] = ()
    failure_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    id: int
    token: str
    name: str = ""
    stage: str = ""
    project_id: int = 0
    project_name: str = ""
    allow_git_fetch: bool = True
    git_info: GitInfo = field(default_factory=GitInfo)
    timeout: int = DEFAULT_TIMEOUT
    variables: tuple[Variable, ...] = ()
    steps: tuple[Step, ...] = ()
    image: Image = field(default_factory=Image)
    services: tuple[Image, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    caches: tuple[Cache, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    features: Features = field(default_factory=Features)

    def variable(self, key: str, default: str = "") -> str:
        """The last definition wins, as in gitlab-runner's `JobVariables.Get`."""
        for variable in reversed(self.variables):
            if variable.key == key:
                return variable.value
        return default

    def step(self, name: str) -> Step | None:
        for step in self.steps:
            if step.name == name:
                return step
        return None

    def masked_values(self) -> list[str]:
        values = {v.value for v in self.variables if v.masked and v.value}
        values.add(self.token)
        return sorted(values)

    def failure_reason(self, wanted: str, fallback: str = "script_failure") -> str:
        """`wanted` if the server said it knows it (features.failure_reasons), else `fallback`.

        gitlab-runner sends only reasons the server lists; an older server that lists none
        still knows the basic ones.
        """
        basic = ("script_failure", "runner_system_failure", "job_execution_timeout")
        known = self.features.failure_reasons
        if wanted in known or (not known and wanted in basic):
            return wanted
        return fallback


class PayloadError(ValueError):
    """The server sent a job this runner cannot read."""


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(_str(item) for item in value if item is not None)
    return ()


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _image(data: Any) -> Image:
    if not isinstance(data, Mapping):
        return Image()
    return Image(
        name=_str(data.get("name")),
        entrypoint=_strs(data.get("entrypoint")),
        command=_strs(data.get("command")),
        alias=_str(data.get("alias")),
    )


def _cache(data: Mapping[str, Any]) -> Cache:
    key = data.get("key")
    key_files: tuple[str, ...] = ()
    key_prefix = ""
    if isinstance(key, Mapping):
        key_files = _strs(key.get("files"))
        key_prefix = _str(key.get("prefix"))
        key = ""
    return Cache(
        key=_str(key),
        key_files=key_files,
        key_prefix=key_prefix,
        untracked=bool(data.get("untracked")),
        policy=_str(data.get("policy")) or "pull-push",
        paths=_strs(data.get("paths")),
        when=_str(data.get("when")) or "on_success",
        fallback_keys=_strs(data.get("fallback_keys")),
    )


def parse_job(data: Mapping[str, Any]) -> Job:
    job_id = _int(data.get("id"))
    token = _str(data.get("token"))
    if job_id <= 0 or not token:
        raise PayloadError("the job has no id or no token")
    info = _map(data.get("job_info"))
    git = _map(data.get("git_info"))
    runner_info = _map(data.get("runner_info"))
    features = _map(data.get("features"))
    variables = tuple(
        Variable(
            key=_str(v.get("key")),
            value=_str(v.get("value")),
            public=bool(v.get("public")),
            file=bool(v.get("file")),
            masked=bool(v.get("masked")),
            raw=bool(v.get("raw")),
        )
        for v in _dicts(data.get("variables"))
        if _str(v.get("key"))
    )
    steps = tuple(
        Step(
            name=_str(s.get("name")),
            script=_strs(s.get("script")),
            timeout=_int(s.get("timeout")),
            when=_str(s.get("when")) or "on_success",
            allow_failure=bool(s.get("allow_failure")),
        )
        for s in _dicts(data.get("steps"))
    )
    artifacts = tuple(
        Artifact(
            name=_str(a.get("name")),
            untracked=bool(a.get("untracked")),
            paths=_strs(a.get("paths")),
            exclude=_strs(a.get("exclude")),
            when=_str(a.get("when")) or "on_success",
            artifact_type=_str(a.get("artifact_type")) or "archive",
            artifact_format=_str(a.get("artifact_format")) or "zip",
            expire_in=_str(a.get("expire_in")),
        )
        for a in _dicts(data.get("artifacts"))
    )
    dependencies = []
    for d in _dicts(data.get("dependencies")):
        file_info = _map(d.get("artifacts_file"))
        dependencies.append(
            Dependency(
                id=_int(d.get("id")),
                token=_str(d.get("token")) or token,
                name=_str(d.get("name")),
                artifacts_filename=_str(file_info.get("filename")),
                artifacts_size=_int(file_info.get("size")),
            )
        )
    return Job(
        id=job_id,
        token=token,
        name=_str(info.get("name")),
        stage=_str(info.get("stage")),
        project_id=_int(info.get("project_id")),
        project_name=_str(info.get("project_name")),
        allow_git_fetch=bool(data.get("allow_git_fetch", True)),
        git_info=GitInfo(
            repo_url=_str(git.get("repo_url")),
            ref=_str(git.get("ref")),
            sha=_str(git.get("sha")),
            before_sha=_str(git.get("before_sha")),
            ref_type=_str(git.get("ref_type")),
            refspecs=_strs(git.get("refspecs")),
            depth=_int(git.get("depth")),
        ),
        timeout=_int(runner_info.get("timeout"), DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT,
        variables=variables,
        steps=steps,
        image=_image(data.get("image")),
        services=tuple(_image(s) for s in _dicts(data.get("services"))),
        artifacts=artifacts,
        caches=tuple(_cache(c) for c in _dicts(data.get("cache"))),
        dependencies=tuple(dependencies),
        features=Features(
            trace_sections=bool(features.get("trace_sections")),
            token_mask_prefixes=_strs(features.get("token_mask_prefixes")),
            failure_reasons=_strs(features.get("failure_reasons")),
        ),
    )


_REFERENCE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\$))")


def expand(value: str, lookup: Mapping[str, str]) -> str:
    """`$NAME`, `${NAME}` and `$$` as gitlab-runner's `ExpandValue`; unknown names stay literal.

    Leaving an unknown reference as written (instead of making it empty) lets the job's
    shell still see `$HOME` or `$PATH` where a user wrote them.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(3):
            return "$"
        name = match.group(1) or match.group(2)
        return lookup.get(name, match.group(0))

    return _REFERENCE.sub(replace, value)


def resolve_variables(variables: Iterable[Variable]) -> list[Variable]:
    """Expand non-raw values against the other variables, in one pass (no recursion).

    Later definitions of a key override earlier ones; the order of first appearance is kept.
    """
    merged: dict[str, Variable] = {}
    for variable in variables:
        merged.pop(variable.key, None)
        merged[variable.key] = variable
    raw_values = {key: v.value for key, v in merged.items()}
    resolved = []
    for variable in merged.values():
        if variable.raw or "$" not in variable.value:
            resolved.append(variable)
            continue
        resolved.append(
            Variable(
                key=variable.key,
                value=expand(variable.value, raw_values),
                public=variable.public,
                file=variable.file,
                masked=variable.masked,
                raw=variable.raw,
            )
        )
    return resolved


VALID_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

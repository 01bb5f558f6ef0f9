"""`include:` — assembling one configuration from several files.

Each file's includes are expanded first (depth first), merged in the order listed, and
the including file is merged on top: `deep_merge(include_1, include_2, ..., self)`.

Sources:

* `local:`    a file of the same commit (a string that is not a URL means local);
              `*` wildcards match the commit's paths with GitLab's glob rules;
* `project:`  `file:` (one or a list) at `ref:` of another project; the fetcher checks
              that the pipeline's user may read it; `local:` includes inside such a file
              are looked up in that project at that ref;
* `template:` one of GitLab's CI templates (bundled with Kiln, see BundledTemplates);
* `remote:`   refused unless the context allows it;
* `artifact:` + `job:` a file of an artifacts archive of a job of the parent pipeline, only
              when creating a child pipeline (dynamic child pipelines);
* `component:` is not supported yet and fails with a clear error.

`rules:` on an include are evaluated with the pipeline's variables (not the YAML ones, as
in GitLab); `inputs:` feed the included file's `spec:inputs`. At most 150 files may be
included per pipeline (GitLab's limit, counting nested ones); an include chain that comes
back to a file already being expanded is a cycle and is reported as one.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.ci.config import rules as rules_mod
from kiln.ci.config.context import (
    ConfigContext,
    IncludeFetcher,
    IncludeFetchError,
    IncludeNotFoundError,
)
from kiln.ci.config.errors import ConfigError, IncludeError, YamlLoadError
from kiln.ci.config.globs import fnmatch
from kiln.ci.config.inputs import interpolate
from kiln.ci.config.loader import load_yaml
from kiln.ci.config.merge import deep_merge
from kiln.ci.config.variables import expand

FILE_SUBKEYS = ("local", "project", "remote", "template", "artifact", "component")
INCLUDE_KEYS = frozenset(
    {*FILE_SUBKEYS, "file", "ref", "rules", "inputs", "cache", "integrity", "job"}
)
TEMPLATE_SUFFIX = ".gitlab-ci.yml"
BUNDLED_TEMPLATES = Path(__file__).parent / "data" / "templates"


class BundledTemplates:
    """GitLab's CI templates from a directory (Kiln ships a copy in data/templates)."""

    def __init__(self, root: Path = BUNDLED_TEMPLATES) -> None:
        self.root = root.resolve()

    def __call__(self, name: str) -> str | None:
        # Names are relative paths like "Jobs/Build.gitlab-ci.yml"; refuse anything that
        # could leave the directory.
        parts = name.split("/")
        if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
            return None
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class _Origin:
    """Where the file being expanded came from; decides how its `local:` includes resolve."""

    kind: str  # "root", "local", "project", "template", "remote"
    project: str | None = None
    ref: str | None = None


@dataclass
class _State:
    context: ConfigContext
    fetcher: IncludeFetcher | None
    variables: Mapping[str, str]
    count: int = 0
    total_bytes: int = 0
    chain: list[tuple[str, ...]] = field(default_factory=list)
    chain_labels: list[str] = field(default_factory=list)
    included: list[dict[str, str]] = field(default_factory=list)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _normalize(entry: Any, variables: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(entry, str):
        location = expand(entry, variables, keep_undefined=True)
        if location.startswith(("http://", "https://")):
            return {"remote": location}
        return {"local": location}
    if not isinstance(entry, dict):
        raise IncludeError("Each include must be a hash or a string")
    unknown = [key for key in entry if key not in INCLUDE_KEYS]
    if unknown:
        raise IncludeError(f"include config contains unknown keys: {', '.join(unknown)}")
    subkeys = [key for key in FILE_SUBKEYS if key in entry]
    if not subkeys:
        raise IncludeError(
            f"`{_compact_json(entry)}` does not have a valid subkey for include. "
            f"Valid subkeys are: `{'`, `'.join(FILE_SUBKEYS)}`"
        )
    if len(subkeys) > 1:
        raise IncludeError(f"Each include must use only one of: `{'`, `'.join(FILE_SUBKEYS)}`")
    normalized = dict(entry)
    for key in ("local", "remote", "template", "file", "project", "ref", "artifact", "job"):
        value = normalized.get(key)
        if isinstance(value, str):
            normalized[key] = expand(value, variables, keep_undefined=True)
        elif isinstance(value, list) and key == "file":
            normalized[key] = [
                expand(v, variables, keep_undefined=True) if isinstance(v, str) else v
                for v in value
            ]
    return normalized


_YAML_EXTENSION = re.compile(r".+\.(yml|yaml)", re.IGNORECASE)


def _check_location(location: Any) -> str:
    if not isinstance(location, str):
        raise IncludeError(f"Included file `{location}` needs to be a string")
    if not _YAML_EXTENSION.fullmatch(posixpath.basename(location)):
        raise IncludeError(f"Included file `{location}` does not have YAML extension!")
    return location


def _safe_local_path(location: str) -> str | None:
    path = location.lstrip("/")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return path


@dataclass(frozen=True)
class _File:
    """An included file before it is read: its identity is known first, so a cycle is
    reported without fetching anything, and `read` fetches and checks the text."""

    identity: tuple[str, ...]
    label: str
    origin: _Origin
    meta: dict[str, str]
    inputs: Mapping[str, Any]
    read: Callable[[], str]


def _fetch_files(spec: dict[str, Any], origin: _Origin, state: _State) -> list[_File]:
    inputs = spec.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise IncludeError("include:inputs config must be a hash")
    fetcher = state.fetcher
    if "local" in spec:
        location = _check_location(spec["local"])
        if origin.kind in ("template", "remote"):
            raise IncludeError(f"Local file `{location}` does not have project!")
        if "*" in location:
            if origin.kind == "project" or fetcher is None:
                return []
            pattern = location.lstrip("/")
            matched = [p for p in fetcher.local_paths() if fnmatch(pattern, p)]
            return [_local_file(p, origin, state, inputs) for p in sorted(matched)]
        return [_local_file(location, origin, state, inputs)]
    if "project" in spec:
        return _project_files(spec, state, inputs)
    if "template" in spec:
        name = _check_location(spec["template"])
        if not name.endswith(TEMPLATE_SUFFIX):
            raise IncludeError(f"Template file `{name}` is not a valid location!")

        def read_template() -> str:
            text = fetcher.template(name) if fetcher is not None else None
            if not text or not text.strip():
                raise IncludeError(f"Included file `{name}` is empty or does not exist!")
            return text

        meta = {"type": "template", "location": name}
        return [_File(("template", name), name, _Origin("template"), meta, inputs, read_template)]
    if "remote" in spec:
        url = _check_location(spec["remote"])
        if not url.startswith(("http://", "https://")):
            raise IncludeError(f"Remote file `{url}` does not have a valid address!")
        if not state.context.allow_remote_includes:
            raise IncludeError(
                f"Remote file `{url}` could not be fetched because remote includes are not "
                "allowed on this server!"
            )

        def read_remote() -> str:
            text = fetcher.remote(url) if fetcher is not None else None
            if text is None:
                raise IncludeError(
                    f"Remote file `{url}` could not be fetched because of HTTP error!"
                )
            return text

        meta = {"type": "remote", "location": url}
        return [_File(("remote", url), url, _Origin("remote"), meta, inputs, read_remote)]
    if "component" in spec:
        raise IncludeError(
            f"Component `{spec['component']}` cannot be included: CI/CD "
            "components are not supported by this server yet!"
        )
    if "artifact" in spec:
        return [_artifact_file(spec, state, inputs)]
    raise IncludeError(f"`{_compact_json(spec)}` does not have a valid subkey for include.")


def _artifact_file(spec: dict[str, Any], state: _State, inputs: Any) -> _File:
    location = _check_location(spec["artifact"])
    job = spec.get("job")
    if state.context.source != "parent_pipeline":
        raise IncludeError(
            "Including configs from artifacts is only allowed when triggering child pipelines"
        )
    if not isinstance(job, str) or not job:
        raise IncludeError("Job must be provided when including configs from artifacts")

    def read() -> str:
        fetcher = state.fetcher
        try:
            text = fetcher.artifact(job, location) if fetcher is not None else None
        except IncludeFetchError as exc:
            raise IncludeError(str(exc)) from exc
        if text is None:
            raise IncludeError(
                f"Job `{job}` not found in parent pipeline or does not have artifacts!"
            )
        if not text.strip():
            raise IncludeError(f"File `{location}` is empty!")
        return text

    meta = {"type": "artifact", "location": location, "job_name": job}
    # Local includes inside it are files of the pipeline's commit, as GitLab reads them.
    return _File(("artifact", job, location), location, _Origin("local"), meta, inputs, read)


def _local_file(location: str, origin: _Origin, state: _State, inputs: Any) -> _File:
    path = _safe_local_path(location)
    in_project = origin.kind == "project" and origin.project is not None

    def read() -> str:
        fetcher = state.fetcher
        text: str | None = None
        if path is not None and fetcher is not None:
            if in_project and origin.project is not None:
                text = _project_text(fetcher, origin.project, origin.ref, path)
            else:
                text = fetcher.local(path)
        if text is None:
            raise IncludeError(f"Local file `{location}` does not exist!")
        if not text.strip():
            raise IncludeError(f"Local file `{location}` is empty!")
        return text

    if in_project:
        meta = {"type": "file", "location": path or location, "project": origin.project or ""}
        identity = ("project", origin.project or "", origin.ref or "", path or location)
        return _File(identity, location, origin, meta, inputs, read)
    meta = {"type": "local", "location": path or location}
    return _File(("local", path or location), location, _Origin("local"), meta, inputs, read)


def _project_text(fetcher: IncludeFetcher, project: str, ref: str | None, path: str) -> str | None:
    try:
        return fetcher.project(project, ref, path)
    except IncludeNotFoundError as exc:
        if exc.kind == "ref":
            raise IncludeError(
                f"Project `{project}` reference `{ref or 'HEAD'}` does not exist!"
            ) from exc
        raise IncludeError(
            f"Project `{project}` not found or access denied! Make sure any includes in the "
            "pipeline configuration are correctly defined."
        ) from exc


def _project_files(spec: dict[str, Any], state: _State, inputs: Any) -> list[_File]:
    project = str(spec["project"]).lower()
    raw_ref = spec.get("ref")
    ref = str(raw_ref) if raw_ref is not None else None
    files = spec.get("file")
    if files is None:
        raise IncludeError(f"Project `{project}` file `` does not exist!")
    result = []
    for raw_location in files if isinstance(files, list) else [files]:
        location = _check_location(raw_location)
        path = _safe_local_path(location)

        def read(location: str = location, path: str | None = path) -> str:
            text = None
            if path is not None and state.fetcher is not None:
                text = _project_text(state.fetcher, project, ref, path)
            if text is None:
                raise IncludeError(f"Project `{project}` file `{location}` does not exist!")
            if not text.strip():
                raise IncludeError(f"Project `{project}` file `{location}` is empty!")
            return text

        meta = {"type": "file", "location": path or location, "project": project}
        if ref is not None:
            meta["ref"] = ref
        identity = ("project", project, ref or "", path or location)
        origin = _Origin("project", project, ref)
        result.append(_File(identity, f"{project}/{location}", origin, meta, inputs, read))
    return result


def _load_included(file: _File, state: _State) -> dict[str, Any]:
    limits = state.context.limits
    text = file.read()
    state.total_bytes += len(text.encode("utf-8", errors="replace"))
    if state.total_bytes > limits.max_total_yaml_bytes:
        raise IncludeError("Total size of combined CI/CD configuration is too big")
    try:
        document = load_yaml(
            text,
            max_bytes=limits.max_yaml_bytes,
            max_nodes=limits.max_yaml_nodes,
            max_depth=limits.max_yaml_depth,
        )
        content = interpolate(document.header, document.content, file.inputs)
    except YamlLoadError as exc:
        raise IncludeError(f"`{file.label}`: {exc.messages[0]}") from exc
    except ConfigError as exc:
        raise IncludeError(f"`{file.label}`: {exc.messages[0]}") from exc
    if not isinstance(content, dict) or not content:
        raise IncludeError(f"Included file `{file.label}` does not have valid YAML syntax!")
    return content


def _include_passes(spec: Mapping[str, Any], state: _State) -> bool:
    raw_rules = spec.get("rules")
    if raw_rules is None:
        return True
    rules, errors = rules_mod.flatten_rules(raw_rules, "include:rules")
    errors += rules_mod.validate_rules(
        rules,
        "include",
        allowed_keys=rules_mod.INCLUDE_RULE_KEYS,
        allowed_when=rules_mod.INCLUDE_RULE_WHEN,
    )
    if errors:
        raise IncludeError(errors[0])
    ctx = rules_mod.RuleContext(state.variables, state.context)
    outcome = rules_mod.first_matching_rule(rules, ctx)
    return outcome.rule is not None and outcome.rule.get("when") != "never"


def _expand(config: dict[str, Any], origin: _Origin, state: _State) -> dict[str, Any]:
    raw = config.get("include")
    own = {key: value for key, value in config.items() if key != "include"}
    if raw is None:
        return own
    entries = raw if isinstance(raw, list) else [raw]
    merged: dict[str, Any] = {}
    for entry in entries:
        if entry is None:
            continue
        spec = _normalize(entry, state.variables)
        if not _include_passes(spec, state):
            continue
        for file in _fetch_files(spec, origin, state):
            if state.count >= state.context.limits.max_includes:
                raise IncludeError(
                    f"Maximum of {state.context.limits.max_includes} nested includes are allowed!"
                )
            state.count += 1
            if file.identity in state.chain:
                cycle = [*state.chain_labels[state.chain.index(file.identity) :], file.label]
                raise IncludeError(
                    "Include cycle detected: " + " -> ".join(f"`{label}`" for label in cycle)
                )
            content = _load_included(file, state)
            state.included.append(file.meta)
            state.chain.append(file.identity)
            state.chain_labels.append(file.label)
            try:
                merged = deep_merge(merged, _expand(content, file.origin, state))
            finally:
                state.chain.pop()
                state.chain_labels.pop()
    return deep_merge(merged, own)


def expand_includes(
    config: dict[str, Any],
    *,
    context: ConfigContext,
    fetcher: IncludeFetcher | None,
    variables: Mapping[str, str],
    config_path: str = ".gitlab-ci.yml",
) -> tuple[dict[str, Any], tuple[dict[str, str], ...]]:
    """Merge every include into `config`. Returns (merged, descriptions of included files).

    `variables` are the pipeline's expanded variables, used by include `rules:` and to
    expand `$VAR` in locations.
    """
    state = _State(context, fetcher, variables)
    state.chain.append(("local", config_path.lstrip("/")))
    state.chain_labels.append(config_path)
    merged = _expand(config, _Origin("root"), state)
    return merged, tuple(state.included)

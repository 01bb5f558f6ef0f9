"""Validation and normalization of job keywords, one function per GitLab `Entry::` class.

Each function takes the raw value and the location prefix (e.g. "jobs:build") and returns
`(normalized, errors)`. Messages follow GitLab's entry validator: "<location> <attribute>
<problem>" or "<location>:<entry> config <problem>". GitLab lowercases these messages as
a whole; `jobs.py` does that at the end, so the functions here write natural case.
"""

from __future__ import annotations

import re
from typing import Any

from kiln.ci.config.durations import TIMEOUT_LIMIT, parse_duration, parse_expire_in
from kiln.ci.config.regex import is_valid_ruby_syntax
from kiln.ci.config.schema import flatten
from kiln.ci.config.types import Artifacts, CacheEntry, Need, Retry, Trigger, Variable

Errors = list[str]

IMAGE_KEYS = frozenset({"name", "entrypoint", "docker", "pull_policy", "kubernetes"})
SERVICE_KEYS = IMAGE_KEYS | {"alias", "command", "variables"}
ARTIFACTS_KEYS = frozenset(
    {
        "paths",
        "exclude",
        "expire_in",
        "when",
        "name",
        "untracked",
        "reports",
        "expose_as",
        "public",
        "access",
    }
)
CACHE_KEYS = frozenset(
    {"key", "paths", "policy", "when", "untracked", "unprotect", "fallback_keys"}
)
ENVIRONMENT_KEYS = frozenset(
    {"name", "url", "action", "on_stop", "auto_stop_in", "kubernetes", "deployment_tier"}
)
RETRY_WHEN = frozenset(
    {
        "always",
        "unknown_failure",
        "script_failure",
        "api_failure",
        "stuck_or_timeout_failure",
        "runner_system_failure",
        "runner_unsupported",
        "stale_schedule",
        "job_execution_timeout",
        "archived_failure",
        "unmet_prerequisites",
        "scheduler_failure",
        "data_integrity_failure",
    }
)
MAX_CACHES = 4
MAX_TAGS = 50
_ENVIRONMENT_NAME = re.compile(r"\A[a-zA-Z0-9 \-_/${}.]+\Z")


def is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def script(value: Any, where: str) -> tuple[tuple[str, ...], Errors]:
    """`script`, `before_script`, `after_script`: a string or nested arrays of strings."""
    if isinstance(value, str):
        return (value,), []
    flat = flatten(value) if isinstance(value, list) else None
    if flat is None or not all(isinstance(line, str) for line in flat):
        return (), [
            f"{where} config should be a string or a nested array of strings up to 10 levels deep"
        ]
    return tuple(flat), []


def image(value: Any, where: str) -> tuple[dict[str, Any] | None, Errors]:
    if isinstance(value, str):
        return ({"name": value}, []) if value else (None, [f"{where} config can't be blank"])
    if not isinstance(value, dict):
        return None, [f"{where} config should be a hash or a string"]
    unknown = [key for key in value if key not in IMAGE_KEYS]
    if unknown:
        return None, [f"{where} config contains unknown keys: {', '.join(unknown)}"]
    if not isinstance(value.get("name"), str) or not value["name"]:
        return None, [f"{where} name can't be blank"]
    return dict(value), []


def services(value: Any, where: str) -> tuple[tuple[dict[str, Any], ...], Errors]:
    if not isinstance(value, list):
        return (), [f"{where} config should be a array"]
    result, errors = [], []
    for item in value:
        if isinstance(item, str):
            result.append({"name": item})
        elif isinstance(item, dict):
            unknown = [key for key in item if key not in SERVICE_KEYS]
            if unknown:
                errors.append(f"{where}:service config contains unknown keys: {', '.join(unknown)}")
            elif not isinstance(item.get("name"), str):
                errors.append(f"{where}:service name can't be blank")
            else:
                result.append(dict(item))
        else:
            errors.append(f"{where}:service config should be a hash or a string")
    return tuple(result), errors


def artifacts(value: Any, where: str) -> tuple[Artifacts | None, Errors]:
    if value is None:
        return None, []
    if not isinstance(value, dict):
        return None, [f"{where} config should be a hash"]
    errors = []
    unknown = [key for key in value if key not in ARTIFACTS_KEYS]
    if unknown:
        errors.append(f"{where} config contains unknown keys: {', '.join(unknown)}")
    for key in ("paths", "exclude"):
        if key in value and not is_string_list(value[key]):
            errors.append(f"{where} {key} should be an array of strings")
    valid, seconds = parse_expire_in(value["expire_in"]) if "expire_in" in value else (True, None)
    if not valid:
        errors.append(f"{where} expire in should be a duration")
    when = value.get("when", "on_success")
    if when not in ("on_success", "on_failure", "always"):
        errors.append(f"{where} when should be on_success, on_failure or always")
    for key in ("untracked", "public"):
        if key in value and not isinstance(value[key], bool):
            errors.append(f"{where} {key} should be a boolean value")
    if "name" in value and not isinstance(value["name"], str):
        errors.append(f"{where} name should be a string")
    if "access" in value and value["access"] not in ("all", "developer", "none"):
        errors.append(f"{where} access should be one of: all, developer, none")
    reports = value.get("reports") or {}
    if not isinstance(reports, dict):
        errors.append(f"{where}:reports config should be a hash")
    if errors:
        return None, errors
    expire_in = value.get("expire_in")
    return (
        Artifacts(
            paths=tuple(value.get("paths") or ()),
            exclude=tuple(value.get("exclude") or ()),
            expire_in=str(expire_in) if expire_in is not None else None,
            expire_in_seconds=seconds,
            when=when,
            name=value.get("name"),
            untracked=bool(value.get("untracked", False)),
            expose_as=value.get("expose_as"),
            public=value.get("public"),
            access=value.get("access"),
            reports={k: tuple(v) if isinstance(v, list) else v for k, v in reports.items()},
        ),
        [],
    )


def _cache_key(value: Any, where: str) -> tuple[tuple[str, tuple[str, ...], str | None], Errors]:
    if value is None:
        return ("default", (), None), []
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        key = str(value)
        if "/" in key or "%2f" in key.lower():
            return ("", (), None), [f'{where}:key config cannot contain the "/" character']
        if key in (".", ".."):
            return ("", (), None), [f'{where}:key config cannot be "." or ".."']
        return (key, (), None), []
    if isinstance(value, dict):
        unknown = [k for k in value if k not in ("files", "prefix", "files_commits")]
        files = value.get("files", value.get("files_commits"))
        if unknown:
            return ("", (), None), [
                f"{where}:key config contains unknown keys: {', '.join(unknown)}"
            ]
        if not isinstance(files, list) or not is_string_list(files) or not 1 <= len(files) <= 2:
            return ("", (), None), [
                f"{where}:key:files config has to be an array of one or two strings"
            ]
        prefix = value.get("prefix")
        return ("", tuple(files), str(prefix) if prefix is not None else None), []
    return ("", (), None), [f"{where}:key config should be a hash, a string or a symbol"]


def cache(value: Any, where: str) -> tuple[tuple[CacheEntry, ...], Errors]:
    if value is None:
        return (), []
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_CACHES:
        return (), [f"{where} config no more than {MAX_CACHES} caches can be created"]
    entries, errors = [], []
    for item in items:
        if not isinstance(item, dict):
            errors.append(f"{where} config should be a hash")
            continue
        unknown = [key for key in item if key not in CACHE_KEYS]
        if unknown:
            errors.append(f"{where} config contains unknown keys: {', '.join(unknown)}")
            continue
        (key, files, prefix), key_errors = _cache_key(item.get("key"), where)
        errors += key_errors
        if "paths" in item and not is_string_list(item["paths"]):
            errors.append(f"{where}:paths config should be an array of strings")
        policy = item.get("policy", "pull-push")
        if policy not in ("pull", "push", "pull-push") and "$" not in str(policy):
            errors.append(f"{where} policy should be pull-push, push, or pull")
        when = item.get("when", "on_success")
        if when not in ("on_success", "on_failure", "always"):
            errors.append(f"{where} when should be on_success, on_failure or always")
        if errors:
            continue
        entries.append(
            CacheEntry(
                key=("" if files else key or "default"),
                key_files=files,
                key_prefix=prefix,
                paths=tuple(item.get("paths") or ()),
                policy=policy if policy in ("pull", "push", "pull-push") else "pull-push",
                when=when,
                untracked=bool(item.get("untracked", False)),
                unprotect=bool(item.get("unprotect", False)),
                fallback_keys=tuple(str(k) for k in item.get("fallback_keys") or ()),
            )
        )
    return tuple(entries), errors


def retry(value: Any, where: str) -> tuple[Retry | None, Errors]:
    location = f"{where}:retry"
    if value is None:
        return None, []
    if isinstance(value, bool) or not isinstance(value, int | dict):
        return None, [f"{location} config has to be either an integer or a hash"]
    if isinstance(value, int):
        value = {"max": value}
    unknown = [key for key in value if key not in ("max", "when", "exit_codes")]
    if unknown:
        return None, [f"{location} config contains unknown keys: {', '.join(unknown)}"]
    maximum = value.get("max", 0)
    if isinstance(maximum, bool) or not isinstance(maximum, int):
        return None, [f"{location} config max should be an integer"]
    if not 0 <= maximum <= 2:
        bound = "greater than or equal to 0" if maximum < 0 else "less than or equal to 2"
        return None, [f"{location} config must be {bound}"]
    when = value.get("when", ["always"])
    when = [when] if isinstance(when, str) else when
    if not is_string_list(when):
        return None, [f"{location} when should be an array of strings or a string"]
    unknown_when = [w for w in when if w not in RETRY_WHEN]
    if unknown_when:
        return None, [f"{location} when contains unknown values: {', '.join(unknown_when)}"]
    codes = value.get("exit_codes", [])
    codes = [codes] if isinstance(codes, int) and not isinstance(codes, bool) else codes
    if not isinstance(codes, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in codes
    ):
        return None, [f"{location} exit codes should be an array of integers or an integer"]
    return Retry(max=maximum, when=tuple(when), exit_codes=tuple(codes)), []


def timeout(value: Any, where: str) -> tuple[int | None, Errors]:
    if value is None:
        return None, []
    seconds = parse_duration(value) if isinstance(value, str) else None
    if seconds is None:
        return None, [f"{where}:timeout config should be a duration"]
    if seconds > TIMEOUT_LIMIT:
        return None, [f"{where}:timeout config should not exceed the limit"]
    return seconds, []


def environment(value: Any, where: str) -> tuple[dict[str, Any] | None, Errors]:
    location = f"{where}:environment"
    if value is None:
        return None, []
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        return None, [f"{location} config should be a hash or a string"]
    errors = []
    unknown = [key for key in value if key not in ENVIRONMENT_KEYS]
    if unknown:
        errors.append(f"{location} config contains unknown keys: {', '.join(unknown)}")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        errors.append(f"{location} name can't be blank")
    elif not _ENVIRONMENT_NAME.match(name) or name.startswith("/") or name.endswith("/"):
        errors.append(
            f"{location} name can contain only letters, digits, '-', '_', '/', '$', '{{', '}}', "
            "'.', and spaces, but it cannot start or end with '/'"
        )
    action = value.get("action", "start")
    if action not in ("start", "prepare", "stop", "verify", "access"):
        errors.append(f"{location} action should be start, stop, prepare, verify, or access")
    tier = value.get("deployment_tier")
    if tier is not None and tier not in (
        "production",
        "staging",
        "testing",
        "development",
        "other",
    ):
        errors.append(
            f"{location} deployment tier must be one of production, staging, testing, "
            "development, other"
        )
    url = value.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > 255):
        errors.append(f"{location} url is too long (maximum is 255 characters)")
    return (None, errors) if errors else ({**value, "action": action}, [])


def allow_failure(value: Any, where: str) -> tuple[tuple[bool | None, tuple[int, ...]], Errors]:
    if value is None or isinstance(value, bool):
        return (value, ()), []
    if isinstance(value, dict) and set(value) == {"exit_codes"}:
        codes = value["exit_codes"]
        codes = [codes] if isinstance(codes, int) and not isinstance(codes, bool) else codes
        if (
            isinstance(codes, list)
            and codes
            and all(isinstance(c, int) and not isinstance(c, bool) for c in codes)
        ):
            # GitLab: with exit codes the job is not statically allowed to fail.
            return (False, tuple(codes)), []
        return (None, ()), [
            f"{where}:allow_failure exit codes should be an array of integers or an integer"
        ]
    return (None, ()), [f"{where} allow failure should be a hash or a boolean value"]


def needs(value: Any, where: str) -> tuple[tuple[tuple[Need, ...], dict[int, Any]] | None, Errors]:
    """Returns ((needs, {index: matrix selection}), errors); None when `needs:` is absent."""
    location = f"{where}:needs"
    if value is None:
        return None, []
    if not isinstance(value, list):
        return None, [f"{location} config can only be a Hash or an Array"]
    result: list[Need] = []
    matrices: dict[int, Any] = {}
    errors: Errors = []
    for item in value:
        need_where = f"{location}:need"
        if isinstance(item, str):
            if not item:
                errors.append(f"{need_where} config can't be blank")
            result.append(Need(item))
            continue
        if not isinstance(item, dict) or "job" not in item:
            errors.append(f"{need_where} has an unsupported type")
            continue
        if not isinstance(item["job"], str) or not item["job"]:
            errors.append(f"{need_where} job should be a string")
            continue
        allowed = {"job", "artifacts", "optional", "parallel"}
        if "project" in item:
            allowed = {"job", "project", "ref", "artifacts"}
        elif "pipeline" in item:
            allowed = {"job", "pipeline", "artifacts"}
        unknown = [key for key in item if key not in allowed]
        if unknown:
            errors.append(f"{need_where} config contains unknown keys: {', '.join(unknown)}")
            continue
        for flag in ("artifacts", "optional"):
            if flag in item and not isinstance(item[flag], bool):
                errors.append(f"{need_where} {flag} should be a boolean value")
        if "parallel" in item:
            parallel = item["parallel"]
            if not (isinstance(parallel, dict) and set(parallel) == {"matrix"}):
                errors.append(f"{need_where}:parallel config should contain a matrix")
            else:
                matrices[len(result)] = parallel["matrix"]
        result.append(
            Need(
                job=item["job"],
                artifacts=item.get("artifacts", True) is not False,
                optional=item.get("optional", False) is True,
                project=str(item["project"]) if "project" in item else None,
                ref=str(item["ref"]) if item.get("ref") is not None else None,
                pipeline=str(item["pipeline"]) if "pipeline" in item else None,
            )
        )
    return ((tuple(result), matrices), errors) if not errors else (None, errors)


def variables(
    value: Any, where: str, *, allow_description: bool
) -> tuple[dict[str, Variable], Errors]:
    location = f"{where}:variables" if where else "variables"
    if value is None:
        return {}, []
    if not isinstance(value, dict):
        return {}, [f"{location} config should be a hash"]
    allowed = {"value", "expand"} | ({"description", "options"} if allow_description else set())
    result: dict[str, Variable] = {}
    errors: Errors = []
    for key, raw in value.items():
        if isinstance(raw, str | int | float) and not isinstance(raw, bool):
            result[key] = Variable(str(raw))
        elif isinstance(raw, dict):
            extra = [k for k in raw if k not in allowed]
            if extra:
                errors.append(f"{location}:{key} config uses invalid data keys: {', '.join(extra)}")
                continue
            inner = raw.get("value", "")
            if isinstance(inner, bool) or not isinstance(inner, str | int | float | type(None)):
                errors.append(f"{location}:{key} config value must be a string")
                continue
            expand = raw.get("expand", True)
            if not isinstance(expand, bool):
                errors.append(f"{location}:{key} expand should be a boolean value")
                continue
            options = raw.get("options")
            text = "" if inner is None else str(inner)
            if isinstance(options, list) and text not in [str(o) for o in options]:
                errors.append(f"{location}:{key} config value must be present in options")
                continue
            result[key] = Variable(text, expand=expand)
        else:
            errors.append(
                f"{location} config should be a hash of key value pairs, value can be a hash"
            )
    return result, errors


def trigger(value: Any, where: str) -> tuple[Trigger | None, Errors]:
    location = f"{where}:trigger"
    if isinstance(value, str):
        return (
            (Trigger(project=value), []) if value else (None, [f"{location} config can't be blank"])
        )
    if not isinstance(value, dict):
        return None, [f"{location} config should be a hash or a string"]
    allowed = {"project", "branch", "strategy", "include", "forward", "inputs"}
    unknown = [key for key in value if key not in allowed]
    if unknown:
        return None, [f"{location} config contains unknown keys: {', '.join(unknown)}"]
    if "project" in value and "include" in value:
        return None, [f"{location} config contains unknown keys: include"]
    if value.get("strategy") not in (None, "depend", "mirror"):
        return None, [f"{location} strategy should be depend or mirror"]
    includes: list[dict[str, Any]] = []
    raw = value.get("include")
    for item in raw if isinstance(raw, list) else ([] if raw is None else [raw]):
        if isinstance(item, str):
            includes.append({"local": item})
        elif isinstance(item, dict):
            includes.append(dict(item))
        else:
            return None, [f"{location}:include config should be an array of hashes or a string"]
    if len(includes) > 3:
        return None, [f"{location}:include config is too long (maximum is 3 files)"]
    forward = value.get("forward") or {}
    if not isinstance(forward, dict) or any(not isinstance(v, bool) for v in forward.values()):
        return None, [f"{location}:forward config should be a hash of booleans"]
    inputs = value.get("inputs")
    if inputs is not None and not isinstance(inputs, dict):
        return None, [f"{location}:inputs config must be a hash"]
    return (
        Trigger(
            project=value.get("project"),
            branch=value.get("branch"),
            include=tuple(includes),
            strategy=value.get("strategy"),
            forward=dict(forward),
            inputs={str(k): v for k, v in (inputs or {}).items()},
        ),
        [],
    )


def tags(value: Any, where: str) -> tuple[tuple[str, ...], Errors]:
    if value is None:
        return (), []
    flat = flatten(value, max_level=2) if isinstance(value, list) else None
    if flat is None or not all(isinstance(tag, str) for tag in flat):
        return (), [f"{where}:tags config should be an array of strings"]
    if len(flat) > MAX_TAGS:
        return (), [f"{where}:tags config must be less than the limit of {MAX_TAGS} tags"]
    return tuple(flat), []


def coverage(value: Any, where: str) -> tuple[str | None, Errors]:
    if value is None:
        return None, []
    if not isinstance(value, str) or not is_valid_ruby_syntax(value):
        return None, [f"{where}:coverage config must be a regular expression"]
    return value, []


def inherit(value: Any, where: str) -> tuple[dict[str, bool | frozenset[str]], Errors]:
    result: dict[str, bool | frozenset[str]] = {"default": True, "variables": True}
    if value is None:
        return result, []
    if not isinstance(value, dict):
        return result, [f"{where}:inherit config should be a hash"]
    unknown = [key for key in value if key not in ("default", "variables")]
    if unknown:
        return result, [f"{where}:inherit config contains unknown keys: {', '.join(unknown)}"]
    errors = []
    for key, raw in value.items():
        if isinstance(raw, bool):
            result[key] = raw
        elif is_string_list(raw):
            result[key] = frozenset(raw)
        else:
            errors.append(f"{where}:inherit:{key} should be a bool or array of strings")
    return result, errors

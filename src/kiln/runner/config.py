"""The runner's configuration file: what `kiln runner register` writes and `run` reads.

TOML, like gitlab-runner's `config.toml`, read with the standard library's `tomllib` and written
by the small serializer below (flat keys and one level of tables are all it holds). The file
carries the runner's authentication token, so it is written with mode 0600 and atomically.

The default path is `$KILN_RUNNER_CONFIG`, else `/etc/kiln/runner.toml` for root (as
gitlab-runner uses /etc/gitlab-runner), else `$XDG_CONFIG_HOME/kiln/runner.toml`
(`~/.config/kiln/runner.toml`). Builds and caches go next to the file, except for root, whose
jobs run as another user that must reach them: `/var/lib/kiln-runner/{builds,cache}`.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import string
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXECUTORS = ("shell", "kubernetes")
SANDBOX_MODES = ("auto", "bwrap", "none")
DEFAULT_OUTPUT_LIMIT = 4 * 1024 * 1024  # gitlab-runner's default `output_limit` (4096 KiB)
MiB = 1024 * 1024
ROOT_STATE_DIR = Path("/var/lib/kiln-runner")


class ConfigError(Exception):
    """The configuration file is missing, unreadable or inconsistent."""


@dataclass
class Limits:
    """What one job may consume; each guards the machine against a hostile script."""

    pids: int = 512  # processes the job's user may add (RLIMIT_NPROC); 0 disables
    max_file_size: int = 2048 * MiB  # RLIMIT_FSIZE: no single file larger; 0 disables
    max_artifacts_size: int = 100 * MiB  # an artifacts archive larger than this is not uploaded
    max_cache_size: int = 1024 * MiB  # a cache larger than this is not saved
    tmp_size: int = 512 * MiB  # the sandbox's private /tmp (a tmpfs, so memory)
    max_extract_size: int = 1024 * MiB  # total uncompressed bytes of one downloaded archive
    max_extract_ratio: int = 200  # uncompressed/compressed of one entry (zip bombs)
    max_extract_entries: int = 100_000


@dataclass
class Sandbox:
    """How the shell executor isolates a job.

    `auto` uses bubblewrap when it is installed and works, `bwrap` requires it (jobs fail
    otherwise), `none` never uses it. `hide` lists paths the job must not see (a tmpfs is
    mounted over directories, an empty file over files); the Kiln data directory, the runner's
    configuration, the builds and cache roots and the runner's home are always added.
    """

    mode: str = "auto"
    hide: list[str] = field(default_factory=list)


@dataclass
class Kubernetes:
    """Where the kubernetes executor creates its pods.

    Without `host`, the client's own discovery is used: the in-cluster service account when
    running in a pod, else `~/.kube/config`.
    """

    host: str = ""
    token_file: str = ""
    ca_file: str = ""
    verify_ssl: bool = True
    namespace: str = "default"
    image: str = "debian:bookworm"  # when the job names no `image`
    service_account: str = ""
    builds_dir: str = "/builds"  # the emptyDir's mount point in the pod
    poll_interval: float = 1.0
    pod_start_timeout: float = 300.0


@dataclass
class RunnerConfig:
    url: str
    token: str
    id: int = 0
    token_expires_at: str = ""
    system_id: str = ""
    name: str = ""
    executor: str = "shell"
    concurrent: int = 1
    check_interval: float = 3.0  # seconds between job requests when the server has none
    builds_dir: str = ""
    cache_dir: str = ""
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    user: str = (
        ""  # run jobs as this OS user (only when the runner is root); root defaults to nobody
    )
    shutdown_timeout: float = 30.0  # graceful stop: how long running jobs may finish
    keep_builds: bool = False
    limits: Limits = field(default_factory=Limits)
    sandbox: Sandbox = field(default_factory=Sandbox)
    kubernetes: Kubernetes = field(default_factory=Kubernetes)
    path: str = ""  # where this configuration was read from (not written)

    def __post_init__(self) -> None:
        if not self.system_id:
            self.system_id = new_system_id()

    def validate(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"url must start with http:// or https://, not {self.url!r}")
        if not self.token:
            raise ConfigError("no runner token: run `kiln runner register` first")
        if self.executor not in EXECUTORS:
            raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}")
        if self.sandbox.mode not in SANDBOX_MODES:
            raise ConfigError(f"sandbox.mode must be one of {', '.join(SANDBOX_MODES)}")
        if self.concurrent < 1:
            raise ConfigError("concurrent must be at least 1")
        if self.output_limit < 1024:
            raise ConfigError("output_limit must be at least 1024 bytes")

    @property
    def base_dir(self) -> Path:
        return Path(self.path).parent if self.path else default_config_path().parent

    @property
    def builds_path(self) -> Path:
        if self.builds_dir:
            return Path(self.builds_dir)
        return ROOT_STATE_DIR / "builds" if os.geteuid() == 0 else self.base_dir / "builds"

    @property
    def cache_path(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir)
        return ROOT_STATE_DIR / "cache" if os.geteuid() == 0 else self.base_dir / "cache"

    @property
    def short_token(self) -> str:
        """What gitlab-runner logs and exposes as CI_RUNNER_SHORT_TOKEN: never the whole token."""
        token = self.token.removeprefix("glrt-")
        return token[:9] if len(token) > 9 else token[:4]


def new_system_id() -> str:
    """A random system id (`r_` + 12 characters), as gitlab-runner makes without a machine id."""
    alphabet = string.ascii_letters + string.digits
    return "r_" + "".join(secrets.choice(alphabet) for _ in range(12))


def default_config_path() -> Path:
    explicit = os.environ.get("KILN_RUNNER_CONFIG")
    if explicit:
        return Path(explicit)
    if os.geteuid() == 0:
        return Path("/etc/kiln/runner.toml")
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kiln" / "runner.toml"


def _build(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known or key == "path":
            raise ConfigError(f"unknown setting {where}{key}")
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where or 'top level'}: {exc}") from exc


def load(path: Path | str | None = None) -> RunnerConfig:
    target = Path(path) if path else default_config_path()
    try:
        data = tomllib.loads(target.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{target}: no such file; run `kiln runner register` first") from exc
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: {exc}") from exc
    tables = {"limits": Limits, "sandbox": Sandbox, "kubernetes": Kubernetes}
    nested = {
        name: _build(cls, data.pop(name, {}) or {}, f"{name}.") for name, cls in tables.items()
    }
    config: RunnerConfig = _build(RunnerConfig, data, "")
    config.limits, config.sandbox, config.kubernetes = (
        nested["limits"],
        nested["sandbox"],
        nested["kubernetes"],
    )
    config.path = str(target)
    config.validate()
    return config


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = []
        for char in value:
            if char in '"\\':
                escaped.append("\\" + char)
            elif ord(char) < 0x20 or ord(char) == 0x7F:
                escaped.append(f"\\u{ord(char):04x}")
            else:
                escaped.append(char)
        return '"' + "".join(escaped) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dumps(config: RunnerConfig) -> str:
    lines = [
        "# Written by `kiln runner register`; it holds the runner's token: keep it private.",
    ]
    tables: list[tuple[str, Any]] = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name == "path":
            continue
        if dataclasses.is_dataclass(value):
            tables.append((f.name, value))
            continue
        lines.append(f"{f.name} = {_toml_value(value)}")
    for name, table in tables:
        lines.append("")
        lines.append(f"[{name}]")
        for f in dataclasses.fields(table):
            lines.append(f"{f.name} = {_toml_value(getattr(table, f.name))}")
    return "\n".join(lines) + "\n"


def save(config: RunnerConfig, path: Path | str | None = None) -> Path:
    """Write atomically with mode 0600 (the token must not be readable by others)."""
    target = Path(path or config.path or default_config_path())
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".runner-", suffix=".toml", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(dumps(config))
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    config.path = str(target)
    return target

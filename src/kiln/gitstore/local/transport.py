"""Starting git's own transport services for Kiln's smart HTTP and SSH front ends.

The front ends authenticate and authorize, then call `start_service` and copy bytes between
the client and the returned process. What must hold here:

1. Only the three services of `GitService` can be started, for a repository given by its
   storage path; the client's words never become argv.
2. ``GIT_PROTOCOL`` is passed only in the ``version=N`` form (N = 0, 1, 2).
3. Hook context travels in environment variables named ``KILN_*`` or ``GL_*``; nothing can
   override ``PATH``, ``HOME`` or any ``GIT_*`` variable.
4. Pushed objects stay in git's quarantine directory (git ≥ 2.11 does this by itself;
   nothing here may turn it off) until pre-receive accepts them, so a rejected push leaves
   no objects behind. Hooks run only for receive-pack, from the ``hooks_dir`` given.
5. Beyond its three pipes, git inherits only the descriptors the caller names in
   ``hook_fds`` (its hook channel), and only together with hooks.
6. A v0/v1 ref advertisement written in process (`advertise`) is byte for byte git's: the
   first time per repository configuration git answers too and must agree, else git answers
   from then on.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from kiln.gitstore.errors import InvalidArgument
from kiln.gitstore.local import advertise
from kiln.gitstore.local.core import LocalCore
from kiln.gitstore.types import GitService

__all__ = ["TransportOps", "validate_git_protocol"]

# Protocol v2's capability advertisement names no refs: it depends only on git itself and
# the repository's configuration, so it is computed once per distinct config and reused.
_V2_ADVERTISEMENTS: dict[tuple[GitService, bytes], bytes] = {}
_V2_ADVERTISEMENTS_MAX = 64
_V2_LOCK = threading.Lock()
# Per (service, repository config, protocol version): whether git printed the same v0/v1 ref
# advertisement as `advertise` the first time both answered (absent: not compared yet).
_V0_CHECKED: dict[tuple[GitService, bytes, int], bool] = {}
_AGENTS: dict[str, bytes] = {}
log = logging.getLogger(__name__)

_GIT_PROTOCOL_RE = re.compile(r"version=[0-2]", re.ASCII)
_HOOK_ENV_NAME_RE = re.compile(r"(?:KILN|GL)_[A-Z0-9_]+", re.ASCII)

_SERVICE_CONFIG: Mapping[GitService, Mapping[str, str]] = {
    GitService.UPLOAD_PACK: {
        "uploadpack.allowFilter": "true",  # partial clone (--filter=blob:none)
    },
    GitService.RECEIVE_PACK: {
        "receive.autogc": "false",  # maintenance is scheduled, never forked by a push
        "receive.advertisePushOptions": "true",  # git push -o merge_request.create ...
        # Refuse malformed objects (e.g. trees with ".git" entries that attack clients),
        # ignoring the three harmless defects common in old imported history, as Gitaly does.
        "receive.fsckObjects": "true",
        "receive.fsck.badTimezone": "ignore",
        "receive.fsck.missingSpaceBeforeDate": "ignore",
        "receive.fsck.zeroPaddedFilemode": "ignore",
    },
    GitService.UPLOAD_ARCHIVE: {},
}


def validate_git_protocol(value: str) -> str:
    """Accept only ``version=0``, ``version=1`` or ``version=2``."""
    if not isinstance(value, str) or not _GIT_PROTOCOL_RE.fullmatch(value):
        raise InvalidArgument("Unsupported Git-Protocol value.")
    return value


def _hook_env(extra_env: Mapping[str, str] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in (extra_env or {}).items():
        if not _HOOK_ENV_NAME_RE.fullmatch(name):
            raise InvalidArgument(f"Environment variable {name!r} is not a KILN_/GL_ variable.")
        if not isinstance(value, str) or "\0" in value:
            raise InvalidArgument(f"Environment variable {name!r} has an invalid value.")
        env[name] = value
    return env


class TransportOps(LocalCore):
    def start_service(
        self,
        *,
        relative_path: str,
        service: GitService,
        stateless_rpc: bool = False,
        advertise_refs: bool = False,
        git_protocol: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        hooks_dir: Path | None = None,
        stderr: int | IO[bytes] | None = subprocess.DEVNULL,
        hook_fds: Sequence[int] = (),
    ) -> subprocess.Popen[bytes]:
        """Start ``service`` for a repository; the caller owns the returned process.

        stdin and stdout are binary pipes. ``stateless_rpc``/``advertise_refs`` are the
        smart HTTP modes (info/refs is both). ``hooks_dir`` (receive-pack only) is where
        git finds pre-receive, update and post-receive; ``hook_fds`` stay open in git and
        its hooks (the caller's hook channel, named to the hooks in ``extra_env``).
        """
        try:
            service = GitService(service)
        except ValueError:
            raise InvalidArgument("Unknown git service.") from None
        if service is GitService.UPLOAD_ARCHIVE and (stateless_rpc or advertise_refs):
            raise InvalidArgument("upload-archive has no stateless or advertisement mode.")
        if hooks_dir is not None and service is not GitService.RECEIVE_PACK:
            raise InvalidArgument("Only receive-pack runs hooks.")
        if hook_fds and hooks_dir is None:
            raise InvalidArgument("Hook channels need hooks.")
        git_dir = self._git_dir(relative_path)
        config = dict(_SERVICE_CONFIG[service])
        if hooks_dir is not None:
            config["core.hooksPath"] = str(Path(hooks_dir).resolve())
        env = _hook_env(extra_env)
        if git_protocol is not None:
            env["GIT_PROTOCOL"] = validate_git_protocol(git_protocol)
        args = [service.value.removeprefix("git-")]
        if service is GitService.UPLOAD_PACK:
            args.append("--strict")  # the directory is the repository, no ".git" guessing
        if stateless_rpc:
            args.append("--stateless-rpc")
        if advertise_refs:
            args.append("--advertise-refs")
        args.append(str(git_dir))
        return self.git.popen(
            None,
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            config=config,
            extra_env=env,
            pass_fds=hook_fds,
        )

    def capability_advertisement(
        self, *, relative_path: str, service: GitService, git_protocol: str | None
    ) -> bytes | None:
        """What `--stateless-rpc --advertise-refs` prints, without starting git when possible:
        protocol v2's capabilities (upload-pack; cached), or the v0/v1 ref advertisement of
        upload-pack and receive-pack (written in process by `advertise`). None: the caller
        starts git (something not modelled, or receive-pack asked for v2)."""
        if git_protocol == "version=2":
            if service is not GitService.UPLOAD_PACK:
                return None
            return self._v2_capabilities(relative_path=relative_path, service=service)
        if service not in (GitService.UPLOAD_PACK, GitService.RECEIVE_PACK):
            return None
        git_dir = self._git_dir(relative_path)
        try:
            config = (git_dir / "config").read_bytes()
        except OSError:
            return None
        overrides = _SERVICE_CONFIG[service]
        caps = advertise.capabilities_for(service, git_dir, config, overrides)
        if caps is None:
            return None
        version = 1 if git_protocol == "version=1" else 0

        def render() -> bytes | None:
            return advertise.render_advertisement(
                git_dir, caps, agent=self._agent(), version=version
            )

        rendered = render()
        if rendered is None:
            return None
        key = (service, config, version)
        checked = _V0_CHECKED.get(key)
        if checked is not None:
            return rendered if checked else None
        # The first time for a configuration, git answers too and both must agree: a git
        # version that prints something else turns the in-process answer off for good.
        spawned = self._spawn_advertisement(relative_path, service, git_protocol)
        if spawned is not None and spawned == rendered:
            _V0_CHECKED[key] = True
        elif spawned is not None and render() == rendered:  # refs did not move meanwhile
            log.warning("git's ref advertisement differs from Kiln's; using git's from now on")
            _V0_CHECKED[key] = False
        return spawned

    def _spawn_advertisement(
        self, relative_path: str, service: GitService, git_protocol: str | None
    ) -> bytes | None:
        proc = self.start_service(
            relative_path=relative_path,
            service=service,
            stateless_rpc=True,
            advertise_refs=True,
            git_protocol=git_protocol,
        )
        output, _ = proc.communicate()
        return output if proc.returncode == 0 else None

    def _agent(self) -> bytes:
        """What git sends as `agent=` (git_user_agent_sanitized: `git/<version>`)."""
        agent = _AGENTS.get(self.git.git)
        if agent is None:
            version = self.git.run(None, ["version"]).stdout.decode("utf-8", "replace").strip()
            text = "git/" + version.removeprefix("git version ")
            agent = "".join(c if 32 < ord(c) < 127 else "." for c in text).encode()
            _AGENTS[self.git.git] = agent
        return agent

    def _v2_capabilities(self, *, relative_path: str, service: GitService) -> bytes | None:
        git_dir = self._git_dir(relative_path)
        try:
            config = (git_dir / "config").read_bytes()
        except OSError:
            return None
        key = (service, config)
        cached = _V2_ADVERTISEMENTS.get(key)
        if cached is not None:
            return cached
        output = self._spawn_advertisement(relative_path, service, "version=2")
        if output is None or not output.startswith(b"000eversion 2\n"):
            return None
        with _V2_LOCK:
            if len(_V2_ADVERTISEMENTS) >= _V2_ADVERTISEMENTS_MAX:
                _V2_ADVERTISEMENTS.clear()
            _V2_ADVERTISEMENTS[key] = output
        return output

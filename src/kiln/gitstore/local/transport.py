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
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from kiln.gitstore.errors import InvalidArgument
from kiln.gitstore.local.core import LocalCore
from kiln.gitstore.types import GitService

__all__ = ["TransportOps", "validate_git_protocol"]

# Protocol v2's capability advertisement names no refs: it depends only on git itself and
# the repository's configuration, so it is computed once per distinct config and reused.
_V2_ADVERTISEMENTS: dict[tuple[GitService, bytes], bytes] = {}
_V2_ADVERTISEMENTS_MAX = 64
_V2_LOCK = threading.Lock()

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
    ) -> subprocess.Popen[bytes]:
        """Start ``service`` for a repository; the caller owns the returned process.

        stdin and stdout are binary pipes. ``stateless_rpc``/``advertise_refs`` are the
        smart HTTP modes (info/refs is both). ``hooks_dir`` (receive-pack only) is where
        git finds pre-receive, update and post-receive.
        """
        try:
            service = GitService(service)
        except ValueError:
            raise InvalidArgument("Unknown git service.") from None
        if service is GitService.UPLOAD_ARCHIVE and (stateless_rpc or advertise_refs):
            raise InvalidArgument("upload-archive has no stateless or advertisement mode.")
        if hooks_dir is not None and service is not GitService.RECEIVE_PACK:
            raise InvalidArgument("Only receive-pack runs hooks.")
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
        )

    def capability_advertisement(
        self, *, relative_path: str, service: GitService, git_protocol: str | None
    ) -> bytes | None:
        """What `--stateless-rpc --advertise-refs` prints for a protocol v2 upload-pack request
        (the capabilities, no refs), without starting git after the first time; None when the
        answer depends on the refs (v0/v1, receive-pack: the caller starts git)."""
        if git_protocol != "version=2" or service is not GitService.UPLOAD_PACK:
            return None
        try:
            config = (self._git_dir(relative_path) / "config").read_bytes()
        except OSError:
            return None
        key = (service, config)
        cached = _V2_ADVERTISEMENTS.get(key)
        if cached is not None:
            return cached
        proc = self.start_service(
            relative_path=relative_path,
            service=service,
            stateless_rpc=True,
            advertise_refs=True,
            git_protocol=git_protocol,
        )
        output, _ = proc.communicate()
        if proc.returncode != 0 or not output.startswith(b"000eversion 2\n"):
            return None
        with _V2_LOCK:
            if len(_V2_ADVERTISEMENTS) >= _V2_ADVERTISEMENTS_MAX:
                _V2_ADVERTISEMENTS.clear()
            _V2_ADVERTISEMENTS[key] = output
        return output

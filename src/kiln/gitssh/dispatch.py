"""The SSH shell dispatcher shared by `kiln ssh` (asyncssh) and `kiln shell key-<id>` (OpenSSH).

What it must do, in order:
1. Identify the user by the key that authenticated (the key's id, never a name the client
   sends); refuse expired keys and users who are not active.
2. With no command, greet: "Welcome to Kiln, @user!".
3. Accept exactly three commands, `git-upload-pack`, `git-receive-pack`, `git-upload-archive`
   (also spelled `git upload-pack`...), with one single-quoted path and nothing else; refuse
   anything else with a friendly message. The client's environment is ignored except
   `GIT_PROTOCOL`, validated.
4. Ask `git_access` (the same decision as HTTP and the hooks), then start git on the
   project's repository, with the push token for the hooks when pushing.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from django.db import close_old_connections

from kiln.accounts.models import SSHKey, UserState
from kiln.core.actor import Actor
from kiln.core.errors import KilnError
from kiln.gitstore import InvalidArgument, validate_git_protocol
from kiln.gitstore.types import GitService
from kiln.projects.queries import find_project
from kiln.repositories import hooktoken
from kiln.repositories.access import Action, GitAccessDenied, check_access
from kiln.repositories.hooks import hooks_dir, internal_hook_url
from kiln.repositories.services import ensure_repository
from kiln.repositories.storage import store

_COMMAND = re.compile(
    r"(?P<service>git[ -](?:upload-pack|receive-pack|upload-archive))"
    r" '(?P<path>/?[A-Za-z0-9_.][A-Za-z0-9_.\-/]*)'\Z"
)
_ACTIONS = {
    GitService.UPLOAD_PACK: Action.DOWNLOAD,
    GitService.UPLOAD_ARCHIVE: Action.DOWNLOAD,
    GitService.RECEIVE_PACK: Action.PUSH,
}
NOT_ALLOWED = "The command you're trying to execute is not allowed."


class Refused(Exception):
    """A refusal to print on the client's stderr."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Session:
    """What a connection may run: either a greeting or a started git process."""

    greeting: str | None = None
    process: subprocess.Popen[bytes] | None = None


@dataclass(frozen=True)
class Command:
    service: GitService
    repo: str


def parse_command(text: str) -> Command:
    match = _COMMAND.match(text.strip()) if len(text) < 4096 else None
    if match is None:
        raise Refused(NOT_ALLOWED)
    service = GitService(match["service"].replace(" ", "-"))
    repo = match["path"].lstrip("/").removesuffix(".git")
    if ".." in repo.split("/") or "//" in repo:
        raise Refused(NOT_ALLOWED)
    return Command(service=service, repo=repo)


def key_actor(key_id: int) -> Actor:
    key = SSHKey.objects.select_related("user").filter(pk=key_id).first()
    if key is None or key.is_expired:
        raise Refused("Your SSH key is not valid (unknown or expired).")
    if key.user.state != UserState.ACTIVE:
        raise Refused("Your account has been blocked.")
    return Actor(user=key.user)


def open_session(*, key_id: int, command: str | None, git_protocol: str | None) -> Session:
    """Steps 1-4. Raises Refused with the message for the client."""
    close_old_connections()
    try:
        actor = key_actor(key_id)
        assert actor.user is not None
        if not command:
            return Session(greeting=f"Welcome to Kiln, @{actor.user.username}!")
        parsed = parse_command(command)
        protocol = None
        if git_protocol:
            try:
                protocol = validate_git_protocol(git_protocol)
            except InvalidArgument:
                protocol = None
        action = _ACTIONS[parsed.service]
        try:
            project = check_access(actor, find_project(parsed.repo), action)
        except GitAccessDenied as exc:
            raise Refused(exc.message) from None
        except KilnError:
            raise Refused("The project you were looking for could not be found.") from None
        path = ensure_repository(project)
        push = parsed.service is GitService.RECEIVE_PACK
        env = None
        if push:
            token = hooktoken.mint(user_id=actor.user.pk, project_id=project.pk, protocol="ssh")
            env = {"KILN_HOOK_URL": internal_hook_url(), "KILN_HOOK_TOKEN": token}
        process = store().start_service(  # type: ignore[attr-defined]
            relative_path=path,
            service=parsed.service,
            git_protocol=protocol,
            extra_env=env,
            hooks_dir=hooks_dir() if push else None,
            stderr=subprocess.PIPE,
        )
        return Session(process=process)
    finally:
        close_old_connections()

"""The shell scripts a job runs, as gitlab-runner's bash shell writes them.

Every value that comes from the job (the repository URL, refspecs, the SHA, user commands'
echo) is quoted with POSIX single quotes; user commands themselves are the job's to run and
are written as they are. The scripts are POSIX sh with `pipefail` where the shell has it, so
the kubernetes executor can run them in images without bash.

- `get_sources`: `git init` a fresh directory, `git fetch` the job's refspecs at its depth from
  the repository URL (which carries `gitlab-ci-token:<job token>@`), check out the SHA,
  submodules when `GIT_SUBMODULE_STRATEGY` asks; `GIT_STRATEGY=none` skips all of it.
- `step`: `before_script` + `script` (the server sends them as one `script` step) or
  `after_script`, each command echoed as `$ command` in green first.
"""

from __future__ import annotations

import re
import shlex

from kiln.runner.job import Job

GREEN = r"\033[32;1m"
RESET = r"\033[0;m"
_HEX_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REFSPEC = re.compile(r"^\+?[A-Za-z0-9._/*:@{}^~-]+$")

PRELUDE = "set -e\nif (set -o pipefail) 2>/dev/null; then set -o pipefail; fi\nset +o noclobber\n"


class ScriptError(ValueError):
    """The job asks for something no script can safely do (a malformed SHA or refspec)."""


def quote(value: str) -> str:
    return shlex.quote(value)


def echo(text: str, *, color: bool = True) -> str:
    """A line that prints `text` (green, as gitlab-runner prints commands and notices)."""
    if color:
        return f"printf '{GREEN}%s{RESET}\\n' {quote(text)}"
    return f"printf '%s\\n' {quote(text)}"


def _shown(command: str) -> str:
    lines = command.strip("\n").split("\n")
    if len(lines) > 1:
        return f"$ {lines[0]} # collapsed multi-line command"
    return f"$ {lines[0]}"


def step(commands: list[str] | tuple[str, ...], *, project_dir: str) -> str:
    body = [PRELUDE.rstrip("\n"), f"cd -- {quote(project_dir)}"]
    for command in commands:
        if not command.strip():
            continue
        body.append(echo(_shown(command)))
        body.append(command)
    return "\n".join(body) + "\n"


def get_sources(job: Job, *, project_dir: str) -> str:
    strategy = job.variable("GIT_STRATEGY", "fetch").strip().lower() or "fetch"
    lines = [PRELUDE.rstrip("\n"), "export GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1"]
    if strategy in ("none", "empty"):
        lines.append(f"mkdir -p -- {quote(project_dir)}")
        lines.append(echo("Skipping Git repository setup"))
        return "\n".join(lines) + "\n"
    info = job.git_info
    if not _HEX_SHA.match(info.sha):
        raise ScriptError(f"the job's commit SHA is not a SHA: {info.sha!r}")
    refspecs = list(info.refspecs) or [
        "+refs/heads/*:refs/remotes/origin/*",
        "+refs/tags/*:refs/tags/*",
    ]
    for refspec in refspecs:
        if refspec.startswith("-") or not _REFSPEC.match(refspec):
            raise ScriptError(f"the job's refspec is malformed: {refspec!r}")
    if not info.repo_url.startswith(("http://", "https://", "file://")):
        raise ScriptError("the job's repository URL is not an http(s) URL")
    depth = info.depth if info.depth > 0 else 0
    if depth:
        lines.append(echo(f"Fetching changes with git depth set to {depth}..."))
    else:
        lines.append(echo("Fetching changes..."))
    lines += [
        f"git -c init.defaultBranch=main init -q -- {quote(project_dir)}",
        f"cd -- {quote(project_dir)}",
        echo("Created fresh repository.", color=False),
        f"git remote add origin {quote(info.repo_url)}",
    ]
    fetch = ["git", "fetch", "--prune", "--no-recurse-submodules"]
    if depth:
        fetch += ["--depth", str(depth)]
    fetch += ["--end-of-options", "origin", *refspecs]
    lines.append(" ".join(quote(part) for part in fetch))
    if job.variable("GIT_CHECKOUT", "true").strip().lower() != "false":
        ref = info.ref or info.sha[:8]
        lines.append(echo(f"Checking out {info.sha[:8]} as detached HEAD (ref is {ref})..."))
        lines.append(f"git -c advice.detachedHead=false checkout -f -q {quote(info.sha)} --")
    else:
        lines.append(echo("Skipping Git checkout"))
    submodules = job.variable("GIT_SUBMODULE_STRATEGY", "none").strip().lower()
    if submodules in ("normal", "recursive"):
        recursive = " --recursive" if submodules == "recursive" else ""
        lines.append(echo("Updating/initializing submodules..."))
        lines.append(f"git submodule sync{recursive}")
        lines.append(f"git submodule update --init{recursive}")
    else:
        lines.append(echo("Skipping Git submodules setup"))
    return "\n".join(lines) + "\n"

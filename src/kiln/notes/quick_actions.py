"""Quick actions: `/close`, `/label ~bug`, `/assign @me`... in notes and descriptions.

As GitLab's `QuickActions::InterpretService`: a command is a line of its own starting with
`/name` (case-insensitive), outside fenced code, HTML blocks and `>>>` quotes. Every command
line is removed from the text, whether it ran or not; a command the actor may not perform
(its `available(ctx)` is false) is silently ignored, as GitLab ignores it.

Commands do not write: `execute(ctx, arg)` records what should change in `ctx.updates` (the
keys are listed in `kiln.notes`' docstring) or appends a callback to `ctx.after`. The caller
applies `updates` through the noteable's own update service (which authorizes each change
again), then runs `after`, all in its transaction. Packages register their commands at import
time with `register`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiln.core.actor import Actor
from kiln.projects.models import Project


@dataclass
class QuickActionContext:
    """What one run of quick actions sees and decides."""

    actor: Actor
    project: Project
    # None while the noteable is being created (commands in a new issue's description).
    noteable: Any | None
    type_name: str
    updates: dict[str, Any] = field(default_factory=dict)
    after: list[Callable[[], None]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    # Text the commands put in place of their line (`/shrug` leaves ¯\\_(ツ)_/¯).
    substitutions: list[str] = field(default_factory=list)
    # Memo for lookups shared by commands of one run.
    memo: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class QuickAction:
    """One command. `types` are the noteable type names it applies to."""

    name: str
    types: frozenset[str]
    execute: Callable[[QuickActionContext, str], None]
    available: Callable[[QuickActionContext], bool] = lambda ctx: True
    aliases: tuple[str, ...] = ()
    explanation: str = ""
    params: str = ""
    # GitLab's `substitution` commands keep text in place of the command line.
    substitution: str | None = None


_COMMANDS: dict[str, QuickAction] = {}


def register(action: QuickAction) -> QuickAction:
    """Register (or replace) a command and its aliases."""
    for name in (action.name, *action.aliases):
        _COMMANDS[name.lower()] = action
    return action


def registered(name: str) -> QuickAction | None:
    return _COMMANDS.get(name.lower())


def commands_for(type_name: str) -> list[QuickAction]:
    seen: dict[str, QuickAction] = {}
    for action in _COMMANDS.values():
        if type_name in action.types:
            seen[action.name] = action
    return list(seen.values())


@dataclass
class QuickActionResult:
    text: str
    updates: dict[str, Any]
    after: list[Callable[[], None]]
    messages: list[str]
    # The commands found, in order, as (name, argument): also those that were ignored.
    commands: list[tuple[str, str]]

    @property
    def only_commands(self) -> bool:
        return bool(self.commands) and not self.text.strip()


_COMMAND_LINE = re.compile(r"^/(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:[ \t]+(?P<arg>.*?))?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_QUOTE_FENCE = re.compile(r"^ {0,3}>>>")
_HTML_BLOCK_OPEN = re.compile(r"^ {0,3}<(pre|script|style|textarea)[\s>]", re.IGNORECASE)


def extract(text: str, type_name: str) -> tuple[str, list[tuple[QuickAction, str, str]]]:
    """(text without command lines, [(action, name as written, argument)]).

    Only registered commands for `type_name` are commands; other `/word` lines stay text.
    """
    out: list[str] = []
    found: list[tuple[QuickAction, str, str]] = []
    fence: str | None = None
    in_quote = False
    html_end: str | None = None
    for line in text.split("\n"):
        stripped = line.rstrip("\r")
        if fence is not None:
            out.append(line)
            if stripped.strip().startswith(fence):
                fence = None
            continue
        if html_end is not None:
            out.append(line)
            if html_end in stripped.lower():
                html_end = None
            continue
        if in_quote:
            out.append(line)
            if _QUOTE_FENCE.match(stripped):
                in_quote = False
            continue
        if (fence_match := _FENCE.match(stripped)) is not None:
            fence = fence_match.group(1)[:3]
            out.append(line)
            continue
        if _QUOTE_FENCE.match(stripped):
            in_quote = True
            out.append(line)
            continue
        if (html := _HTML_BLOCK_OPEN.match(stripped)) is not None:
            tag = html.group(1).lower()
            if f"</{tag}>" not in stripped.lower():
                html_end = f"</{tag}>"
            out.append(line)
            continue
        match = _COMMAND_LINE.match(stripped)
        action = registered(match.group("name")) if match else None
        if match is None or action is None or type_name not in action.types:
            out.append(line)
            continue
        found.append((action, match.group("name"), (match.group("arg") or "").strip()))
        if action.substitution is not None:
            arg = (match.group("arg") or "").strip()
            out.append(f"{arg} {action.substitution}".strip())
    cleaned = "\n".join(out)
    return cleaned.strip("\n") if found else cleaned, found


def run(
    *,
    actor: Actor,
    project: Project,
    noteable: Any | None,
    type_name: str,
    text: str,
    context: QuickActionContext | None = None,
) -> QuickActionResult:
    """Parse `text`, run every command the actor may perform, and report what they decided.

    Nothing is written here (commands only fill `updates` and `after`). Commands the actor
    may not perform are dropped from the text and ignored.
    """
    cleaned, found = extract(text, type_name)
    ctx = context or QuickActionContext(
        actor=actor, project=project, noteable=noteable, type_name=type_name
    )
    commands: list[tuple[str, str]] = []
    for action, written, arg in found:
        commands.append((written.lower(), arg))
        if actor.user is None or not action.available(ctx):
            continue
        action.execute(ctx, arg)
    return QuickActionResult(
        text=cleaned,
        updates=ctx.updates,
        after=ctx.after,
        messages=ctx.messages,
        commands=commands,
    )

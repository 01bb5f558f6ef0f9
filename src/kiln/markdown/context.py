"""Where a piece of Markdown lives (`RenderContext`), and the state of one render.

`RenderContext` is public: callers say which project the text belongs to and how relative
links resolve. `RenderEnv` is private to the package: markdown-it hands the same `env` dict
to every parser and renderer rule of one render, and `RenderEnv` is what Kiln keeps in it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.markdown.references import Reference, ResolvedReference

# Highlighting is the costly part of a render (Pygments does roughly 100k characters a
# second); these caps keep a hostile or huge document from pinning a worker. Above them
# code is still shown, as escaped plain text. Read at render time, so tests can lower them.
HIGHLIGHT_MAX_BLOCK_CHARS = 50_000
HIGHLIGHT_MAX_DOCUMENT_CHARS = 200_000


@dataclass(frozen=True, kw_only=True)
class RenderContext:
    """Where the Markdown being rendered lives.

    project: full path of the project the text belongs to (``group/sub/project``). References
        without a project (``#12``) point into it; ``project#12`` points into its namespace.
    base_url: relative link and image targets (``docs/a.md``) resolve against this URL, e.g.
        the blob directory of a README. Unset: relative targets are left as written.
    uploads_url: targets under ``/uploads/`` are rebased onto this URL (the project's or
        group's uploads), as GitLab does for attachments.
    external_url: Kiln's own origin (``https://kiln.example``). Absolute links to any other
        host are external: they get ``rel="nofollow noreferrer noopener"`` and
        ``target="_blank"``. Unset: every absolute http(s) link is external.
    heading_anchors: give headings ids and hover anchors (GitLab's ``user-content-`` ids).
    """

    project: str | None = None
    base_url: str | None = None
    uploads_url: str | None = None
    external_url: str | None = None
    heading_anchors: bool = True


@dataclass(frozen=True)
class Heading:
    """A heading seen while parsing, for anchors and the table of contents."""

    level: int
    text: str
    slug: str


@dataclass
class RenderEnv:
    """Mutable state of one render, shared by the parser and renderer rules."""

    context: RenderContext
    # A per-render secret prefixed to every attribute value the renderer itself writes.
    # The sanitizer keeps trust-bearing attributes (class, id, style, data-*) only when they
    # carry it, so raw HTML typed by a user can never forge a reference, an emoji or a task
    # checkbox: the user cannot know the mark, and it never reaches the output.
    mark: str = field(default_factory=lambda: "k" + secrets.token_hex(12) + ":")
    # Distinguishes footnote ids of different documents shown on one page.
    footnote_suffix: str = ""
    references: dict[Reference, None] = field(default_factory=dict)
    resolved: Mapping[Reference, ResolvedReference] = field(default_factory=dict)
    headings: list[Heading] = field(default_factory=list)
    slug_counts: dict[str, int] = field(default_factory=dict)
    highlight_budget: int = field(default_factory=lambda: HIGHLIGHT_MAX_DOCUMENT_CHARS)
    single_line: bool = False


def get_env(env: MutableMapping[str, Any]) -> RenderEnv:
    """The `RenderEnv` of the current render (every render path puts one in place)."""
    state = env.get("kiln")
    if not isinstance(state, RenderEnv):
        # Parsing without Kiln's env (e.g. a plugin calling md.parse directly) still works:
        # it gets default state, never a crash.
        state = RenderEnv(context=RenderContext())
        env["kiln"] = state
    return state

"""Task list items: `- [ ]`, `- [x]` and GitLab's inapplicable `- [~]`.

A core rule marks list items whose first paragraph starts with a box on the item's own
line, and the renderer puts a disabled checkbox at the start of that paragraph (inside the
`<p>` for loose lists, as GitLab does). `task_items` lists the boxes in document order,
which is also the order of the rendered checkboxes; `toggle.py` edits the source with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from kiln.markdown.context import get_env
from kiln.markdown.markup import start_tag

TASK_OPEN = "open"
TASK_DONE = "done"
TASK_INAPPLICABLE = "inapplicable"
_STATES = {" ": TASK_OPEN, "x": TASK_DONE, "X": TASK_DONE, "~": TASK_INAPPLICABLE}
TASK_MARKER = re.compile(r"\[([ xX~])\](?=[ \t]|\Z)")


@dataclass(frozen=True)
class TaskItem:
    """A task box in the source: `line` is 0-based, `state` one of the TASK_* values."""

    line: int
    state: str


def _tasks_rule(state: StateCore) -> None:
    tokens = state.tokens
    lists: list[Token] = []
    for index, token in enumerate(tokens):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists.append(token)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open" and index + 2 < len(tokens):
            paragraph, inline = tokens[index + 1], tokens[index + 2]
            if (
                paragraph.type != "paragraph_open"
                or inline.type != "inline"
                # The box must sit on the item's first line, right after the marker.
                or not (paragraph.map and token.map and paragraph.map[0] == token.map[0])
            ):
                continue
            marker = TASK_MARKER.match(inline.content)
            if marker is None:
                continue
            task = _STATES[marker.group(1)]
            token.meta = {**(token.meta or {}), "task": task}
            inline.content = inline.content[marker.end() :].lstrip(" \t")
            classes = (
                "task-list-item inapplicable" if task == TASK_INAPPLICABLE else "task-list-item"
            )
            token.attrJoin("class", classes)
            if lists and "task-list" not in str(lists[-1].attrGet("class") or ""):
                lists[-1].attrJoin("class", "task-list")


def task_items(tokens: Sequence[Token]) -> list[TaskItem]:
    """The task boxes of a parsed document, in document order."""
    return [
        TaskItem(line=token.map[0], state=token.meta["task"])
        for token in tokens
        if token.type == "list_item_open" and token.meta and "task" in token.meta and token.map
    ]


def _task_of(tokens: Sequence[Token], paragraph_open: int) -> str | None:
    if paragraph_open < 1:
        return None
    item = tokens[paragraph_open - 1]
    if item.type != "list_item_open" or not item.meta:
        return None
    task = item.meta.get("task")
    return str(task) if task else None


def _render_paragraph_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    html = self.renderToken(tokens, idx, options, env)
    task = _task_of(tokens, idx)
    if task is None:
        return html
    attrs = [("type", "checkbox"), ("class", "task-list-item-checkbox")]
    if task == TASK_DONE:
        attrs.append(("checked", ""))
    if task == TASK_INAPPLICABLE:
        attrs.append(("data-inapplicable", ""))
    attrs.append(("disabled", ""))
    html += start_tag(get_env(env), "input", attrs) + " "
    return html + "<s>" if task == TASK_INAPPLICABLE else html


def _render_paragraph_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    html = self.renderToken(tokens, idx, options, env)
    if idx >= 2 and _task_of(tokens, idx - 2) == TASK_INAPPLICABLE:
        return "</s>" + html
    return html


def tasks_plugin(md: MarkdownIt) -> None:
    md.core.ruler.after("block", "task_lists", _tasks_rule)
    md.add_render_rule("paragraph_open", _render_paragraph_open)
    md.add_render_rule("paragraph_close", _render_paragraph_close)

"""Checking and unchecking task list boxes in Markdown source (the API's `update_task`).

The box is found by parsing, exactly as the renderer finds it, so a `[ ]` in a code block
or mid-sentence is never touched, and the edit changes one character of the source.
"""

from __future__ import annotations

import re
from typing import Literal

from kiln.markdown.context import RenderContext, RenderEnv
from kiln.markdown.parser import document_parser
from kiln.markdown.tasks import TASK_DONE, TASK_INAPPLICABLE, TASK_MARKER, TaskItem, task_items

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|\Z)")


class TaskNotFoundError(LookupError):
    """No task box at that index or line (the source changed since it was rendered)."""


class TaskNotToggleableError(ValueError):
    """The box is an inapplicable task (`[~]`), which has no checked state."""


def list_tasks(source: str) -> list[TaskItem]:
    """Every task box of the document, in the order the rendered checkboxes appear."""
    env = {"kiln": RenderEnv(context=RenderContext())}
    return task_items(document_parser().parse(source, env))


def toggle_task(
    source: str,
    index_or_line: int,
    checked: bool,
    *,
    by: Literal["index", "line"] = "index",
) -> str:
    """Return `source` with one task box checked or unchecked.

    index_or_line: with `by="index"` (the default), the 1-based position of the checkbox
        among the rendered task checkboxes (what a click in the UI knows); with
        `by="line"`, the 1-based source line of the task item (GitLab's `line_number`).
    Raises TaskNotFoundError when there is no such box, TaskNotToggleableError for `[~]`.
    Returns the source unchanged when the box already has the wanted state.
    """
    tasks = list_tasks(source)
    if by == "index":
        found = tasks[index_or_line - 1] if 1 <= index_or_line <= len(tasks) else None
    else:
        found = next((task for task in tasks if task.line == index_or_line - 1), None)
    if found is None:
        raise TaskNotFoundError(f"no task at {by} {index_or_line}")
    if found.state == TASK_INAPPLICABLE:
        raise TaskNotToggleableError(f"task at {by} {index_or_line} is inapplicable")
    if (found.state == TASK_DONE) == checked:
        return source

    # Lines as markdown-it counts them (\n, \r\n or \r), each with its own ending.
    lines = _LINE.findall(source)
    line = lines[found.line]
    # Only container markers (`>`, `-`, `1.`, spaces) precede the box on its line, and
    # none of them is `[`, so the first box-shaped match is the task's own.
    marker = TASK_MARKER.search(line.rstrip("\r\n"))
    if marker is None:  # pragma: no cover - the parser found a box on this line
        raise TaskNotFoundError(f"no task box on line {found.line + 1}")
    box = marker.start(1)
    lines[found.line] = line[:box] + ("x" if checked else " ") + line[box + 1 :]
    return "".join(lines)

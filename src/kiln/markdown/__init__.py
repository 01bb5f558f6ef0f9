"""GitLab Flavored Markdown for Kiln: rendering, references, task lists.

A pure library (no Django): issues, notes, the `POST /markdown` API and the web UI call
`render` / `render_title` and hand in a `ReferenceResolver` that knows what the viewer may
see. Output is sanitized HTML; cache it keyed by `RENDERER_VERSION`.
"""

from kiln.markdown.context import RenderContext
from kiln.markdown.references import Reference, ReferenceResolver, ReferenceType, ResolvedReference
from kiln.markdown.render import (
    RENDERER_VERSION,
    first_line,
    render,
    render_plain_text,
    render_title,
)
from kiln.markdown.toggle import TaskNotFoundError, TaskNotToggleableError, list_tasks, toggle_task

__all__ = [
    "RENDERER_VERSION",
    "Reference",
    "ReferenceResolver",
    "ReferenceType",
    "RenderContext",
    "ResolvedReference",
    "TaskNotFoundError",
    "TaskNotToggleableError",
    "first_line",
    "list_tasks",
    "render",
    "render_plain_text",
    "render_title",
    "toggle_task",
]

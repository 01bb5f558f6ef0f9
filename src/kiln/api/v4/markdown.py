"""API v4: `POST /markdown` (GitLab's `lib/api/markdown.rb`): render GitLab Flavored Markdown
as the caller may see it. `gfm=false` renders without GitLab's references; `project` makes
`#12`, `~label` and friends resolve in that project (404 when the caller cannot see it)."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from kiln import markdown
from kiln.api.v4.auth import require_user
from kiln.api.v4.params import Params
from kiln.core.urls import base_url
from kiln.issues.references import render_for
from kiln.projects.queries import get_project_for

router = Router(tags=["markdown"])


class MarkdownParams(Schema):
    text: str
    gfm: bool = False
    project: str | None = None


@router.post("/markdown", response={201: dict[str, Any]})
def render_markdown(
    request: HttpRequest, payload: Annotated[MarkdownParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    project = get_project_for(actor, payload.project) if payload.project else None
    if payload.gfm:
        html = render_for(actor, payload.text, project=project, base_url=base_url(request))
    else:
        html = markdown.render(payload.text)
    return Status(201, {"html": html})

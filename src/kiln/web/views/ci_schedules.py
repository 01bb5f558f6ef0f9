"""Pipeline schedules (`/<project>/-/pipeline_schedules`): the list (all, active, inactive),
new and edit forms (description, cron, time zone, ref, active, variables, inputs), play, take
ownership and delete, over `kiln.ci.schedules` (the API's service).

Who may do what is the service's: people who may read pipelines (signed in) see the list;
Developers create; the owner edits; Maintainers take ownership and delete; whoever may run
pipelines on the ref plays. Forbidden actions answer 404, as every page does.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiln.ci import policies
from kiln.ci import schedules as services
from kiln.ci.models import PipelineSchedule, PipelineScheduleVariable
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.projects.models import Project
from kiln.web.context import actor_for
from kiln.web.views.ci import _base, _ci_project, _page, _redirect, _refs
from kiln.web.views.forms import form_errors

SCOPES = (("all", "All"), ("active", "Active"), ("inactive", "Inactive"))
ROWS = 50  # at most this many variables and inputs in one form
EMPTY_ROWS = 2


def _project(request: HttpRequest, full_path: str) -> tuple[Actor, Project]:
    actor = actor_for(request)
    if actor.user is None:
        raise Http404(full_path)
    return actor, _ci_project(request, full_path)


def _schedule(actor: Actor, project: Project, schedule_id: int) -> PipelineSchedule:
    try:
        return services.get_schedule(actor=actor, project=project, schedule_id=schedule_id)
    except (NotFound, Forbidden) as exc:
        raise Http404(str(schedule_id)) from exc


def _errors(exc: KilnError) -> list[str]:
    # The service keeps GitLab's " is invalid syntax" (with its leading space).
    return [" ".join(message.split()) for message in form_errors(exc)]


def _list_url(project: Project) -> str:
    return f"{_base(project)}/-/pipeline_schedules"


@require_http_methods(["GET", "POST"])
def index_or_create(request: HttpRequest, full_path: str) -> HttpResponse:
    """GET: the schedules; POST: the new schedule form's submission."""
    if request.method == "POST":
        return _create(request, full_path)
    actor, project = _project(request, full_path)
    scope = request.GET.get("scope", "all")
    if scope not in dict(SCOPES):
        scope = "all"
    try:
        found = services.list_schedules(
            actor=actor, project=project, scope=None if scope == "all" else scope
        )
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    rows = []
    for schedule in found[:200]:
        rows.append(
            {
                "schedule": schedule,
                "ref": services.short_ref(schedule.ref),
                "tag": services.is_tag_ref(schedule.ref),
                "last_pipeline": services.last_pipeline(schedule),
                "is_owner": schedule.owner_id == actor.user_id,
                "can_edit": schedule.owner_id == actor.user_id or actor.is_admin,
                "can_admin": policies.can_admin_ci(actor, project),
                "can_play": policies.can_run_pipelines(actor, project),
            }
        )
    return _page(
        request,
        "web/ci/schedules.html",
        project,
        "schedules",
        {
            "rows": rows,
            "scope": scope,
            "tabs": SCOPES,
            "tabs_label": "Schedules",
            "base_path": _list_url(project),
            "can_create": policies.can_run_pipelines(actor, project),
        },
    )


# --- the form ----------------------------------------------------------------------------------


def _rows(post: Any, prefix: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    """`prefix[i][field]` fields of a form, in index order, blank rows left out."""
    rows = []
    for index in range(ROWS + EMPTY_ROWS):
        row = {field: str(post.get(f"{prefix}[{index}][{field}]", "")) for field in fields}
        if any(value.strip() for value in row.values() if value not in ("env_var", "file")):
            rows.append(row)
    return rows


def _form_from(post: Any) -> dict[str, Any]:
    return {
        "description": post.get("description", "").strip(),
        "cron": post.get("cron", "").strip(),
        "cron_timezone": post.get("cron_timezone", "").strip() or "UTC",
        "ref": post.get("ref", "").strip(),
        "active": post.get("active") == "1",
        "variables": _rows(post, "variables", ("key", "value", "variable_type"))[:ROWS],
        "inputs": _rows(post, "inputs", ("name", "value"))[:ROWS],
    }


def _form_of(schedule: PipelineSchedule) -> dict[str, Any]:
    return {
        "description": schedule.description,
        "cron": schedule.cron,
        "cron_timezone": schedule.cron_timezone,
        "ref": services.short_ref(schedule.ref),
        "active": schedule.active,
        "variables": [
            {"key": v.key, "value": v.value, "variable_type": v.variable_type}
            for v in schedule.variables.order_by("pk")
        ],
        "inputs": [
            {"name": item["name"], "value": _text(item["value"])} for item in schedule.inputs or []
        ],
    }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _form_page(
    request: HttpRequest,
    project: Project,
    form: dict[str, Any],
    errors: list[str],
    schedule: PipelineSchedule | None = None,
    status: int = 200,
) -> HttpResponse:
    branches, tags = _refs(project)
    variables = list(form["variables"]) + [
        {"key": "", "value": "", "variable_type": "env_var"} for _ in range(EMPTY_ROWS)
    ]
    inputs = list(form["inputs"]) + [{"name": "", "value": ""} for _ in range(EMPTY_ROWS)]
    response = _page(
        request,
        "web/ci/schedule_form.html",
        project,
        "schedules",
        {
            "form": form,
            "errors": errors,
            "schedule": schedule,
            "branches": branches,
            "tags": tags,
            "variable_rows": [{"index": i, **row} for i, row in enumerate(variables)],
            "input_rows": [{"index": i, **row} for i, row in enumerate(inputs)],
        },
    )
    response.status_code = status
    return response


def _attrs(form: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": form["description"],
        "cron": form["cron"],
        "cron_timezone": form["cron_timezone"],
        "ref": form["ref"],
        "active": form["active"],
    }


def _inputs_change(schedule: PipelineSchedule | None, form: dict[str, Any]) -> list[Any]:
    """The service's `inputs` change making the schedule's inputs those of the form."""
    wanted = [{"name": row["name"].strip(), "value": row["value"]} for row in form["inputs"]]
    names = {row["name"] for row in wanted}
    gone = [
        {"name": item["name"], "_destroy": True}
        for item in (schedule.inputs if schedule is not None else None) or []
        if item["name"] not in names
    ]
    return gone + wanted


def _sync_variables(actor: Actor, schedule: PipelineSchedule, rows: list[dict[str, str]]) -> None:
    """Make the schedule's variables those of the form (by key): create, update, delete."""
    existing = {v.key: v for v in schedule.variables.all()}
    wanted: dict[str, dict[str, str]] = {}
    for row in rows:
        wanted[row["key"].strip()] = row
    for key, variable in existing.items():
        if key not in wanted:
            services.delete_variable(actor=actor, variable=variable)
    for key, row in wanted.items():
        attrs = {"key": key, "value": row["value"], "variable_type": row["variable_type"]}
        found: PipelineScheduleVariable | None = existing.get(key)
        if found is None:
            services.create_variable(actor=actor, schedule=schedule, attrs=attrs)
        elif found.value != row["value"] or found.variable_type != row["variable_type"]:
            services.update_variable(actor=actor, variable=found, attrs=attrs)


@require_GET
def new(request: HttpRequest, full_path: str) -> HttpResponse:
    actor, project = _project(request, full_path)
    if not policies.can_run_pipelines(actor, project):
        raise Http404(full_path)
    form = {
        "description": "",
        "cron": "",
        "cron_timezone": "UTC",
        "ref": project.default_branch or "",
        "active": True,
        "variables": [],
        "inputs": [],
    }
    return _form_page(request, project, form, [])


def _create(request: HttpRequest, full_path: str) -> HttpResponse:
    actor, project = _project(request, full_path)
    form = _form_from(request.POST)
    try:
        with transaction.atomic():
            attrs = {**_attrs(form), "inputs": _inputs_change(None, form)}
            schedule = services.create_schedule(actor=actor, project=project, attrs=attrs)
            if form["variables"]:
                _sync_variables(actor, schedule, form["variables"])
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        return _form_page(request, project, form, _errors(exc), status=400)
    messages.success(request, f"Pipeline schedule '{schedule.description}' was created.")
    return _redirect(_list_url(project))


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, full_path: str, schedule_id: int) -> HttpResponse:
    actor, project = _project(request, full_path)
    schedule = _schedule(actor, project, schedule_id)
    if schedule.owner_id != actor.user_id and not actor.is_admin:
        raise Http404(str(schedule_id))
    if request.method == "GET":
        return _form_page(request, project, _form_of(schedule), [], schedule)
    form = _form_from(request.POST)
    try:
        with transaction.atomic():
            attrs = {**_attrs(form), "inputs": _inputs_change(schedule, form)}
            schedule = services.update_schedule(actor=actor, schedule=schedule, attrs=attrs)
            _sync_variables(actor, schedule, form["variables"])
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        fresh = _schedule(actor, project, schedule_id)
        return _form_page(request, project, form, _errors(exc), fresh, status=400)
    messages.success(request, f"Pipeline schedule '{schedule.description}' was updated.")
    return _redirect(_list_url(project))


def _action(request: HttpRequest, full_path: str, schedule_id: int, action: str) -> HttpResponse:
    actor, project = _project(request, full_path)
    schedule = _schedule(actor, project, schedule_id)
    try:
        if action == "play":
            services.play_schedule(actor=actor, schedule=schedule)
            messages.success(
                request,
                "Successfully scheduled a pipeline to run. It may take a moment to appear.",
            )
        elif action == "take_ownership":
            services.take_ownership(actor=actor, schedule=schedule)
            messages.success(request, "You are now the owner of this pipeline schedule.")
        else:
            description = schedule.description
            services.delete_schedule(actor=actor, schedule=schedule)
            messages.success(request, f"Pipeline schedule '{description}' was deleted.")
    except (NotFound, Forbidden) as exc:
        raise Http404(str(schedule_id)) from exc
    return _redirect(_list_url(project))


@require_POST
def play(request: HttpRequest, full_path: str, schedule_id: int) -> HttpResponse:
    return _action(request, full_path, schedule_id, "play")


@require_POST
def take_ownership(request: HttpRequest, full_path: str, schedule_id: int) -> HttpResponse:
    return _action(request, full_path, schedule_id, "take_ownership")


@require_POST
def delete(request: HttpRequest, full_path: str, schedule_id: int) -> HttpResponse:
    return _action(request, full_path, schedule_id, "delete")

"""CI/CD settings (variables, runners, general pipeline settings) and the CI lint page, under
`/<full_path>/-/settings/ci_cd` and `/-/ci/lint`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.views.decorators.http import require_http_methods, require_POST

from kiln.ci import lint as lint_service
from kiln.ci import policies, queries
from kiln.ci import runners as runner_services
from kiln.ci import variables as variable_services
from kiln.ci.config import PipelinePlan
from kiln.ci.models import (
    Runner,
    RunnerType,
    Variable,
)
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.core.policy import can
from kiln.core.urls import base_url
from kiln.projects import services as project_services
from kiln.projects.models import Project
from kiln.web.context import actor_for
from kiln.web.views import ci_triggers
from kiln.web.views.ci import _admin_project, _base, _page, _redirect
from kiln.web.views.forms import checked, form_errors, int_or_none

# --- CI/CD settings ----------------------------------------------------------------------------


def _variable_rows(actor: Actor, project: Project) -> list[Variable]:
    owner = variable_services.VariableOwner(project=project)
    return list(variable_services.list_variables(actor=actor, owner=owner))


def _runner_rows(actor: Actor, project: Project) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {"project": [], "group": [], "instance": []}
    for runner in queries.list_project_runners(project)[:200]:
        kind = {
            RunnerType.PROJECT: "project",
            RunnerType.GROUP: "group",
            RunnerType.INSTANCE: "instance",
        }[RunnerType(runner.runner_type)]
        found[kind].append(
            {"runner": runner, "can_admin": policies.can_admin_runner(actor, runner)}
        )
    return found


def _settings_page(
    request: HttpRequest,
    project: Project,
    *,
    errors: Iterable[str] = (),
    variable_form: dict[str, Any] | None = None,
    variable_errors: Iterable[str] = (),
    runner_errors: Iterable[str] = (),
    status: int = 200,
) -> HttpResponse:
    actor = actor_for(request)
    response = _page(
        request,
        "web/ci/settings.html",
        project,
        "settings",
        {
            "tab": "ci_cd",
            "can_admin": can(actor, "admin_project", project),
            "errors": list(errors),
            "variables": _variable_rows(actor, project),
            "variable_form": variable_form or {"environment_scope": "*", "raw": False},
            "variable_errors": list(variable_errors),
            "runner_errors": list(runner_errors),
            "runners": _runner_rows(actor, project),
            "timeout_minutes": project.build_timeout // 60,
            "external_url": base_url(request),
            **ci_triggers.trigger_rows(request, project),
        },
    )
    response.status_code = status
    return response


@require_http_methods(["GET", "POST"])
def settings_ci_cd(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _admin_project(request, full_path)
    if request.method == "GET":
        return _settings_page(request, project)
    post = request.POST
    minutes = int_or_none(post.get("build_timeout_minutes"))
    settings: dict[str, Any] = {
        "public_jobs": checked(post, "public_jobs"),
        "auto_cancel_pending_pipelines": "enabled"
        if checked(post, "auto_cancel_pending_pipelines")
        else "disabled",
        "ci_config_path": post.get("ci_config_path", "").strip(),
    }
    errors: list[str] = []
    if minutes is None:
        errors.append("Timeout must be a whole number of minutes")
    else:
        settings["build_timeout"] = minutes * 60
    if not errors:
        try:
            project_services.update_project(
                actor=actor_for(request), project=project, settings=settings
            )
        except (NotFound, Forbidden) as exc:
            raise Http404(full_path) from exc
        except KilnError as exc:
            errors = form_errors(exc)
    if errors:
        project.refresh_from_db()
        return _settings_page(request, project, errors=errors)
    messages.success(request, f"Pipelines settings for '{project.name}' were successfully updated.")
    return _redirect(f"{_base(project)}/-/settings/ci_cd")


def _variable_changes(post: Any) -> dict[str, Any]:
    visibility = post.get("visibility", "visible")
    changes: dict[str, Any] = {
        "variable_type": post.get("variable_type", "env_var"),
        "protected": checked(post, "protected"),
        "raw": not checked(post, "expand"),
        "environment_scope": post.get("environment_scope", "").strip() or "*",
        "description": post.get("description", ""),
    }
    if "value" in post:
        changes["value"] = post.get("value", "").replace("\r\n", "\n")
    if visibility in ("visible", "masked"):
        changes["masked"] = visibility == "masked"
    elif visibility == "masked_and_hidden":
        # Only a new variable becomes hidden; a hidden one keeps its visibility.
        changes["masked"] = changes["hidden"] = True
    return changes


@require_POST
def variable_create(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _admin_project(request, full_path)
    actor = actor_for(request)
    key = request.POST.get("key", "").strip()
    changes = _variable_changes(request.POST)
    owner = variable_services.VariableOwner(project=project)
    try:
        variable_services.create_variable(actor=actor, owner=owner, key=key, changes=changes)
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        form = {"key": key, **changes, "visibility": request.POST.get("visibility", "visible")}
        form["value"] = ""
        return _settings_page(
            request, project, variable_form=form, variable_errors=form_errors(exc), status=200
        )
    messages.success(request, f"Variable {key} was added.")
    return _redirect(f"{_base(project)}/-/settings/ci_cd#js-cicd-variables-settings")


def _variable_row(request: HttpRequest, project: Project, variable_id: int) -> Variable:
    owner = variable_services.VariableOwner(project=project)
    try:
        found = (
            variable_services.list_variables(actor=actor_for(request), owner=owner)
            .filter(pk=variable_id)
            .first()
        )
    except (NotFound, Forbidden) as exc:
        raise Http404(str(variable_id)) from exc
    if found is None:
        raise Http404(str(variable_id))
    return found


@require_http_methods(["GET", "POST"])
def variable_edit(request: HttpRequest, full_path: str, variable_id: int) -> HttpResponse:
    project = _admin_project(request, full_path)
    row = _variable_row(request, project, variable_id)
    errors: list[str] = []
    if request.method == "POST":
        owner = variable_services.VariableOwner(project=project)
        changes = _variable_changes(request.POST)
        if row.hidden:
            # A hidden variable keeps its visibility, and its value unless a new one is given.
            changes.pop("masked", None)
            changes.pop("hidden", None)
            if not request.POST.get("value"):
                changes.pop("value", None)
        try:
            variable_services.update_variable(
                actor=actor_for(request), owner=owner, row=row, changes=changes
            )
        except (NotFound, Forbidden) as exc:
            raise Http404(full_path) from exc
        except KilnError as exc:
            errors = form_errors(exc)
            row.refresh_from_db()
        else:
            messages.success(request, f"Variable {row.key} was updated.")
            return _redirect(f"{_base(project)}/-/settings/ci_cd#js-cicd-variables-settings")
    return _page(
        request,
        "web/ci/variable_edit.html",
        project,
        "settings",
        {"variable": row, "errors": errors},
    )


@require_POST
def variable_delete(request: HttpRequest, full_path: str, variable_id: int) -> HttpResponse:
    project = _admin_project(request, full_path)
    row = _variable_row(request, project, variable_id)
    owner = variable_services.VariableOwner(project=project)
    try:
        variable_services.delete_variable(actor=actor_for(request), owner=owner, row=row)
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    messages.success(request, f"Variable {row.key} was deleted.")
    return _redirect(f"{_base(project)}/-/settings/ci_cd#js-cicd-variables-settings")


def register_command(request: HttpRequest, token: str) -> str:
    return f"kiln runner register --url {base_url(request)} --token {token}"


@require_POST
def runner_create(request: HttpRequest, full_path: str) -> HttpResponse:
    """POST /-/runners: a new project runner (as `POST /user/runners` with `project_type`);
    its token is shown once, with the command that registers it."""
    project = _admin_project(request, full_path)
    post = request.POST
    attrs = {
        "description": post.get("description", "").strip(),
        "tag_list": post.get("tag_list", ""),
        "run_untagged": checked(post, "run_untagged"),
        "locked": checked(post, "locked"),
        "paused": checked(post, "paused"),
        "access_level": "ref_protected" if checked(post, "protected") else "not_protected",
        "maximum_timeout": post.get("maximum_timeout", "").strip() or None,
    }
    try:
        created = runner_services.create_runner(
            actor=actor_for(request),
            runner_type=RunnerType.PROJECT,
            project=project,
            attrs=attrs,
        )
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        return _settings_page(request, project, runner_errors=form_errors(exc))
    response = _page(
        request,
        "web/ci/runner_register.html",
        project,
        "settings",
        {
            "runner": created.runner,
            "token": created.token,
            "command": register_command(request, created.token),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def _project_runner(request: HttpRequest, project: Project, runner_id: int) -> Runner:
    ids = [r.pk for r in queries.list_project_runners(project).filter(pk=runner_id)]
    if not ids:
        raise Http404(str(runner_id))
    return Runner.objects.get(pk=ids[0])


@require_POST
def runner_action(request: HttpRequest, full_path: str, runner_id: int, action: str) -> Any:
    project = _admin_project(request, full_path)
    runner = _project_runner(request, project, runner_id)
    actor = actor_for(request)
    try:
        if action == "delete":
            runner_services.delete_runner(actor=actor, runner=runner)
            messages.success(request, "Runner was deleted.")
        else:
            runner_services.update_runner(
                actor=actor, runner=runner, changes={"paused": action == "pause"}
            )
    except (NotFound, Forbidden) as exc:
        raise Http404(str(runner_id)) from exc
    except KilnError as exc:
        messages.error(request, exc.message)
    return _redirect(f"{_base(project)}/-/settings/ci_cd#js-runners-settings")


@require_POST
def toggle_shared_runners(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _admin_project(request, full_path)
    try:
        project_services.update_project(
            actor=actor_for(request),
            project=project,
            settings={"shared_runners_enabled": not project.shared_runners_enabled},
        )
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        messages.error(request, exc.message)
    return _redirect(f"{_base(project)}/-/settings/ci_cd#js-runners-settings")


# --- CI lint -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def ci_lint(request: HttpRequest, full_path: str) -> HttpResponse:
    """The CI Lint page: the same lint service and the same check (may run pipelines) as
    `POST /projects/:id/ci/lint`."""
    from kiln.web.context import project_or_404

    project = project_or_404(request, full_path)
    actor = actor_for(request)
    if not policies.can_run_pipelines(actor, project):
        raise Http404(full_path)
    content = request.POST.get("content", "") if request.method == "POST" else ""
    ref = (request.POST.get("dry_run_ref") or "").strip() or None
    result: dict[str, Any] | None = None
    if request.method == "POST":
        outcome = lint_service.lint(
            actor=actor, project=project, content=content.replace("\r\n", "\n"), ref=ref
        )
        plan = outcome.result if isinstance(outcome.result, PipelinePlan) else None
        result = {
            "valid": outcome.valid,
            "errors": list(outcome.errors),
            "warnings": list(outcome.warnings),
            "jobs": [
                {
                    "name": job.name,
                    "stage": job.stage,
                    "when": job.when,
                    "allow_failure": job.allow_failure,
                    "tags": list(job.tags),
                    "needs": [n.job for n in job.needs] if job.needs is not None else None,
                    "script": "\n".join([*job.before_script, *job.script, *job.after_script]),
                }
                for job in (plan.jobs if plan is not None else ())
            ],
        }
    return _page(
        request,
        "web/ci/lint.html",
        project,
        "pipelines",
        {"content": content, "ref": ref or "", "result": result},
    )

"""The NinjaAPI instance, its routers, and the single mapping from errors to GitLab's bodies."""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from kiln import __version__
from kiln.api.v4.auth import GitLabAuth
from kiln.api.v4.params import validation_error_body
from kiln.core.errors import KilnError, TooManyRequests

log = logging.getLogger("kiln.api")

api = NinjaAPI(
    title="Kiln API v4",
    version=__version__,
    description="GitLab-compatible REST API v4.",
    urls_namespace="api_v4",
    auth=GitLabAuth(),
    openapi_url="/openapi.json",
    docs_url="/docs",
)


@api.exception_handler(KilnError)
def _kiln_error(request: HttpRequest, exc: KilnError) -> HttpResponse:
    response = api.create_response(request, exc.body(), status=exc.status)
    if isinstance(exc, TooManyRequests):
        response = HttpResponse("Retry later\n", status=429, content_type="text/plain")
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(request, validation_error_body(list(exc.errors)), status=400)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(request, {"message": "401 Unauthorized"}, status=401)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"message": str(exc)}, status=exc.status_code)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"message": "404 Not Found"}, status=404)


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.error("unhandled error in the API", exc_info=exc)
    response = api.create_response(request, {"message": "500 Internal Server Error"}, status=500)
    # Logged once, above: Django must not log it again.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _register() -> None:
    from kiln.api.v4 import (
        application_settings,
        award_emoji,
        branches,
        ci_lint,
        ci_runner_protocol,
        ci_variables,
        commits,
        deployments,
        environments,
        events,
        forks,
        groups,
        hooks,
        internal,
        issues,
        jobs,
        labels,
        markdown,
        members,
        merge_requests,
        meta,
        milestones,
        namespaces,
        notes,
        notification_settings,
        pipeline_schedules,
        pipelines,
        projects,
        repository,
        runners_admin,
        tags,
        todos,
        triggers,
        users,
    )

    for module in (
        meta,
        users,
        namespaces,
        groups,
        projects,
        forks,
        members,
        application_settings,
        repository,
        commits,
        branches,
        tags,
        internal,
        ci_runner_protocol,
        pipelines,
        pipeline_schedules,
        triggers,
        jobs,
        environments,
        deployments,
        ci_lint,
        ci_variables,
        runners_admin,
        hooks,
        merge_requests,
        issues,
        notes,
        award_emoji,
        labels,
        milestones,
        todos,
        events,
        markdown,
        notification_settings,
    ):
        api.add_router("/", module.router)


_register()

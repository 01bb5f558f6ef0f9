"""Paginating an API list: slice the queryset, set GitLab's headers on the response."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from kiln.core.pagination import RowLoader, paginate
from kiln.core.urls import base_url

T = TypeVar("T")


def request_params(request: HttpRequest) -> dict[str, str]:
    hidden = ("private_token", "access_token")
    return {k: str(request.GET[k]) for k in request.GET if k not in hidden}


def paginated(
    request: HttpRequest,
    response: HttpResponse,
    queryset: QuerySet[Any],
    present: Callable[[list[Any]], Iterable[T]],
    *,
    rows: RowLoader | None = None,
) -> list[T]:
    """One page of `queryset`, presented in a batch (so presenting costs O(1) queries).

    `rows`: load the page's objects from their primary keys (see kiln.core.pagination).
    """
    # path_info under /api/ is the raw path (RawPathMiddleware): `grp%2Fsub` stays encoded.
    url = base_url(request) + request.META.get("SCRIPT_NAME", "") + request.path_info
    page = paginate(queryset, url=url, params=request_params(request), rows=rows)
    for name, value in page.headers.items():
        response[name] = value
    return list(present(page.items))


def rows_from(queryset: QuerySet[Any]) -> RowLoader:
    """A row loader for `paginated`: the page is chosen by primary key over the filtered,
    ordered queryset (no joins for related rows), then only its rows are loaded, with the
    queryset's joins and annotations, in page order."""

    def load(ids: list[Any]) -> list[Any]:
        found = {obj.pk: obj for obj in queryset.order_by().filter(pk__in=ids)}
        return [found[pk] for pk in ids if pk in found]

    return load

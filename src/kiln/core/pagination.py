"""GitLab's offset and keyset pagination, with its headers and Link relations.

Offset: `page`, `per_page` (default 20, capped at 100), headers `X-Page X-Per-Page X-Total
X-Total-Pages X-Next-Page X-Prev-Page` and `Link` with first/prev/next/last. Like GitLab, the
totals are left out when counting would pass 10,000 rows. Keyset (`pagination=keyset`,
`order_by=id`): `Link` rel=next only, carrying `id_after`/`id_before`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
COUNT_LIMIT = 10_000


@dataclass
class Page:
    items: list[Any]
    headers: dict[str, str] = field(default_factory=dict)


def _int(value: str | int | None, default: int) -> int:
    try:
        return int(value) if value is not None and value != "" else default
    except (TypeError, ValueError):
        return default


def clamp_per_page(value: str | int | None) -> int:
    per_page = _int(value, DEFAULT_PER_PAGE)
    if per_page < 1:
        return DEFAULT_PER_PAGE
    return min(per_page, MAX_PER_PAGE)


def _link(url: str, params: dict[str, str], **changes: Any) -> str:
    merged = {**params, **{k: str(v) for k, v in changes.items()}}
    return f"{url}?{urlencode(merged)}"


# Loads the rows of a page from their primary keys, in the order given.
RowLoader = Callable[[list[Any]], list[Any]]


def _slice(queryset: QuerySet[Any], start: int, stop: int, rows: RowLoader | None) -> list[Any]:
    """`queryset[start:stop]`; with `rows`, the page is chosen by primary key alone and `rows`
    loads the objects (the filter and order are compiled for one column, not for every one)."""
    if rows is None:
        return list(queryset[start:stop])
    return list(queryset.values_list("pk", flat=True)[start:stop])


def paginate(
    queryset: QuerySet[Any],
    *,
    url: str,
    params: dict[str, str],
    keyset_field: str = "id",
    rows: RowLoader | None = None,
) -> Page:
    """Slice `queryset` as the request's parameters ask and build GitLab's headers.

    `url` is the absolute URL of the endpoint without a query; `params` the request's query
    parameters (single values), kept in every Link so filters survive paging. `rows`: see
    `_slice` (for hot lists whose rows are costly to select through the ORM).
    """
    per_page = clamp_per_page(params.get("per_page"))
    if params.get("pagination") == "keyset":
        return _keyset(
            queryset, url=url, params=params, per_page=per_page, key=keyset_field, rows=rows
        )
    page = max(_int(params.get("page"), 1), 1)
    offset = (page - 1) * per_page
    items = _slice(queryset, offset, offset + per_page + 1, rows)
    has_next = len(items) > per_page
    items = items[:per_page]
    if rows is not None:
        items = rows(items)
    params = {k: v for k, v in params.items() if k not in ("page", "per_page")}
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Next-Page": str(page + 1) if has_next else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
    }
    links = []
    if page > 1:
        links.append(f'<{_link(url, params, page=page - 1, per_page=per_page)}>; rel="prev"')
    if has_next:
        links.append(f'<{_link(url, params, page=page + 1, per_page=per_page)}>; rel="next"')
    links.append(f'<{_link(url, params, page=1, per_page=per_page)}>; rel="first"')
    # Counting is skipped when the page itself proves the total (a short first page).
    if page == 1 and not has_next:
        total: int | None = len(items)
    else:
        # The order cannot change a count: without it the database need not sort the rows.
        total = queryset.order_by()[: COUNT_LIMIT + 1].count()
        if total > COUNT_LIMIT:
            total = None
    if total is not None:
        total_pages = max((total + per_page - 1) // per_page, 1)
        headers["X-Total"] = str(total)
        headers["X-Total-Pages"] = str(total_pages)
        links.append(f'<{_link(url, params, page=total_pages, per_page=per_page)}>; rel="last"')
    headers["Link"] = ", ".join(links)
    return Page(items=items, headers=headers)


def _keyset(
    queryset: QuerySet[Any],
    *,
    url: str,
    params: dict[str, str],
    per_page: int,
    key: str,
    rows: RowLoader | None,
) -> Page:
    descending = params.get("sort", "asc") == "desc"
    queryset = queryset.order_by(f"-{key}" if descending else key)
    after = params.get("id_after")
    before = params.get("id_before")
    if after is not None and after.isdigit():
        queryset = queryset.filter(**{f"{key}__gt": int(after)})
    if before is not None and before.isdigit():
        queryset = queryset.filter(**{f"{key}__lt": int(before)})
    items = _slice(queryset, 0, per_page + 1, rows)
    has_next = len(items) > per_page
    items = items[:per_page]
    if rows is not None:
        items = rows(items)
    headers = {"X-Per-Page": str(per_page)}
    if has_next and items:
        last = getattr(items[-1], key)
        rest = {k: v for k, v in params.items() if k not in ("id_after", "id_before")}
        cursor = {"id_before": last} if descending else {"id_after": last}
        headers["Link"] = f'<{_link(url, rest, per_page=per_page, **cursor)}>; rel="next"'
    return Page(items=items, headers=headers)

"""GitLab's pagination on `/projects`: offset (headers and Link relations) and keyset, through
python-gitlab (which must page without a single warning) and raw HTTP for the exact headers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import gitlab
import pytest

from kiln.core.access import Visibility
from kiln.projects.models import Project
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b

TOTAL = 105


@pytest.fixture
def many(server_url: str) -> list[int]:
    """105 public projects (more than one page of 100), ids ascending.

    One is made through the service; the rest are inserted as rows, since paging needs many
    rows and not the repository each created project gets.
    """
    root = b.root_user()
    grp = b.group(root, "pages")
    made = b.project(root, "Page 000", namespace=grp, visibility=Visibility.PUBLIC)
    Project.objects.bulk_create(
        Project(
            name=f"Page {i:03d}",
            path=f"page-{i:03d}",
            namespace=grp,
            creator=root,
            visibility_level=Visibility.PUBLIC,
            repository_key=uuid.uuid4().hex,
            created_at=made.created_at + dt.timedelta(seconds=i),
        )
        for i in range(1, TOTAL)
    )
    return list(Project.objects.order_by("id").values_list("id", flat=True))


def _links(header: str) -> dict[str, dict[str, list[str]]]:
    """rel -> parsed query of each Link target (all must point at the same endpoint)."""
    result: dict[str, dict[str, list[str]]] = {}
    for part in header.split(", "):
        target, rel = part.split("; ")
        url = urlsplit(target.strip("<>"))
        assert url.path == "/api/v4/projects"
        result[rel.removeprefix('rel="').removesuffix('"')] = parse_qs(url.query)
    return result


def test_python_gitlab_iterates_and_gets_all_without_warnings(
    gl: gitlab.Gitlab, many: list[int]
) -> None:
    iterated = [p.id for p in gl.projects.list(iterator=True, order_by="id", sort="asc")]
    assert iterated == many
    everything = gl.projects.list(get_all=True, per_page=100)
    assert sorted(p.id for p in everything) == many
    listing = gl.projects.list(iterator=True)
    assert listing.total == TOTAL
    assert listing.total_pages == 6
    assert listing.per_page == 20
    # Anonymous callers page the same way through the public projects.
    anon = gitlab.Gitlab(gl.url, retry_transient_errors=False, timeout=30)
    assert len(anon.projects.list(get_all=True)) == TOTAL


def test_keyset_iteration(gl: gitlab.Gitlab, server_url: str, many: list[int]) -> None:
    ascending = gl.projects.list(
        pagination="keyset", order_by="id", sort="asc", per_page=40, iterator=True
    )
    assert [p.id for p in ascending] == many
    descending = gl.projects.list(
        pagination="keyset", order_by="id", sort="desc", per_page=40, get_all=True
    )
    assert [p.id for p in descending] == many[::-1]
    api = b.Api(server_url, ROOT_TOKEN)
    first = api.get(
        "/projects",
        params={"pagination": "keyset", "order_by": "id", "sort": "asc", "per_page": 50},
    )
    assert [p["id"] for p in first.json()] == many[:50]
    links = _links(first.headers["Link"])
    assert list(links) == ["next"]
    assert links["next"]["id_after"] == [str(many[49])]
    assert links["next"]["pagination"] == ["keyset"]
    last = api.get(
        "/projects",
        params={"pagination": "keyset", "order_by": "id", "per_page": 50, "id_after": many[99]},
    )
    assert "Link" not in last.headers


def test_offset_headers_are_exact(server_url: str, many: list[int]) -> None:
    api = b.Api(server_url, ROOT_TOKEN)
    response = api.get(
        "/projects",
        params={"order_by": "id", "sort": "asc", "visibility": "public", "page": 2, "per_page": 20},
    )
    assert [p["id"] for p in response.json()] == many[20:40]
    headers = response.headers
    assert headers["X-Page"] == "2"
    assert headers["X-Per-Page"] == "20"
    assert headers["X-Total"] == str(TOTAL)
    assert headers["X-Total-Pages"] == "6"
    assert headers["X-Next-Page"] == "3"
    assert headers["X-Prev-Page"] == "1"
    links = _links(headers["Link"])
    assert list(links) == ["prev", "next", "first", "last"]
    kept = {"order_by": ["id"], "sort": ["asc"], "visibility": ["public"], "per_page": ["20"]}
    for rel, page in [("prev", "1"), ("next", "3"), ("first", "1"), ("last", "6")]:
        assert links[rel] == {**kept, "page": [page]}, rel
    last = api.get("/projects", params={"page": 6, "per_page": 20}).headers
    assert (last["X-Next-Page"], last["X-Prev-Page"]) == ("", "5")
    assert list(_links(last["Link"])) == ["prev", "first", "last"]
    first = api.get("/projects").headers
    assert (first["X-Page"], first["X-Prev-Page"], first["X-Next-Page"]) == ("1", "", "2")
    assert list(_links(first["Link"])) == ["next", "first", "last"]


@pytest.mark.parametrize(
    ("params", "page", "per_page", "count"),
    [
        ({"per_page": 100000}, "1", "100", 100),
        ({"per_page": 0}, "1", "20", 20),
        ({"per_page": -5}, "1", "20", 20),
        ({"page": -1}, "1", "20", 20),
        ({"page": 0, "per_page": 10}, "1", "10", 10),
        ({"page": 999, "per_page": 50}, "999", "50", 0),
    ],
)
def test_out_of_range_paging(
    server_url: str, many: list[int], params: dict[str, Any], page: str, per_page: str, count: int
) -> None:
    response = b.Api(server_url, ROOT_TOKEN).get("/projects", params=params)
    assert response.status_code == 200
    assert response.headers["X-Page"] == page
    assert response.headers["X-Per-Page"] == per_page
    assert response.headers["X-Total"] == str(TOTAL)
    assert len(response.json()) == count


def test_head_carries_the_paging_headers(server_url: str, many: list[int]) -> None:
    response = b.Api(server_url).head("/projects", params={"per_page": 100})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["X-Total"] == str(TOTAL)
    assert response.headers["X-Total-Pages"] == "2"
    assert response.headers["X-Next-Page"] == "2"

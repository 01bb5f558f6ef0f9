"""Hostile input and access for issues and notes: XSS rendered inert, confidential issues
invisible to Guests and non-members everywhere, private issues unreachable by guessing, size
limits, quick actions the caller may not perform, and iid uniqueness under concurrency."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from typing import Any

import gitlab
import pytest
import requests

from kiln.core.access import Visibility
from kiln.issues.models import Issue
from kiln.labels.models import Label
from kiln.notes.models import Note, Todo
from tests.conftest import ROOT_TOKEN
from tests.issues import builders as ib
from tests.projects import builders as b

XSS = [
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<img src="x" onerror="alert(1)">',
    "<svg onload=alert(1)><circle/></svg>",
    '```mermaid\ngraph TD\nA-->B\nclick A "javascript:alert(1)"\n```',
    "[entity](&#106;avascript:alert(1))",
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))" onclick="alert(1)">x</div>',
]
_BAD_TAGS = {"script", "iframe", "svg", "object", "embed", "style", "form", "math", "base"}
_BAD_SCHEME = re.compile(r"^(?:javascript|vbscript|data):", re.I)


class _Checker(HTMLParser):
    """Parses HTML as a browser would and notes anything that could run script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BAD_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value:
                cleaned = re.sub(r"[\x00-\x20]", "", value)
                if _BAD_SCHEME.match(cleaned):
                    self.problems.append(f"{tag}[{name}={value}]")
            if name == "style" and value and "url(" in value.lower():
                self.problems.append(f"{tag}[style]")


def inert(html: str) -> bool:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return not checker.problems


@pytest.fixture
def root(server_url: str) -> Any:
    return b.root_user()


@pytest.fixture
def project(root: Any) -> Any:
    return ib.project(root, visibility=Visibility.PUBLIC)


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_issue_rendered_inert(
    gl: gitlab.Gitlab, project: Any, server_url: str, payload: str
) -> None:
    p = gl.projects.get(project.pk)
    issue = p.issues.create({"title": payload[:255], "description": payload})
    api = b.Api(server_url, ROOT_TOKEN)
    body = api.get(
        f"/projects/{project.pk}/issues/{issue.iid}", params={"render_html": "true"}
    ).json()
    assert inert(body["title_html"]), body["title_html"]
    assert inert(body["description_html"]), body["description_html"]
    # The Markdown source comes back as written (clients escape it), never rendered.
    assert body["description"] == payload
    note = issue.notes.create({"body": payload})
    html = gl.markdown(note.body, gfm=True, project=project.full_path)
    assert inert(html), html


def test_inert_checker_catches_live_markup() -> None:
    assert not inert('<a href=" javascript:x">a</a>')
    assert not inert('<img src="x" onerror="y">')
    assert not inert("<script>x</script>")
    assert inert("&lt;script&gt; javascript:alert(1)")


def test_xss_in_labels_and_milestones(gl: gitlab.Gitlab, project: Any, server_url: str) -> None:
    p = gl.projects.get(project.pk)
    label = p.labels.create(
        {"name": "<img src=x onerror=alert(1)>", "color": "#ff0000", "description": XSS[0]}
    )
    assert inert(label.description_html)
    p.milestones.create({"title": '"><script>alert(1)</script>', "description": XSS[3]})
    html = gl.markdown(
        '~"<img src=x onerror=alert(1)>" %"\\"><script>alert(1)</script>"',
        gfm=True,
        project=project.full_path,
    )
    assert inert(html), html
    bad = b.Api(server_url, ROOT_TOKEN).post(
        f"/projects/{project.pk}/labels", json={"name": "x", "color": "javascript:alert(1)"}
    )
    assert bad.status_code == 400
    assert bad.json() == {"message": {"color": ["must be a valid color code"]}}
    assert not Label.objects.filter(project=project, title="x").exists()


# -- confidential issues -----------------------------------------------------------------------


@pytest.fixture
def confidential_setup(root: Any, project: Any, make_user: Any) -> dict[str, Any]:
    guest, guest_gl = make_user("aguest")
    ib.add_project_member(project, guest, ib.GUEST, by=root)
    reporter, reporter_gl = make_user("areporter")
    ib.add_project_member(project, reporter, ib.REPORTER, by=root)
    _, outsider_gl = make_user("anoutsider")
    label = ib.label(project, root, "secretlabel")
    milestone = ib.milestone(project, root, "secretms")
    public = ib.issue(project, root, "public issue")
    secret = ib.issue(
        project,
        root,
        "TOPSECRET plans",
        description=f"ping @aguest @anoutsider see #{public.iid}",
        confidential=True,
        labels=["secretlabel"],
        milestone_id=milestone.pk,
    )
    ib.note(secret, root, "secret comment")
    return {
        "guest": guest_gl,
        "reporter": reporter_gl,
        "outsider": outsider_gl,
        "public": public,
        "secret": secret,
        "label": label,
        "milestone": milestone,
    }


def test_confidential_invisible_to_guests_and_non_members(
    server_url: str, project: Any, confidential_setup: dict[str, Any]
) -> None:
    s = confidential_setup
    secret, public = s["secret"], s["public"]
    anon = gitlab.Gitlab(server_url)
    for client in (s["guest"], s["outsider"], anon):
        token = client.private_token
        api = b.Api(server_url, token)
        p = client.projects.get(project.pk)
        titles = [i.title for i in p.issues.list(get_all=True)]
        assert titles == ["public issue"]
        assert [i.title for i in p.issues.list(get_all=True, search="TOPSECRET")] == []
        assert api.get(f"/projects/{project.pk}/issues/{secret.iid}").json() == {
            "message": "404 Not found"
        }
        stats = api.get(f"/projects/{project.pk}/issues_statistics").json()
        assert stats["statistics"]["counts"]["all"] == 1
        everywhere = api.get("/issues", params={"scope": "all", "search": "TOPSECRET"}).json()
        assert everywhere == []
        group_path = f"/groups/{project.namespace_id}/issues"
        if project.namespace.is_group:
            assert api.get(group_path).json() == []
        events = api.get(f"/projects/{project.pk}/events").json()
        assert all("TOPSECRET" not in (e.get("target_title") or "") for e in events)
        assert all((e.get("note") or {}).get("body") != "secret comment" for e in events)
        if token is None:
            continue
        # Notes, award emoji, events and resource events of the issue: 404.
        base = f"/projects/{project.pk}/issues/{secret.iid}"
        for path in (
            "/notes",
            "/discussions",
            "/award_emoji",
            "/resource_label_events",
            "/links",
            "/participants",
        ):
            response = api.get(base + path)
            assert response.status_code == 404, (path, response.text)
        assert api.post(base + "/notes", json={"body": "hi"}).status_code == 404
        # Markdown references stay text, with no hint of the title.
        html = client.markdown(f"see #{secret.iid}", gfm=True, project=project.full_path)
        assert "TOPSECRET" not in html
        assert "<a" not in html
        # Label and milestone counts leave it out.
        labels = api.get(f"/projects/{project.pk}/labels", params={"with_counts": True}).json()
        counted = next(lb for lb in labels if lb["name"] == "secretlabel")
        assert counted["open_issues_count"] == 0
        milestone_issues = api.get(
            f"/projects/{project.pk}/milestones/{s['milestone'].pk}/issues"
        ).json()
        assert milestone_issues == []
        # The "mentioned in" note it left on the public issue is hidden too.
        public_notes = api.get(f"/projects/{project.pk}/issues/{public.iid}/notes").json()
        assert [n["body"] for n in public_notes] == []
        # Mentioned, yet no todo: they may not read it.
        assert client.todos.list(get_all=True) == []
    # A Reporter sees everything.
    reporter = s["reporter"].projects.get(project.pk)
    assert sorted(i.title for i in reporter.issues.list(get_all=True)) == [
        "TOPSECRET plans",
        "public issue",
    ]
    notes = [n.body for n in reporter.issues.get(public.iid).notes.list(get_all=True)]
    assert notes == [f"mentioned in issue #{secret.iid}"]


def test_confidential_author_and_assignee_see_their_issue(
    server_url: str, project: Any, make_user: Any, root: Any
) -> None:
    _, author_gl = make_user("cauthor")
    assignee, assignee_gl = make_user("cassignee")
    ib.add_project_member(project, assignee, ib.GUEST, by=root)
    mine = author_gl.projects.get(project.pk).issues.create(
        {"title": "my secret", "confidential": True}
    )
    assert author_gl.projects.get(project.pk).issues.get(mine.iid).confidential is True
    assert assignee_gl.projects.get(project.pk).issues.list(get_all=True) == []
    from kiln.issues.services import update_issue

    issue = Issue.objects.get(pk=mine.id)
    update_issue(actor=b.actor(root), issue=issue, assignee_ids=[assignee.pk])
    assert [i.title for i in assignee_gl.projects.get(project.pk).issues.list(get_all=True)] == [
        "my secret"
    ]
    # Made confidential after a todo: the todo list hides it from who lost access.
    bystander, bystander_gl = make_user("cbystander")
    public = ib.issue(project, root, "soon secret", description="hey @cbystander")
    assert len(bystander_gl.todos.list(get_all=True)) == 1
    update_issue(actor=b.actor(root), issue=public, confidential=True)
    assert bystander_gl.todos.list(get_all=True) == []
    assert Todo.objects.filter(user=bystander).count() == 1


def test_private_project_issues_unreachable_by_guessing(
    root: Any, server_url: str, make_user: Any
) -> None:
    private = ib.project(root, visibility=Visibility.PRIVATE)
    issue = ib.issue(private, root, "private matter")
    _, client = make_user("guesser")
    api = b.Api(server_url, client.private_token)
    base = f"/projects/{private.pk}/issues"
    expected = {"message": "404 Project Not Found"}
    for path in (
        "",
        f"/{issue.iid}",
        f"/{issue.iid}/notes",
        f"/{issue.iid}/discussions",
        f"/{issue.iid}/award_emoji",
        f"/{issue.iid}/links",
        "_statistics",
        f"/{issue.iid}/resource_state_events",
        f"/{issue.iid}/time_stats",
    ):
        response = api.get(base + path)
        assert response.status_code == 404, path
        assert response.json() == expected, path
    assert api.put(f"{base}/{issue.iid}", json={"title": "x"}).json() == expected
    assert api.post(f"{base}/{issue.iid}/notes", json={"body": "x"}).json() == expected
    assert api.get("/issues", params={"scope": "all"}).json() == []
    assert api.get(f"/issues/{issue.pk}").status_code == 403
    anon = b.Api(server_url)
    assert anon.get(f"{base}/{issue.iid}").json() == expected
    assert Issue.objects.get(pk=issue.pk).title == "private matter"


# -- limits ------------------------------------------------------------------------------------


def test_huge_title_and_description_refused(project: Any, root: Any, server_url: str) -> None:
    api = b.Api(server_url, ROOT_TOKEN)
    before = Issue.objects.count()
    response = api.post(f"/projects/{project.pk}/issues", json={"title": "t" * 256})
    assert response.status_code == 400
    assert response.json() == {"message": {"title": ["is too long (maximum is 255 characters)"]}}
    response = api.post(
        f"/projects/{project.pk}/issues", json={"title": "ok", "description": "d" * 1_048_577}
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": {"description": ["is too long (maximum is 1048576 characters)"]}
    }
    response = api.post(f"/projects/{project.pk}/issues", json={"title": "   "})
    assert response.json() == {"message": {"title": ["can't be blank"]}}
    assert api.post(f"/projects/{project.pk}/issues", json={}).json() == {
        "error": "title is missing"
    }
    assert Issue.objects.count() == before
    issue = ib.issue(project, root, "fine")
    response = api.put(f"/projects/{project.pk}/issues/{issue.iid}", json={"title": "t" * 256})
    assert response.status_code == 400
    assert Issue.objects.get(pk=issue.pk).title == "fine"
    notes = Note.objects.count()
    response = api.post(
        f"/projects/{project.pk}/issues/{issue.iid}/notes", json={"body": "n" * 1_000_001}
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": '400 Bad request - Note {:note=>["is too long (maximum is 1000000 characters)"]}'
    }
    response = api.post(f"/projects/{project.pk}/issues/{issue.iid}/notes", json={"body": " "})
    assert response.json() == {"message": '400 Bad request - Note {:note=>["can\'t be blank"]}'}
    assert Note.objects.count() == notes


# -- quick actions -----------------------------------------------------------------------------


def test_quick_actions_the_caller_may_not_perform_are_ignored(
    project: Any, root: Any, make_user: Any, server_url: str
) -> None:
    ib.label(project, root, "bug")
    ib.milestone(project, root, "m1")
    issue = ib.issue(project, root, "target")
    _, client = make_user("qaoutsider")
    api = b.Api(server_url, client.private_token)
    notes = Note.objects.count()
    commands = "/close\n/label ~bug\n/assign @root\n/milestone %m1\n/confidential\n/title hacked"
    response = api.post(f"/projects/{project.pk}/issues/{issue.iid}/notes", json={"body": commands})
    assert response.status_code == 400
    assert "commands_only" in response.json()["message"]
    assert Note.objects.count() == notes
    note = (
        client.projects.get(project.pk)
        .issues.get(issue.iid)
        .notes.create({"body": f"just saying\n{commands}"})
    )
    assert note.body == "just saying"
    fresh = Issue.objects.get(pk=issue.pk)
    assert (fresh.state, fresh.title, fresh.confidential, fresh.milestone_id) == (
        "opened",
        "target",
        False,
        None,
    )
    assert list(fresh.labels.all()) == []
    assert list(fresh.assignees.all()) == []
    # The same commands from the owner apply, and a body of only commands answers 202.
    response = b.Api(server_url, ROOT_TOKEN).post(
        f"/projects/{project.pk}/issues/{issue.iid}/notes", json={"body": commands}
    )
    assert response.status_code == 202
    assert response.json()["commands_changes"]["state_event"] == "close"
    assert "Closed this issue." in response.json()["summary"]
    fresh = Issue.objects.get(pk=issue.pk)
    assert (fresh.state, fresh.title, fresh.confidential) == ("closed", "hacked", True)
    assert [lb.title for lb in fresh.labels.all()] == ["bug"]


# -- concurrency -------------------------------------------------------------------------------


def test_iids_unique_under_concurrent_creation(project: Any, server_url: str) -> None:
    def create(n: int) -> int:
        response = requests.post(
            f"{server_url}/api/v4/projects/{project.pk}/issues",
            headers={"PRIVATE-TOKEN": ROOT_TOKEN},
            json={"title": f"concurrent {n}"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        return int(response.json()["iid"])

    with ThreadPoolExecutor(max_workers=10) as pool:
        iids = list(pool.map(create, range(10)))
    assert sorted(iids) == list(range(1, 11))
    stored = sorted(Issue.objects.filter(project=project).values_list("iid", flat=True))
    assert stored == list(range(1, 11))

"""The sidebar of issues and merge requests: editing in place (assignees, reviewers, labels,
milestone, due date, confidentiality, lock, notifications) through the same services as the
API, so the same system notes; the dropdowns offer only what the rules allow; whoever may not
set the metadata sees the values without Edit controls, and a forged post answers 404 and
changes nothing; hostile values change nothing."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
from django.test import Client

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.issues.models import Issue
from kiln.labels.models import ResourceLabelEvent
from kiln.merge_requests.models import MergeRequest
from kiln.notes.models import Note
from kiln.notes.subscriptions import is_subscribed
from tests.web.test_issues import client_for, root
from tests.web.test_merge_requests import make_project, push_change

HTMX = {"HTTP_HX_REQUEST": "true"}


def system_notes(kind: str, pk: int) -> list[str]:
    rows = Note.objects.filter(noteable_type=kind, noteable_id=pk, system=True).order_by("id")
    return list(rows.values_list("body", flat=True))


def label_events(kind: str, pk: int) -> list[tuple[str, int]]:
    rows = ResourceLabelEvent.objects.filter(issuable_type=kind, issuable_id=pk).order_by("id")
    return list(rows.values_list("action", "label_id"))


def issue_row(project: Any, iid: int) -> Issue:
    return Issue.objects.get(project_id=project.id, iid=iid)


def mr_row(project: Any, iid: int) -> MergeRequest:
    return MergeRequest.objects.get(project_id=project.id, iid=iid)


@pytest.fixture
def planning(gl: gitlab.Gitlab, make_user: Any) -> dict[str, Any]:
    """A private project in a group, with labels and milestones at both levels (one closed),
    another project's label and milestone, and a Developer, a Guest and an outsider."""
    group = gl.groups.create({"name": "Crew", "path": "crew", "visibility": "private"})
    project = gl.projects.create(
        {"name": "Deck", "namespace_id": group.id, "visibility": "private"}
    )
    other = gl.projects.create({"name": "Elsewhere", "visibility": "private"})
    bug = project.labels.create({"name": "bug", "color": "#d9534f"})
    infra = group.labels.create({"name": "infra", "color": "#428bca"})
    foreign_label = other.labels.create({"name": "foreign", "color": "#000000"})
    v1 = project.milestones.create({"title": "v1"})
    q3 = group.milestones.create({"title": "Q3"})
    old = project.milestones.create({"title": "old"})
    old.state_event = "close"
    old.save()
    foreign_milestone = other.milestones.create({"title": "theirs"})
    developer, _ = make_user("dev", name="Dee Veloper")
    guest, guest_gl = make_user("guest", name="Gus Guest")
    outsider, _ = make_user("outsider", name="Otto Outsider")
    blocked, _ = make_user("sleepy", name="Sleepy Member")
    project.members.create({"user_id": developer.pk, "access_level": 30})
    project.members.create({"user_id": guest.pk, "access_level": 10})
    project.members.create({"user_id": blocked.pk, "access_level": 30})
    User.objects.filter(pk=blocked.pk).update(state="blocked")
    return {
        "group": group,
        "project": project,
        "bug": bug,
        "infra": infra,
        "foreign_label": foreign_label,
        "v1": v1,
        "q3": q3,
        "old": old,
        "foreign_milestone": foreign_milestone,
        "developer": developer,
        "guest": guest,
        "guest_gl": guest_gl,
        "outsider": outsider,
    }


def test_issue_sidebar_edits_make_the_apis_system_notes(planning: dict[str, Any]) -> None:
    project, dev = planning["project"], planning["developer"]
    bug, infra, q3 = planning["bug"], planning["infra"], planning["q3"]
    by_web = project.issues.create({"title": "Edited in the sidebar"})
    by_api = project.issues.create({"title": "Edited through the API"})
    url = f"/{project.path_with_namespace}/-/issues/{by_web.iid}"
    owner = client_for(root())

    def post(block: str, data: dict[str, Any], **headers: Any) -> Any:
        return owner.post(f"{url}/sidebar/{block}", data, **headers)

    # Without JavaScript: the post redirects back to the block.
    response = post("assignees", {"issue[assignee_ids][]": [dev.pk]})
    assert response.status_code == 302
    assert response["Location"] == f"{url}#sidebar-assignees"
    # With htmx: the block answers itself, re-rendered.
    response = post("labels", {"issue[label_ids][]": [bug.id, infra.id]}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="sidebar-block" id="sidebar-labels"')
    assert "<html" not in html
    assert 'class="gl-label-text">bug<' in html
    assert 'class="gl-label-text">infra<' in html
    # Unticking one removes only it; what was ticked before is posted alongside.
    post(
        "labels",
        {"issue[label_ids][]": [infra.id], "issue[previous_label_ids][]": [bug.id, infra.id]},
        **HTMX,
    )
    milestone_html = post("milestone", {"issue[milestone_id]": q3.id}, **HTMX).content.decode()
    assert ">Q3</a>" in milestone_html
    assert f'href="/groups/crew/-/milestones/{q3.iid}"' in milestone_html
    due_html = post("due_date", {"issue[due_date]": "2031-05-06"}, **HTMX).content.decode()
    assert "May 6, 2031" in due_html
    confidential = post("confidential", {"issue[confidential]": "true"}, **HTMX).content.decode()
    assert "badge-warn" in confidential
    assert "Turn off" in confidential
    post("lock", {"issue[discussion_locked]": "true"})
    post("milestone", {"issue[milestone_id]": "0"})
    post("due_date", {"issue[due_date]": ""})

    # The same changes through the API, one by one.
    for changes in (
        {"assignee_ids": [dev.pk]},
        {"add_labels": "bug,infra"},
        {"remove_labels": "bug"},
        {"milestone_id": q3.id},
        {"due_date": "2031-05-06"},
        {"confidential": True},
        {"discussion_locked": True},
        {"milestone_id": 0},
        {"due_date": ""},
    ):
        for key, value in changes.items():
            setattr(by_api, key, value)
        by_api.save()

    web_notes = system_notes("Issue", by_web.id)
    assert web_notes == system_notes("Issue", by_api.id)
    assert len(web_notes) == 9
    assert web_notes[0] == "assigned to @dev"
    assert "made the issue confidential" in web_notes
    assert "locked the discussion in this issue" in web_notes
    issue = project.issues.get(by_web.iid)
    assert [a["username"] for a in issue.assignees] == ["dev"]
    assert issue.labels == ["infra"]
    assert issue.milestone is None
    assert issue.due_date is None
    assert issue.confidential is True
    assert issue.discussion_locked is True
    page = owner.get(url).content.decode()
    assert "Dee Veloper" in page
    assert "Locked" in page


def test_labels_set_by_someone_else_meanwhile_stay(planning: dict[str, Any]) -> None:
    project, bug, infra = planning["project"], planning["bug"], planning["infra"]
    issue = project.issues.create({"title": "Race", "labels": "infra"})
    url = f"/{project.path_with_namespace}/-/issues/{issue.iid}"
    # The dropdown was drawn with only `infra`; meanwhile the API added `bug`.
    issue.labels = ["infra", "bug"]
    issue.save()
    client_for(root()).post(
        f"{url}/sidebar/labels",
        {"issue[label_ids][]": [], "issue[previous_label_ids][]": [infra.id]},
    )
    assert project.issues.get(issue.iid).labels == ["bug"]
    assert bug.id != infra.id


def test_dropdowns_offer_what_the_rules_allow(planning: dict[str, Any]) -> None:
    project = planning["project"]
    project.issues.create({"title": "Choices"})
    page = client_for(root()).get(f"/{project.path_with_namespace}/-/issues/1").content.decode()
    assignees = page[page.index('id="sidebar-assignees"') : page.index('id="sidebar-labels"')]
    assert "@dev" in assignees
    assert "@guest" in assignees
    assert "@root" in assignees
    assert "@outsider" not in assignees  # not a member
    assert "@sleepy" not in assignees  # blocked
    labels = page[page.index('id="sidebar-labels"') : page.index('id="sidebar-milestone"')]
    assert "bug" in labels
    assert "infra" in labels
    assert "foreign" not in labels
    milestones = page[page.index('id="sidebar-milestone"') : page.index('id="sidebar-due_date"')]
    assert ">v1<" in milestones
    assert "Q3 (group)" in milestones
    assert "old" not in milestones
    assert "theirs" not in milestones
    assert 'type="date"' in page
    assert "No estimate or time spent" in page
    Issue.objects.filter(project_id=project.id, iid=1).update(
        time_estimate=10 * 3600, total_time_spent=5400
    )
    page = client_for(root()).get(f"/{project.path_with_namespace}/-/issues/1").content.decode()
    assert "Estimate: 1d 2h" in page
    assert "Spent: 1h 30m" in page


def test_who_may_not_set_metadata_sees_values_and_no_edit_controls(
    planning: dict[str, Any],
) -> None:
    project, guest, dev = planning["project"], planning["guest"], planning["developer"]
    bug, v1 = planning["bug"], planning["v1"]
    theirs = project.issues.create(
        {"title": "Owner's", "labels": "bug", "milestone_id": v1.id, "assignee_ids": [dev.pk]}
    )
    own = planning["guest_gl"].projects.get(project.id).issues.create({"title": "Guest's"})
    base = f"/{project.path_with_namespace}/-/issues"
    before = {i: system_notes("Issue", i) for i in (theirs.id, own.id)}
    guest_client = client_for(guest)
    page = guest_client.get(f"{base}/{theirs.iid}").content.decode()
    assert "Dee Veloper" in page
    assert 'class="gl-label-text">bug<' in page
    assert "v1" in page
    assert "sidebar-edit" not in page
    assert "/sidebar/assignees" not in page
    assert "Turn on notifications" in page or "Turn off notifications" in page
    forged = [
        ("assignees", {"issue[assignee_ids][]": [guest.pk]}),
        ("labels", {"issue[label_ids][]": [], "issue[previous_label_ids][]": [bug.id]}),
        ("milestone", {"issue[milestone_id]": "0"}),
        ("due_date", {"issue[due_date]": "2031-01-01"}),
        ("confidential", {"issue[confidential]": "true"}),
        ("lock", {"issue[discussion_locked]": "true"}),
    ]
    anonymous = Client()
    for iid in (theirs.iid, own.iid):  # a Guest's own issue: title yes, metadata no
        for block, data in forged:
            for client in (guest_client, anonymous):
                response = client.post(f"{base}/{iid}/sidebar/{block}", data, **HTMX)
                assert response.status_code == 404, (iid, block)
    for block in ("time_tracking", "participants", "nonsense"):
        assert client_for(root()).post(f"{base}/{theirs.iid}/sidebar/{block}").status_code == 404
    assert (
        anonymous.post(
            f"{base}/{theirs.iid}/sidebar/subscription", {"subscription_event": "subscribe"}
        ).status_code
        == 404
    )
    assert {i: system_notes("Issue", i) for i in (theirs.id, own.id)} == before
    row = issue_row(project, theirs.iid)
    assert [u.username for u in row.assignees.all()] == ["dev"]
    assert [lb.title for lb in row.labels.all()] == ["bug"]
    assert row.milestone_id == v1.id
    assert row.due_date is None
    assert not row.confidential
    assert not row.discussion_locked
    # Outsiders of the private project: 404 for the page and every post.
    outsider = client_for(planning["outsider"])
    assert outsider.get(f"{base}/{theirs.iid}").status_code == 404
    response = outsider.post(
        f"{base}/{theirs.iid}/sidebar/subscription", {"subscription_event": "subscribe"}
    )
    assert response.status_code == 404


def test_anonymous_visitors_of_a_public_project_see_values_only(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "Open deck", "visibility": "public"})
    project.labels.create({"name": "bug", "color": "#d9534f"})
    project.issues.create({"title": "Public", "labels": "bug", "due_date": "2031-05-06"})
    page = Client().get(f"/{project.path_with_namespace}/-/issues/1").content.decode()
    assert 'class="gl-label-text">bug<' in page
    assert "May 6, 2031" in page
    assert "sidebar-edit" not in page
    assert "/sidebar/" not in page
    assert "notifications" not in page.lower()


def test_notifications_toggle_for_any_signed_in_reader(planning: dict[str, Any]) -> None:
    project, guest = planning["project"], planning["guest"]
    issue = project.issues.create({"title": "Watch me"})
    url = f"/{project.path_with_namespace}/-/issues/{issue.iid}"
    guest_client = client_for(guest)
    row = issue_row(project, issue.iid)
    assert not is_subscribed(Actor.for_user(guest), row)
    html = guest_client.post(
        f"{url}/sidebar/subscription", {"subscription_event": "subscribe"}, **HTMX
    ).content.decode()
    assert "Turn off notifications" in html
    assert is_subscribed(Actor.for_user(guest), row)
    response = guest_client.post(f"{url}/sidebar/subscription", {"subscription_event": "x"})
    assert response.status_code == 404
    guest_client.post(f"{url}/sidebar/subscription", {"subscription_event": "unsubscribe"})
    assert not is_subscribed(Actor.for_user(guest), row)
    assert system_notes("Issue", issue.id) == []


def test_hostile_values_change_nothing(planning: dict[str, Any]) -> None:
    project = planning["project"]
    issue = project.issues.create({"title": "Target"})
    url = f"/{project.path_with_namespace}/-/issues/{issue.iid}"
    owner = client_for(root())
    for block, data in [
        ("assignees", {"issue[assignee_ids][]": [planning["outsider"].pk, "-1", "x", "9" * 30]}),
        ("labels", {"issue[label_ids][]": [planning["foreign_label"].id, "9" * 30, "<b>"]}),
        ("milestone", {"issue[milestone_id]": planning["foreign_milestone"].id}),
        ("milestone", {"issue[milestone_id]": "--output=x"}),
        ("milestone", {"issue[milestone_id]": "9" * 30}),
    ]:
        response = owner.post(f"{url}/sidebar/{block}", data, **HTMX)
        assert response.status_code == 200, block
        assert "Traceback" not in response.content.decode()
    response = owner.post(f"{url}/sidebar/due_date", {"issue[due_date]": "--output=x"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<p role="alert">Due date is not a valid date</p>' in html
    response = owner.post(f"{url}/sidebar/due_date", {"issue[due_date]": "<script>"})
    assert response.status_code == 302
    assert "Due date is not a valid date" in owner.get(url).content.decode()
    row = issue_row(project, issue.iid)
    assert list(row.assignees.all()) == []
    assert list(row.labels.all()) == []
    assert row.milestone_id is None
    assert row.due_date is None
    assert system_notes("Issue", issue.id) == []


@pytest.fixture
def reviewing(planning: dict[str, Any], gl: gitlab.Gitlab, make_user: Any) -> dict[str, Any]:
    """Two merge requests in a project with a Developer, a Reporter and a Guest."""
    project = make_project(gl, "Review deck", visibility="private")
    push_change(project, "one")
    push_change(project, "two")
    for user, level in (
        (planning["developer"], 30),
        (planning["guest"], 10),
    ):
        project.members.create({"user_id": user.pk, "access_level": level})
    reporter, _ = make_user("reporter", name="Rita Reporter")
    project.members.create({"user_id": reporter.pk, "access_level": 20})
    label = project.labels.create({"name": "needs-review", "color": "#5cb85c"})
    milestone = project.milestones.create({"title": "v2"})
    first = project.mergerequests.create(
        {"source_branch": "one", "target_branch": "main", "title": "First"}
    )
    second = project.mergerequests.create(
        {"source_branch": "two", "target_branch": "main", "title": "Second"}
    )
    return {
        "project": project,
        "first": first,
        "second": second,
        "label": label,
        "milestone": milestone,
        "reporter": reporter,
        **{k: planning[k] for k in ("developer", "guest", "outsider")},
    }


def test_merge_request_sidebar_edits_make_the_apis_system_notes(
    reviewing: dict[str, Any],
) -> None:
    project, dev, reporter = reviewing["project"], reviewing["developer"], reviewing["reporter"]
    by_web, by_api = reviewing["first"], reviewing["second"]
    label, milestone = reviewing["label"], reviewing["milestone"]
    url = f"/{project.path_with_namespace}/-/merge_requests/{by_web.iid}"
    owner = client_for(root())
    page = owner.get(url).content.decode()
    reviewers = page[page.index('id="sidebar-reviewers"') : page.index('id="sidebar-labels"')]
    # A Guest of a private project may not read its code, so may not review or be assigned.
    assert "@dev" in reviewers
    assert "@reporter" in reviewers
    assert "@guest" not in reviewers
    assert "@outsider" not in reviewers
    assert 'id="sidebar-due_date"' not in page
    assert 'id="sidebar-confidential"' not in page

    html = owner.post(
        f"{url}/sidebar/reviewers", {"merge_request[reviewer_ids][]": [dev.pk]}, **HTMX
    ).content.decode()
    assert html.lstrip().startswith('<section class="sidebar-block" id="sidebar-reviewers"')
    # Reviewers are participants: that block comes along, swapped out of band.
    participants = html[html.index('id="sidebar-participants"') :]
    assert 'hx-swap-oob="true"' in participants
    assert "@dev" in participants
    assert "Dee Veloper" in html
    owner.post(f"{url}/sidebar/assignees", {"merge_request[assignee_ids][]": [reporter.pk]})
    owner.post(f"{url}/sidebar/labels", {"merge_request[label_ids][]": [label.id]}, **HTMX)
    owner.post(f"{url}/sidebar/milestone", {"merge_request[milestone_id]": milestone.id})
    owner.post(f"{url}/sidebar/lock", {"merge_request[discussion_locked]": "true"})
    response = owner.post(
        f"{url}/sidebar/reviewers", {"merge_request[reviewer_ids][]": [dev.pk, "x"]}, **HTMX
    )
    assert response.status_code == 200
    for changes in (
        {"reviewer_ids": [dev.pk]},
        {"assignee_ids": [reporter.pk]},
        {"add_labels": "needs-review"},
        {"milestone_id": milestone.id},
        {"discussion_locked": True},
    ):
        for key, value in changes.items():
            setattr(by_api, key, value)
        by_api.save()
    web_notes = system_notes("MergeRequest", by_web.id)
    assert web_notes == system_notes("MergeRequest", by_api.id)
    assert len(web_notes) == 4  # posting the same reviewers again changed nothing
    # A merge request's label changes are resource label events (no note), alike too.
    assert label_events("MergeRequest", by_web.id) == [("add", label.id)]
    assert label_events("MergeRequest", by_api.id) == [("add", label.id)]
    assert "requested review from @dev" in web_notes
    mr = project.mergerequests.get(by_web.iid)
    assert [r["username"] for r in mr.reviewers] == ["dev"]
    assert [a["username"] for a in mr.assignees] == ["reporter"]
    assert mr.labels == ["needs-review"]
    assert mr.milestone["title"] == "v2"
    assert mr.discussion_locked is True


def test_merge_request_sidebar_permissions(reviewing: dict[str, Any]) -> None:
    project, reporter, dev = reviewing["project"], reviewing["reporter"], reviewing["developer"]
    mr = reviewing["first"]
    url = f"/{project.path_with_namespace}/-/merge_requests/{mr.iid}"
    before = system_notes("MergeRequest", mr.id)
    # A Reporter manages metadata but may not update someone else's merge request, so the
    # service would refuse: no Edit controls, and a forged post is 404.
    reporter_client = client_for(reporter)
    page = reporter_client.get(url).content.decode()
    assert 'id="sidebar-reviewers"' in page
    assert "sidebar-edit" not in page
    for client in (reporter_client, Client()):
        for block, data in [
            ("reviewers", {"merge_request[reviewer_ids][]": [reporter.pk]}),
            ("assignees", {"merge_request[assignee_ids][]": [reporter.pk]}),
            ("lock", {"merge_request[discussion_locked]": "true"}),
            ("due_date", {"merge_request[due_date]": "2031-01-01"}),
        ]:
            assert client.post(f"{url}/sidebar/{block}", data).status_code == 404, block
    assert client_for(reviewing["outsider"]).get(url).status_code == 404
    assert system_notes("MergeRequest", mr.id) == before
    assert list(mr_row(project, mr.iid).reviewer_rows.all()) == []
    # A Developer edits; the due date is no merge request block even for them.
    dev_client = client_for(dev)
    assert "sidebar-edit" in dev_client.get(url).content.decode()
    assert dev_client.post(f"{url}/sidebar/due_date", {"x": "1"}).status_code == 404
    response = dev_client.post(
        f"{url}/sidebar/reviewers", {"merge_request[reviewer_ids][]": dev.pk}
    )
    assert response.status_code == 302
    assert [r.user_id for r in mr_row(project, mr.iid).reviewer_rows.all()] == [dev.pk]
    subscribed = reporter_client.post(
        f"{url}/sidebar/subscription", {"subscription_event": "subscribe"}, **HTMX
    )
    assert "Turn off notifications" in subscribed.content.decode()

"""Issue services below the API: iid allocation, references, cross references."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.issues.iids import allocate_iid
from kiln.issues.references import Resolver
from kiln.markdown import Reference, ReferenceType
from kiln.notes.models import Note
from tests.issues import builders as ib
from tests.projects import builders as b


@pytest.fixture
def owner(db: None) -> Any:
    return b.user("svcowner")


def test_allocate_iid_needs_a_transaction(transactional_db: None) -> None:
    owner = b.user("iidowner")
    project = ib.project(owner)
    with pytest.raises(RuntimeError):
        allocate_iid(project, "issues")
    with transaction.atomic():
        assert allocate_iid(project, "issues") == 1
        assert allocate_iid(project, "issues") == 2
        assert allocate_iid(project, "issues", at_least=10) == 10
        assert allocate_iid(project, "issues") == 11
    # Another usage counts on its own.
    with transaction.atomic():
        assert allocate_iid(project, "merge_requests") == 1


def test_resolver_answers_only_what_the_viewer_may_see(owner: Any) -> None:
    public = ib.project(owner, visibility=Visibility.PUBLIC)
    private = ib.project(owner, visibility=Visibility.PRIVATE)
    open_issue = ib.issue(public, owner, "open")
    secret = ib.issue(public, owner, "secret", confidential=True)
    hidden = ib.issue(private, owner, "hidden")
    refs = [
        Reference(
            type=ReferenceType.ISSUE, identifier=str(open_issue.iid), project=public.full_path
        ),
        Reference(type=ReferenceType.ISSUE, identifier=str(secret.iid), project=public.full_path),
        Reference(type=ReferenceType.ISSUE, identifier=str(hidden.iid), project=private.full_path),
        Reference(type=ReferenceType.USER, identifier="svcowner"),
    ]
    stranger = Actor.for_user(b.user("svcstranger"))
    seen = Resolver(stranger, base_url="https://kiln.example").resolve(refs)
    assert {r.identifier for r in seen if r.type is ReferenceType.ISSUE} == {str(open_issue.iid)}
    assert seen[refs[0]].url == f"https://kiln.example/{public.full_path}/-/issues/{open_issue.iid}"
    assert seen[refs[3]].title == "Svcowner"
    everything = Resolver(Actor.for_user(owner)).resolve(refs)
    assert len(everything) == 4


def test_cross_references_once_per_source(owner: Any) -> None:
    project = ib.project(owner)
    target = ib.issue(project, owner, "target")
    source = ib.issue(project, owner, "source", description=f"see #{target.iid}")
    from kiln.issues.services import update_issue

    update_issue(actor=b.actor(owner), issue=source, description=f"still see #{target.iid}")
    notes = Note.objects.filter(noteable_type="Issue", noteable_id=target.pk, system=True)
    assert [n.body for n in notes] == [f"mentioned in issue #{source.iid}"]
    assert notes[0].metadata == {"type": "Issue", "id": source.pk}


def test_cached_html_follows_the_renderer_version(owner: Any) -> None:
    from kiln import markdown
    from kiln.issues.models import Issue
    from kiln.issues.services import cached_description_html

    project = ib.project(owner)
    issue = ib.issue(project, owner, "cached", description="**bold**")
    assert issue.cached_markdown_version == markdown.RENDERER_VERSION
    Issue.objects.filter(pk=issue.pk).update(description_html="stale", cached_markdown_version=0)
    stale = Issue.objects.get(pk=issue.pk)
    assert cached_description_html(stale) == "<p><strong>bold</strong></p>"
    assert Issue.objects.get(pk=issue.pk).cached_markdown_version == markdown.RENDERER_VERSION

"""GitLab references: parsing, batched resolution, rendering, and where they must not apply."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pytest

from kiln.markdown import (
    Reference,
    ReferenceResolver,
    ReferenceType,
    RenderContext,
    ResolvedReference,
    render,
    render_title,
)
from kiln.markdown.references import absolute_project, scan

CONTEXT = RenderContext(project="grp/proj")


class InMemoryResolver:
    """A resolver over a fixed set of visible targets; records each call it receives."""

    def __init__(self, visible: Mapping[Reference, ResolvedReference]) -> None:
        self.visible = dict(visible)
        self.calls: list[tuple[Reference, ...]] = []

    def resolve(self, references: Collection[Reference]) -> Mapping[Reference, ResolvedReference]:
        self.calls.append(tuple(references))
        return {ref: self.visible[ref] for ref in references if ref in self.visible}


def ref(
    kind: ReferenceType, identifier: str, project: str | None = "grp/proj", **kw: bool
) -> Reference:
    return Reference(type=kind, identifier=identifier, project=project, **kw)


ISSUE_1 = ref(ReferenceType.ISSUE, "1")
VISIBLE = {
    ISSUE_1: ResolvedReference(url="/grp/proj/-/issues/1", title="Crash on start", state="opened"),
    ref(ReferenceType.ISSUE, "2"): ResolvedReference(
        url="/grp/proj/-/issues/2", title="Old bug", state="closed"
    ),
    ref(ReferenceType.MERGE_REQUEST, "3", "other/proj"): ResolvedReference(
        url="/other/proj/-/merge_requests/3", title="Fix", state="merged"
    ),
    ref(ReferenceType.USER, "alice", None): ResolvedReference(url="/alice", title="Alice A."),
    ref(ReferenceType.LABEL, "needs review"): ResolvedReference(
        url="/grp/proj/-/issues?label_name=needs+review", color="#428bca"
    ),
    ref(ReferenceType.COMMIT, "deadbeef1"): ResolvedReference(
        url="/grp/proj/-/commit/deadbeef1", text="deadbeef"
    ),
}


def resolver() -> InMemoryResolver:
    return InMemoryResolver(VISIBLE)


def test_in_memory_resolver_is_a_reference_resolver() -> None:
    typed: ReferenceResolver = resolver()  # checked by mypy when tests are type-checked
    assert typed.resolve([]) == {}


@pytest.mark.parametrize(
    ("text", "kind", "identifier", "project", "by_id"),
    [
        ("@alice", ReferenceType.USER, "alice", None, False),
        ("@group/subgroup", ReferenceType.USER, "group/subgroup", None, False),
        ("#123", ReferenceType.ISSUE, "123", "grp/proj", False),
        ("other/proj#123", ReferenceType.ISSUE, "123", "other/proj", False),
        ("sibling#7", ReferenceType.ISSUE, "7", "grp/sibling", False),
        ("!45", ReferenceType.MERGE_REQUEST, "45", "grp/proj", False),
        ("sibling!45", ReferenceType.MERGE_REQUEST, "45", "grp/sibling", False),
        ("~bug", ReferenceType.LABEL, "bug", "grp/proj", False),
        ('~"multi word label"', ReferenceType.LABEL, "multi word label", "grp/proj", False),
        ('~"priority::high"', ReferenceType.LABEL, "priority::high", "grp/proj", False),
        ("~123", ReferenceType.LABEL, "123", "grp/proj", True),
        ("%v1.0", ReferenceType.MILESTONE, "v1.0", "grp/proj", False),
        ("%1.1", ReferenceType.MILESTONE, "1.1", "grp/proj", False),
        ('%"Release candidate"', ReferenceType.MILESTONE, "Release candidate", "grp/proj", False),
        ("%12", ReferenceType.MILESTONE, "12", "grp/proj", True),
        ("deadbee", ReferenceType.COMMIT, "deadbee", "grp/proj", False),
        (
            "0123456789abcdef0123456789abcdef01234567",
            ReferenceType.COMMIT,
            "0123456789abcdef0123456789abcdef01234567",
            "grp/proj",
            False,
        ),
        ("other/proj@abcdef12", ReferenceType.COMMIT, "abcdef12", "other/proj", False),
        ("abc1234...def5678", ReferenceType.COMMIT_RANGE, "abc1234...def5678", "grp/proj", False),
        ("abc1234..def5678", ReferenceType.COMMIT_RANGE, "abc1234..def5678", "grp/proj", False),
        (
            "other/proj@abc1234...def5678",
            ReferenceType.COMMIT_RANGE,
            "abc1234...def5678",
            "other/proj",
            False,
        ),
    ],
)
def test_scan_recognizes(
    text: str, kind: ReferenceType, identifier: str, project: str | None, by_id: bool
) -> None:
    matches = scan(f"see {text}, ok", context_project="grp/proj")
    assert len(matches) == 1
    found = matches[0].reference
    assert (found.type, found.identifier, found.project, found.by_id) == (
        kind,
        identifier,
        project,
        by_id,
    )
    assert found.raw == text


@pytest.mark.parametrize(
    "text",
    [
        "foo@example.com",  # an address, not a mention
        "abcdef",  # six hex digits are too short for a commit
        "deadbeefcafe1234x",  # hex glued to a word
        "#12a",  # not a number
        "~~",  # strikethrough markers
        "50% done",
        "room #",
        "C++",
        "@",
    ],
)
def test_scan_ignores(text: str) -> None:
    assert scan(text, context_project="grp/proj") == []


def test_trailing_punctuation_is_not_part_of_names() -> None:
    found = [m.reference.identifier for m in scan("Ask @alice. Tag ~bug. Ship %v1.0.")]
    assert found == ["alice", "bug", "v1.0"]


def test_absolute_project() -> None:
    assert absolute_project(None, "a/b") == "a/b"
    assert absolute_project("c", "a/b") == "a/c"
    assert absolute_project("x/c", "a/b") == "x/c"
    assert absolute_project("c", None) == "c"


def test_references_resolve_in_one_batch() -> None:
    res = resolver()
    render(
        '#1 #2 #1 @alice ~"needs review" #404 other/proj!3 deadbeef1', resolver=res, context=CONTEXT
    )
    assert len(res.calls) == 1
    assert len(res.calls[0]) == 7  # the repeated #1 is asked once


def test_no_resolver_call_without_references() -> None:
    res = resolver()
    render("plain text, `#1` in code", resolver=res, context=CONTEXT)
    assert res.calls == []


def test_resolved_issue_renders_as_gitlab_link() -> None:
    html = render("Fixes #1.", resolver=resolver(), context=CONTEXT)
    assert (
        '<a href="/grp/proj/-/issues/1" title="Crash on start" class="gfm gfm-issue" '
        'data-reference-type="issue" data-original="#1" data-state="opened">#1</a>.'
    ) in html


def test_closed_and_merged_state_is_shown() -> None:
    html = render("#2 and other/proj!3", resolver=resolver(), context=CONTEXT)
    assert ">#2 (closed)</a>" in html
    assert ">other/proj!3 (merged)</a>" in html
    assert 'class="gfm gfm-merge_request"' in html


def test_user_label_and_commit_rendering() -> None:
    html = render('@alice ~"needs review" deadbeef1', resolver=resolver(), context=CONTEXT)
    assert 'class="gfm gfm-project_member"' in html
    assert (
        '<span class="gl-label-text" style="background-color: #428bca">needs review</span>' in html
    )
    assert '">deadbeef</a>' in html  # the resolver's display text


def test_unresolved_reference_stays_plain_text_without_hints() -> None:
    html = render("See #404 and @nobody", resolver=resolver(), context=CONTEXT)
    assert html == "<p>See #404 and @nobody</p>"


def test_no_resolver_means_no_links() -> None:
    assert render("#1 @alice", context=CONTEXT) == "<p>#1 @alice</p>"


@pytest.mark.parametrize(
    "markdown",
    [
        "`#1`",
        "    #1",
        "```\n#1\n```",
        "[see #1](/x)",
        '<a href="/x">#1</a>',
        "<code>#1</code>",
        "<kbd>#1</kbd>",
        "https://example.com/issues#1",
        "<https://example.com/#1>",
        "\\#1",
        "![#1](/img.png)",
    ],
)
def test_no_references_in_code_links_or_escapes(markdown: str) -> None:
    res = resolver()
    html = render(markdown, resolver=res, context=CONTEXT)
    assert "gfm-issue" not in html
    assert all(ISSUE_1 not in call for call in res.calls)


def test_reference_inside_emphasis_and_heading() -> None:
    html = render("# About #1\n\n**#1**", resolver=resolver(), context=CONTEXT)
    assert html.count('class="gfm gfm-issue"') == 2
    # The heading's id comes from the text as written, not from what this viewer sees.
    assert 'id="user-content-about-1"' in html


def test_resolver_output_is_sanitized() -> None:
    hostile = InMemoryResolver(
        {
            ISSUE_1: ResolvedReference(
                url="javascript:alert(1)",
                title='"><script>alert(1)</script>',
                text="<b>x</b>",
                css_classes=("gfm", 'bad class"onclick=x'),
                data={"onclick": "x", "data-ok": "1", "Bad Key": "2"},
            )
        }
    )
    html = render("#1", resolver=hostile, context=CONTEXT)
    assert "javascript:" not in html
    assert "<script" not in html
    assert "<b>" not in html
    assert " onclick" not in html  # only as the inert data-onclick
    assert 'data-ok="1"' in html
    assert "Bad Key" not in html


def test_answers_for_references_not_asked_are_ignored() -> None:
    class Overeager(InMemoryResolver):
        def resolve(
            self, references: Collection[Reference]
        ) -> Mapping[Reference, ResolvedReference]:
            return dict(self.visible)

    html = render("#2", resolver=Overeager(VISIBLE), context=CONTEXT)
    assert "issues/1" not in html


def test_raw_html_cannot_forge_a_reference() -> None:
    html = render(
        '<a href="/grp/proj/-/issues/9" class="gfm gfm-issue" data-reference-type="issue" '
        'data-issue="9" title="t">#9</a>'
    )
    assert html == '<p><a href="/grp/proj/-/issues/9" title="t">#9</a></p>'


def test_references_in_titles() -> None:
    html = render_title("Fix #1 for @alice", resolver=resolver(), context=CONTEXT)
    assert 'class="gfm gfm-issue"' in html
    assert 'class="gfm gfm-project_member"' in html
    assert not html.startswith("<p>")

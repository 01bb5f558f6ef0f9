"""Conformance with GitLab's own GLFM example snapshots (747 examples).

Every example is rendered and compared with GitLab's backend HTML on structure (see
`glfm.normalize`). Examples listed in `glfm_known_differences.txt` are deliberate or
accepted differences, each with its reason; any other mismatch fails, and a listed example
that starts matching fails too, so the list stays true.

    .venv/bin/python -m pytest -p no:django tests/markdown/test_glfm_conformance.py -q
"""

from __future__ import annotations

import difflib
from functools import cache

import pytest

from kiln.markdown import RenderContext, render
from tests.markdown.glfm import (
    GLFM_DIR,
    Example,
    load_examples,
    load_known_differences,
    normalize,
)
from tests.support.shared import require

# Just below the share achieved, so that a regression fails even if someone also adds the
# newly failing example to the known differences.
CONFORMANCE_FLOOR = 0.955

_PROJECT = "glfm_group/glfm_project"
_GROUP_UPLOADS = RenderContext(uploads_url="/groups/glfm_group/-/uploads")
_PROJECT_UPLOADS = RenderContext(project=_PROJECT, uploads_url=f"/{_PROJECT}/uploads")
_PROJECT_WIKI = RenderContext(project=_PROJECT, base_url=f"/{_PROJECT}/-/wikis/")
_GROUP_WIKI = RenderContext(base_url="/groups/glfm_group/-/wikis/")
_PROJECT_BLOB = RenderContext(project=_PROJECT, base_url=f"/{_PROJECT}/-/blob/master/")
# GitLab renders these examples as if previewed in a group, project or wiki (the snapshot
# generator's "preview API request overrides"); Kiln gets the same place via RenderContext.
_CONTEXTS = {
    "markdown_preview_api_request_overrides__001": _GROUP_UPLOADS,
    "markdown_preview_api_request_overrides__002": _PROJECT_BLOB,
    "markdown_preview_api_request_overrides__005": _PROJECT_WIKI,
    "markdown_preview_api_request_overrides__006": _GROUP_WIKI,
    "attachment_image_for_group__": _GROUP_UPLOADS,
    "attachment_link_for_group__": _GROUP_UPLOADS,
    "attachment_image_for_project__": _PROJECT_UPLOADS,
    "attachment_link_for_project__": _PROJECT_UPLOADS,
    "attachment_image_for_project_wiki__": _PROJECT_WIKI,
    "attachment_link_for_project_wiki__": _PROJECT_WIKI,
    "attachment_link_for_group_wiki__": _GROUP_WIKI,
}

require(GLFM_DIR)

EXAMPLES = load_examples()
KNOWN_DIFFERENCES = load_known_differences()


def _context(example: Example) -> RenderContext | None:
    return next((ctx for key, ctx in _CONTEXTS.items() if key in example.name), None)


@cache
def _compare(name: str) -> tuple[str, str]:
    example = next(e for e in EXAMPLES if e.name == name)
    return normalize(render(example.markdown, context=_context(example))), normalize(example.html)


def _matches(name: str) -> bool:
    mine, gitlab = _compare(name)
    return mine == gitlab


def test_corpus_is_complete() -> None:
    assert len(EXAMPLES) == 747
    unknown = sorted(set(KNOWN_DIFFERENCES) - {e.name for e in EXAMPLES})
    assert not unknown, f"known differences name no example: {unknown}"
    assert all(KNOWN_DIFFERENCES.values()), "every known difference needs a reason"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_example(example: Example) -> None:
    mine, gitlab = _compare(example.name)
    if example.name in KNOWN_DIFFERENCES:
        assert mine != gitlab, (
            f"{example.name} now matches GitLab: remove it from glfm_known_differences.txt"
        )
        return
    diff = "\n".join(difflib.unified_diff([gitlab], [mine], "gitlab", "kiln", lineterm=""))
    assert mine == gitlab, f"{example.markdown!r}\n{diff}"


def test_conformance_share(pytestconfig: pytest.Config, capsys: pytest.CaptureFixture[str]) -> None:
    matching = sum(_matches(e.name) for e in EXAMPLES)
    share = matching / len(EXAMPLES)
    by_spec: dict[str, list[bool]] = {}
    for example in EXAMPLES:
        by_spec.setdefault(example.specification, []).append(_matches(example.name))
    detail = ", ".join(
        f"{spec} {sum(results)}/{len(results)}" for spec, results in sorted(by_spec.items())
    )
    summary = f"GLFM conformance: {matching}/{len(EXAMPLES)} = {share:.1%} ({detail})"
    # Through pytest's terminal reporter with capture suspended, so the figure shows in a
    # plain `pytest -q` run (pytest-xdist workers have no terminal reporter).
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        with capsys.disabled():
            reporter.write_line("")
            reporter.write_line(summary)
    assert share >= CONFORMANCE_FLOOR, summary

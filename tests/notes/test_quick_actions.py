"""Parsing quick actions out of a text, as GitLab's extractor does."""

from __future__ import annotations

import datetime as dt

import pytest

from kiln.notes import commands, quick_actions


@pytest.fixture(autouse=True)
def _registered(db: None) -> None:
    # The built-in commands register when the app loads; this only asserts they did.
    assert quick_actions.registered("close") is not None


def _names(text: str, type_name: str = "Issue") -> tuple[str, list[tuple[str, str]]]:
    cleaned, found = quick_actions.extract(text, type_name)
    return cleaned, [(written.lower(), arg) for _, written, arg in found]


def test_commands_on_their_own_lines_are_stripped() -> None:
    cleaned, found = _names('Hello\n/close\n/label ~bug ~"needs review"\nbye')
    assert cleaned == "Hello\nbye"
    assert found == [("close", ""), ("label", '~bug ~"needs review"')]


def test_commands_in_code_quotes_and_html_stay_text() -> None:
    text = "```\n/close\n```\n>>>\n/close\n>>>\n<pre>\n/close\n</pre>\n    /close is indented"
    cleaned, found = _names(text)
    assert found == []
    assert cleaned == text


def test_unknown_and_inline_commands_stay_text() -> None:
    cleaned, found = _names("/notacommand\nplease /close this\n/CLOSE")
    assert found == [("close", "")]
    assert cleaned == "/notacommand\nplease /close this"


def test_commands_depend_on_the_noteable_type() -> None:
    assert _names("/due tomorrow", "MergeRequest")[1] == []
    assert _names("/due tomorrow", "Issue")[1] == [("due", "tomorrow")]


def test_substitutions_leave_text() -> None:
    cleaned, found = _names("/shrug oh well")
    assert cleaned == "oh well \u00af\\\uff3f(\u30c4)\uff3f/\u00af"
    assert found == [("shrug", "oh well")]


def test_due_dates() -> None:
    today = dt.date.today()
    assert commands.parse_due_date("2030-01-31") == dt.date(2030, 1, 31)
    assert commands.parse_due_date("tomorrow") == today + dt.timedelta(days=1)
    assert commands.parse_due_date("in 2 weeks") == today + dt.timedelta(weeks=2)
    assert commands.parse_due_date("someday") is None


def test_label_names() -> None:
    assert commands.label_names('~bug ~"two words" ~x') == ["bug", "two words", "x"]
    assert commands.label_names("plain") == ["plain"]

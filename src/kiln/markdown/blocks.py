"""GitLab's block syntax on top of CommonMark: front matter and `>>>` multiline quotes.

Both are markdown-it block rules, so source line numbers stay true (task toggling relies
on them) and fenced code is never mistaken for either.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock

# `---` YAML, `+++` TOML, `;;;` JSON; a word after the opening delimiter names another
# language (`---php`), as GitLab allows.
_FRONT_MATTER_OPEN = re.compile(r"(---|\+\+\+|;;;)([A-Za-z0-9_+\-]*)[ \t]*\Z")
_FRONT_MATTER_LANGUAGE = {"---": "yaml", "+++": "toml", ";;;": "json"}
_MULTILINE_QUOTE = re.compile(r">>>[ \t]*\Z")


def _line(state: StateBlock, line: int) -> str:
    return state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]


def _front_matter(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    # Only at the very top of the document, unindented: not inside a container, and not
    # after text (then `---` is a rule or a setext underline, as CommonMark says).
    if start_line != 0 or state.bMarks[0] + state.tShift[0] != 0:
        return False
    opening = _FRONT_MATTER_OPEN.match(_line(state, 0))
    if opening is None:
        return False
    delimiter = opening.group(1)
    closing_line = 1
    while closing_line < end_line:
        if state.sCount[closing_line] == 0 and _line(state, closing_line).rstrip() == delimiter:
            break
        closing_line += 1
    else:
        return False
    if silent:
        return True
    token = state.push("front_matter", "", 0)
    token.block = True
    token.markup = delimiter
    token.info = opening.group(2) or _FRONT_MATTER_LANGUAGE[delimiter]
    token.content = (
        state.src[state.bMarks[1] : state.bMarks[closing_line]] if closing_line > 1 else ""
    )
    token.map = [0, closing_line + 1]
    state.line = closing_line + 1
    return True


def _multiline_blockquote(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    if state.is_code_block(start_line) or not _MULTILINE_QUOTE.match(_line(state, start_line)):
        return False
    closing_line = start_line + 1
    while closing_line < end_line:
        # Less indented text ends the container (a list item) the quote started in.
        if not state.isEmpty(closing_line) and state.sCount[closing_line] < state.blkIndent:
            return False
        if not state.is_code_block(closing_line) and _MULTILINE_QUOTE.match(
            _line(state, closing_line)
        ):
            break
        closing_line += 1
    else:
        return False
    if silent:
        return True

    old_parent, old_line_max = state.parentType, state.lineMax
    state.parentType = "blockquote"
    # The quote's body is parsed as a nested document that ends before the closing `>>>`.
    state.lineMax = closing_line
    token = state.push("blockquote_open", "blockquote", 1)
    token.markup = ">>>"
    token.map = [start_line, closing_line + 1]
    state.md.block.tokenize(state, start_line + 1, closing_line)
    token = state.push("blockquote_close", "blockquote", -1)
    token.markup = ">>>"
    state.parentType, state.lineMax = old_parent, old_line_max
    state.line = closing_line + 1
    return True


def blocks_plugin(md: MarkdownIt) -> None:
    md.block.ruler.before("table", "front_matter", _front_matter)
    md.block.ruler.before(
        "blockquote",
        "multiline_blockquote",
        _multiline_blockquote,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )

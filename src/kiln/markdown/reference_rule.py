"""The markdown-it rule that turns GitLab references in text into reference tokens,
and the rendering of those tokens once the resolver has answered.

The rule runs in the core chain right after inline parsing, over the `text` tokens only.
That placement, rather than one inline rule per sigil, is deliberate: an inline rule sees
`group/my_project#1` in pieces (markdown-it flushes pending text at every `_`, which might
open emphasis) and never gets called at the start of a bare commit SHA (no sigil). On the
token stream the text is whole, and the guarantees are the same as an inline rule's:

- code spans, code blocks, raw HTML and autolinks are other token types, never scanned;
- text inside a link (`[see #1](url)`, `<a href>#1</a>`, an autolinked URL) or raw
  `<code>` is skipped;
- escaped characters (`\\#1`) are still separate `text_special` tokens at this point, so
  an escaped sigil never starts a reference.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from kiln.markdown.context import RenderEnv, get_env
from kiln.markdown.markup import element, escape
from kiln.markdown.references import Reference, ReferenceType, ResolvedReference, scan

_DEFAULT_CLASS = {
    ReferenceType.USER: "gfm gfm-project_member",
    ReferenceType.ISSUE: "gfm gfm-issue",
    ReferenceType.MERGE_REQUEST: "gfm gfm-merge_request",
    ReferenceType.LABEL: "gfm gfm-label",
    ReferenceType.MILESTONE: "gfm gfm-milestone",
    ReferenceType.COMMIT: "gfm gfm-commit",
    ReferenceType.COMMIT_RANGE: "gfm gfm-commit_range",
}
_SHOWN_STATES = {"closed", "merged"}
_DATA_KEY = re.compile(r"[a-z0-9][a-z0-9\-]*\Z")
# Raw HTML elements whose text is never scanned, as GitLab skips them: links and code.
_SKIPPED_HTML = re.compile(r"<(/?)(?:a|code|pre|kbd|samp)(?=[\s/>])", re.IGNORECASE)


def _split_text(token: Token, prev_char: str, env: RenderEnv) -> list[Token] | None:
    matches = scan(token.content, context_project=env.context.project, prev_char=prev_char)
    if not matches:
        return None
    pieces: list[Token] = []
    text, position = token.content, 0
    for match in matches:
        if match.start > position:
            before = Token("text", "", 0)
            before.content = text[position : match.start]
            pieces.append(before)
        reference_token = Token("gfm_reference", "", 0)
        reference_token.content = match.reference.raw
        reference_token.meta = {"reference": match.reference}
        pieces.append(reference_token)
        env.references[match.reference] = None
        position = match.end
    if position < len(text):
        after = Token("text", "", 0)
        after.content = text[position:]
        pieces.append(after)
    return pieces


def _scan_children(children: list[Token], env: RenderEnv) -> list[Token]:
    result: list[Token] = []
    skip_depth = 0
    for token in children:
        if token.type == "link_open":
            skip_depth += 1
        elif token.type == "link_close":
            skip_depth -= 1
        elif token.type == "html_inline" and (tag := _SKIPPED_HTML.match(token.content)):
            if tag.group(1):
                skip_depth -= 1
            elif not token.content.endswith("/>"):
                skip_depth += 1
        elif token.type == "text" and skip_depth <= 0:
            previous = result[-1] if result else None
            prev_char = ""
            if previous is not None and previous.type in ("text", "text_special"):
                prev_char = previous.content[-1:]
            pieces = _split_text(token, prev_char, env)
            if pieces is not None:
                result.extend(pieces)
                continue
        result.append(token)
    return result


def _reference_rule(state: StateCore) -> None:
    env = get_env(state.env)
    for token in state.tokens:
        if token.type == "inline" and token.children:
            token.children = _scan_children(token.children, env)


def _display_text(reference: Reference, resolved: ResolvedReference) -> str:
    if resolved.text is not None:
        text = resolved.text
    elif reference.type is ReferenceType.LABEL and not reference.by_id:
        text = reference.identifier  # a label shows as a badge with its name, as in GitLab
    else:
        text = reference.raw
    if resolved.state in _SHOWN_STATES and reference.type in (
        ReferenceType.ISSUE,
        ReferenceType.MERGE_REQUEST,
    ):
        text = f"{text} ({resolved.state})"
    return text


def render_reference(env: RenderEnv, reference: Reference, resolved: ResolvedReference) -> str:
    """The link for a resolved reference (values are escaped and re-checked by the
    sanitizer, so a resolver cannot inject markup either)."""
    attrs: list[tuple[str, str]] = [("href", resolved.url)]
    if resolved.title:
        attrs.append(("title", resolved.title))
    classes = " ".join(resolved.css_classes) or _DEFAULT_CLASS[reference.type]
    attrs.append(("class", classes))
    attrs.append(("data-reference-type", reference.type.value))
    attrs.append(("data-original", reference.raw))
    if resolved.state:
        attrs.append(("data-state", resolved.state))
    for key, value in resolved.data.items():
        name = key.removeprefix("data-")
        if _DATA_KEY.match(name) and name not in ("reference-type", "original", "state"):
            attrs.append((f"data-{name}", value))
    inner = escape(_display_text(reference, resolved))
    if reference.type is ReferenceType.LABEL:
        label_attrs = [("class", "gl-label-text")]
        if resolved.color:
            label_attrs.append(("style", f"background-color: {resolved.color}"))
        inner = element(env, "span", label_attrs, inner)
    return element(env, "a", attrs, inner)


def _render_reference(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    state = get_env(env)
    token = tokens[idx]
    reference = token.meta["reference"]
    resolved = state.resolved.get(reference)
    if resolved is None:
        return escape(token.content)
    return render_reference(state, reference, resolved)


def reference_plugin(md: MarkdownIt) -> None:
    # Before text_join, which would merge escaped characters back into the text.
    md.core.ruler.before("text_join", "gfm_references", _reference_rule)
    md.add_render_rule("gfm_reference", _render_reference)

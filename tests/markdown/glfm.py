"""GitLab's GLFM example snapshots, and the structural HTML comparison used on them.

The corpus (../shared/data/glfm beside the checkout, see its README) pairs 747 Markdown
inputs with the HTML GitLab's backend renders (`static`). Kiln is compared on structure, not
on GitLab's UI classes: both sides are parsed into a tree of elements and text and normalized
as below.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import yaml

from tests.support.shared import DATA_DIR

GLFM_DIR = Path(os.environ.get("KILN_GLFM_DIR", DATA_DIR / "glfm" / "output_example_snapshots"))
KNOWN_DIFFERENCES_FILE = Path(__file__).with_name("glfm_known_differences.txt")

# Attributes that carry meaning beyond GitLab's styling and JavaScript hooks. Everything
# else (class, id, dir, data-*, sourcepos, rel, target, aria-*, lang, ...) is dropped.
KEPT_ATTRIBUTES = frozenset(
    {"href", "src", "alt", "title", "start", "checked", "type", "align", "colspan", "rowspan"}
)
# GitLab UI placeholders with no content of their own.
DROPPED_ELEMENTS = frozenset({"copy-code", "task-button"})
BLOCK_ELEMENTS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "details", "dd", "div", "dl", "dt"),
        *("figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header"),
        *("hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table"),
        *("tbody", "td", "tfoot", "th", "thead", "tr", "ul", "caption"),
    }
)
VOID_ELEMENTS = frozenset({"br", "hr", "img", "input", "wbr", "col", "source"})


@dataclass(frozen=True)
class Example:
    name: str
    markdown: str
    html: str
    specification: str


@cache
def load_examples() -> tuple[Example, ...]:
    markdown = yaml.safe_load((GLFM_DIR / "markdown.yml").read_text(encoding="utf-8"))
    html = yaml.safe_load((GLFM_DIR / "html.yml").read_text(encoding="utf-8"))
    index = yaml.safe_load((GLFM_DIR / "examples_index.yml").read_text(encoding="utf-8"))
    return tuple(
        Example(
            name=name,
            markdown=source,
            html=html[name]["static"],
            specification=index[name]["source_specification"],
        )
        for name, source in markdown.items()
    )


def load_known_differences() -> dict[str, str]:
    """`name: reason` lines; blank lines and `#` comments are skipped."""
    known: dict[str, str] = {}
    for line in KNOWN_DIFFERENCES_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(":")
        known[name.strip()] = reason.strip()
    return known


_FOOTNOTE_SUFFIX = re.compile(r"^(#fn(?:ref)?-.+)-[0-9a-f]+$")


def _normalize_url(url: str) -> str:
    # Percent-encoding differs between renderers (`ö` vs `%C3%B6`): compare decoded.
    # Footnote ids end in a per-document suffix (GitLab's fixture uses 42).
    return _FOOTNOTE_SUFFIX.sub(r"\1", unquote(url))


class _TreeBuilder(HTMLParser):
    """Flattens HTML into normalized events: ("<tag attrs>", "</tag>", or text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, str]] = []
        self.stack: list[str] = []
        self.dropping = 0

    def _in_pre(self) -> bool:
        return "pre" in self.stack

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_ELEMENTS or self.dropping:
            self.dropping += tag not in VOID_ELEMENTS
            return
        if tag == "tbody" or (tag == "span" and (self._in_pre() or not attrs)):
            # Highlighting and line wrappers inside code: only the text counts.
            self.stack.append(f"~{tag}")
            return
        values = dict(attrs)
        if "data-src" in values:
            values["src"] = values["data-src"]  # GitLab's lazy-loaded images
        for name in ("href", "src"):
            if values.get(name):
                values[name] = _normalize_url(values[name] or "")
        kept = sorted(
            (name, value or "") for name, value in values.items() if name in KEPT_ATTRIBUTES
        )
        rendered = "".join(f' {name}="{value}"' for name, value in kept)
        self.events.append(("start", f"<{tag}{rendered}>"))
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)
        else:
            self.events.append(("void", tag))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS and not self.dropping:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag in DROPPED_ELEMENTS or tag not in VOID_ELEMENTS:
                self.dropping -= 1
            return
        if tag in VOID_ELEMENTS or tag not in self.stack:
            return
        while self.stack:
            top = self.stack.pop()
            if top.startswith("~"):  # an unwrapped element: only its content counts
                if top == f"~{tag}":
                    return
                continue
            self.events.append(("end", f"</{top}>"))
            if top == tag:
                return

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        data = data.replace("\u00a0", " ")
        if not self._in_pre():
            data = re.sub(r"\s+", " ", data)
        if self.events and self.events[-1][0] == "text":
            self.events[-1] = ("text", self.events[-1][1] + data)
        else:
            self.events.append(("text", data))


def _is_block_event(event: tuple[str, str]) -> bool:
    kind, value = event
    if kind == "void":
        return value in BLOCK_ELEMENTS
    if kind not in ("start", "end"):
        return False
    tag = re.match(r"</?([\w-]+)", value)
    return bool(tag and tag.group(1) in BLOCK_ELEMENTS)


def normalize(html: str) -> str:
    """A canonical string for the structure of `html` (see the module docstring)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    while builder.stack:
        builder.events.append(("end", f"</{builder.stack.pop()}>"))
    events = builder.events
    out: list[str] = []
    pre_depth = 0
    for index, (kind, value) in enumerate(events):
        if kind == "void":
            continue
        if kind == "start" and value.startswith("<pre"):
            pre_depth += 1
        elif kind == "end" and value == "</pre>":
            pre_depth -= 1
        if kind != "text":
            out.append(value)
            continue
        text = value
        if pre_depth:
            # The HTML parsers drop a newline right after <pre>; html.parser keeps it.
            if index > 0 and events[index - 1][1].startswith("<pre"):
                text = text.removeprefix("\n")
            if index + 1 < len(events) and events[index + 1][1] in ("</code>", "</pre>"):
                text = text.removesuffix("\n")
            out.append(text)
            continue
        if index == 0 or _is_block_event(events[index - 1]):
            text = text.lstrip(" ")
        if index + 1 == len(events) or _is_block_event(events[index + 1]):
            text = text.rstrip(" ")
        out.append(text)
    return "".join(out)

"""Job logs to HTML: ANSI colours to CSS classes, GitLab's collapsible sections, every byte
escaped (used by the job page and its follow mode)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

# --- the log renderer --------------------------------------------------------------------------

_COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_SECTION_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_SECTION = re.compile(
    r"section_(start|end):(\d{1,20}):([A-Za-z0-9_.\-]{1,100})(\[[^\]\r\n]{0,200}\])?\r\x1b\[0K"
)
_ESCAPE = re.compile(
    r"\x1b\[([0-9;:?<>=]{0,64})([ -/]{0,4})([@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]{0,4096}(?:\x07|\x1b\\)?"  # OSC (titles, hyperlinks): dropped
    r"|\x1b[PX^_][^\x1b]{0,4096}(?:\x1b\\)?"  # DCS, SOS, PM, APC: dropped
    r"|\x1b[ -~]?"  # other escapes, a lone ESC
    r"|\r"
    r"|[\x00-\x08\x0b-\x1f\x7f]"
)
MAX_SECTION_DEPTH = 16
# A poll of a running job's log returns at most this much.
LOG_POLL_BYTES = 256 * 1024


@dataclass
class Style:
    fg: str = ""
    bg: str = ""
    bold: bool = False
    italic: bool = False
    underline: bool = False

    def classes(self) -> str:
        names = []
        if self.fg:
            names.append(f"term-fg-{self.fg}")
        if self.bg:
            names.append(f"term-bg-{self.bg}")
        if self.bold:
            names.append("term-bold")
        if self.italic:
            names.append("term-italic")
        if self.underline:
            names.append("term-underline")
        return " ".join(names)

    def apply(self, params: str) -> None:
        """SGR parameters (`1;31`): colours become names (`red`, `l-red` for bright)."""
        codes = [int(p) if p.isdigit() and len(p) < 4 else -1 for p in re.split("[;:]", params)]
        index = 0
        while index < len(codes) and index < 32:
            code = codes[index]
            index += 1
            if code == 0 or params == "":
                self.fg, self.bg, self.bold, self.italic, self.underline = (
                    "",
                    "",
                    False,
                    False,
                    False,
                )
            elif code == 1:
                self.bold = True
            elif code == 3:
                self.italic = True
            elif code == 4:
                self.underline = True
            elif code == 22:
                self.bold = False
            elif code == 23:
                self.italic = False
            elif code == 24:
                self.underline = False
            elif 30 <= code <= 37:
                self.fg = _COLOURS[code - 30]
            elif code == 39:
                self.fg = ""
            elif 40 <= code <= 47:
                self.bg = _COLOURS[code - 40]
            elif code == 49:
                self.bg = ""
            elif 90 <= code <= 97:
                self.fg = f"l-{_COLOURS[code - 90]}"
            elif 100 <= code <= 107:
                self.bg = f"l-{_COLOURS[code - 100]}"
            elif code in (38, 48):
                mode = codes[index] if index < len(codes) else -1
                colour = ""
                if mode == 5 and index + 1 < len(codes):
                    number = codes[index + 1]
                    if 0 <= number < 8:
                        colour = _COLOURS[number]
                    elif 8 <= number < 16:
                        colour = f"l-{_COLOURS[number - 8]}"
                    index += 2
                elif mode == 2:
                    index += 4  # 24-bit colours: not mapped (no inline styles)
                else:
                    index += 1
                if colour:
                    if code == 38:
                        self.fg = colour
                    else:
                        self.bg = colour

    def as_list(self) -> list[Any]:
        return [self.fg, self.bg, int(self.bold), int(self.italic), int(self.underline)]


_STYLE_VALUE = re.compile(r"(l-)?(black|red|green|yellow|blue|magenta|cyan|white)")


@dataclass
class LogState:
    """Where a rendering stopped: the byte offset, the current style, the open sections.

    Handed to the browser as an opaque token (`state`) and read back strictly: a forged one
    can only change how the requester's own view of the log is coloured."""

    offset: int
    style: Style = field(default_factory=Style)
    sections: list[str] = field(default_factory=list)

    def encode(self) -> str:
        data = {"o": self.offset, "s": self.style.as_list(), "x": self.sections}
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> LogState | None:
        token = token.strip()
        if token.isdigit() and len(token) < 16:
            return cls(offset=int(token))
        if not token or len(token) > 4096:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            offset = data["o"]
            fg, bg, bold, italic, underline = data["s"]
            sections = data["x"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if not isinstance(offset, int) or offset < 0 or isinstance(offset, bool):
            return None
        for colour in (fg, bg):
            if not isinstance(colour, str) or (colour and not _STYLE_VALUE.fullmatch(colour)):
                return None
        if not isinstance(sections, list) or len(sections) > MAX_SECTION_DEPTH:
            return None
        if not all(isinstance(s, str) and _SECTION_NAME.fullmatch(s) for s in sections):
            return None
        style = Style(fg, bg, bool(bold), bool(italic), bool(underline))
        return cls(offset=offset, style=style, sections=list(sections))


def _segments(text: str, style: Style) -> list[list[str]]:
    """(classes, text) pairs of one line's text; a carriage return starts the line over
    (progress bars), escapes set the style or are dropped."""
    segments: list[list[str]] = []
    position = 0

    def add(chunk: str) -> None:
        if not chunk:
            return
        classes = style.classes()
        if segments and segments[-1][0] == classes:
            segments[-1][1] += chunk
        else:
            segments.append([classes, chunk])

    for match in _ESCAPE.finditer(text):
        add(text[position : match.start()])
        position = match.end()
        if match.group(0) == "\r":
            segments.clear()
        elif match.group(3) == "m" and not match.group(2):
            style.apply(match.group(1) or "")
    add(text[position:])
    return segments


def render_log(
    data: bytes, state: LogState, *, final: bool
) -> tuple[list[dict[str, Any]], LogState]:
    """Operations for the complete lines of `data` (all of it when `final`) read at
    `state.offset`, and the state after them."""
    if not final:
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) >= LOG_POLL_BYTES:
            end = len(data)  # a huge line without an end: shown as it is
        data = data[:end]
    style = Style(**vars(state.style))
    sections = list(state.sections)
    ops: list[dict[str, Any]] = []
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        position = 0
        had_marker = False
        markers = list(_SECTION.finditer(line))
        for number, match in enumerate(markers):
            before = line[position : match.start()]
            had_marker = True
            segments = _segments(before, style)
            if segments:
                ops.append({"t": "line", "s": segments})
            kind, name, options = match.group(1), match.group(3), match.group(4) or ""
            if kind == "start":
                stop = markers[number + 1].start() if number + 1 < len(markers) else len(line)
                header = _segments(line[match.end() : stop], style)
                position = stop
                if len(sections) < MAX_SECTION_DEPTH:
                    sections.append(name)
                    ops.append(
                        {"t": "open", "n": name, "c": "collapsed=true" in options, "h": header}
                    )
                elif header:
                    ops.append({"t": "line", "s": header})
            else:
                position = match.end()
                if name in sections:
                    while sections:
                        closed = sections.pop()
                        ops.append({"t": "close", "n": closed})
                        if closed == name:
                            break
        rest = _segments(line[position:], style)
        if rest or not had_marker:
            ops.append({"t": "line", "s": rest})
    return ops, LogState(offset=state.offset + len(data), style=style, sections=sections)


def _line_html(segments: list[list[str]]) -> str:
    parts = []
    for classes, text in segments:
        if classes:
            parts.append(format_html('<span class="{}">{}</span>', classes, text))
        else:
            parts.append(escape(text))
    return "".join(parts)


def ops_to_html(ops: list[dict[str, Any]]) -> SafeString:
    """The page's log: every text escaped, sections as <details> (open unless collapsed).
    Sections left open at the end carry `data-open`: ci.js appends the next lines there."""
    out: list[str] = []
    stack: list[int] = []
    for op in ops:
        if op["t"] == "line":
            out.append(f'<div class="log-line">{_line_html(op["s"])}</div>')
        elif op["t"] == "open":
            stack.append(len(out))
            out.append(
                format_html(
                    '<details class="log-section" data-section="{}"{}>',
                    op["n"],
                    "" if op["c"] else " open",
                )
                + f'<summary class="log-line log-section-header">{_line_html(op["h"])}</summary>'
                + '<div class="log-section-body">'
            )
        elif op["t"] == "close" and stack:
            stack.pop()
            out.append("</div></details>")
    for index in stack:
        out[index] = out[index].replace("<details ", "<details data-open ", 1)
    out.extend("</div></details>" for _ in stack)
    return mark_safe("".join(out))  # noqa: S308 (built from escaped parts only)

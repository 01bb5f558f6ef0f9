"""Sanitization: hostile Markdown and HTML come out inert; the allowed subset survives."""

from __future__ import annotations

import re

import pytest

from kiln.markdown import RenderContext, render

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<svg onload=alert(1)><circle r=1></circle></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "<img src=x onerror=alert(1)>",
    '<img src="javascript:alert(1)">',
    '<img src="https://ok.example/a.png" srcset="javascript:alert(1)">',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)><summary>s</summary>x</details>",
    '<iframe src="https://evil.example"></iframe>',
    '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
    '<form action="https://evil.example"><button formaction=javascript:alert(1)>x</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//"><link rel=stylesheet href="https://evil.example/x.css">',
    "<style>*{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<a href="https://ok.example" style="position:fixed;top:0">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;&#x61;vascript:alert(1))",
    "[x](java%0ascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="JAVASCRIPT:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<noscript><img src=x onerror=alert(1)></noscript>",
    "<xmp><script>alert(1)</script></xmp>",
    "<title><img src=x onerror=alert(1)></title>",
    '<video src="https://ok.example/v.mp4" autoplay onplay=alert(1) poster="javascript:x">',
    '<div onmouseover="alert(1)">hover</div>',
    '```mermaid\ngraph TD\n  A-->B\n  click A callback "Tip"\n  click B "javascript:alert(1)"\n```',
    "```mermaid\n%%{init: {'securityLevel': 'loose'}}%%\n"
    'graph TD\n  A["<img src=x onerror=alert(1)>"]\n```',
    "```plantuml\n!include https://evil.example/x\n```",
    "$`\\href{javascript:alert(1)}{x}`$",
]

_ON_HANDLER = re.compile(r"<[^>]*\son\w+\s*=", re.IGNORECASE)
_DANGEROUS_URL = re.compile(
    r"(?:href|src|action|formaction|poster)\s*=\s*\"\s*(?:javascript|vbscript|data):", re.IGNORECASE
)
_FORBIDDEN_TAGS = re.compile(
    r"<(?:script|style|iframe|object|embed|form|button|meta|base|link|svg|math|body|textarea"
    r"|noscript|xmp|title)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_is_inert(payload: str) -> None:
    html = render(payload)
    assert not _FORBIDDEN_TAGS.search(html), html
    assert not _ON_HANDLER.search(html), html
    assert not _DANGEROUS_URL.search(html), html
    assert not re.search(r"\sstyle=", html), html
    assert "srcset" not in html, html
    assert "poster" not in html, html


def test_diagram_sources_are_only_text() -> None:
    html = render('```mermaid\ngraph TD\n  click A callback\n  A["<b>x</b>"]\n```')
    assert '<pre class="code highlight language-mermaid" lang="mermaid">' in html
    assert '<code class="js-render-mermaid">' in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>" not in html


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        (
            "<details><summary>More</summary>\n\nHidden *text*\n\n</details>",
            "<details><summary>More</summary>\n<p>Hidden <em>text</em></p>\n</details>",
        ),
        ("Press <kbd>Ctrl</kbd>+<kbd>C</kbd>", "<p>Press <kbd>Ctrl</kbd>+<kbd>C</kbd></p>"),
        ("x<sup>2</sup> H<sub>2</sub>O", "<p>x<sup>2</sup> H<sub>2</sub>O</p>"),
        ("a<br>b", "<p>a<br>b</p>"),
        ('<abbr title="HyperText">HTML</abbr>', '<p><abbr title="HyperText">HTML</abbr></p>'),
        (
            '<img src="https://ok.example/a.png" alt="A" width="20">',
            '<img src="https://ok.example/a.png" alt="A" width="20">',
        ),
        (
            "<ins>new</ins> <del>old</del> <mark>hi</mark>",
            "<p><ins>new</ins> <del>old</del> <mark>hi</mark></p>",
        ),
    ],
)
def test_allowed_html_survives(markdown: str, expected: str) -> None:
    assert render(markdown) == expected


def test_author_cannot_set_trusted_attributes() -> None:
    html = render(
        '<h2 id="login" class="anchor" data-x="1" aria-hidden="true">x</h2>'
        '<span class="gfm-color_chip" style="background-color: red">y</span>'
        '<gl-emoji data-name="tada" title="t">z</gl-emoji>'
    )
    assert html == '<h2>x</h2><span>y</span><gl-emoji title="t">z</gl-emoji>'


def test_author_inputs_are_disabled_checkboxes() -> None:
    html = render('<input type="text" name="q" value="secret" class="task-list-item-checkbox">')
    assert html == '<input type="checkbox" disabled="">'


def test_rel_and_target_are_the_renderers() -> None:
    html = render('<a href="https://ok.example" rel="opener" target="_self">x</a>')
    assert html == (
        '<p><a href="https://ok.example" rel="nofollow noreferrer noopener" '
        'target="_blank">x</a></p>'
    )


def test_external_and_internal_links() -> None:
    context = RenderContext(external_url="https://kiln.example")
    html = render(
        "[ext](https://other.example/x) [own](https://kiln.example/g/p) [rel](/g/p) "
        "[mail](mailto:a@b.example) www.other.example",
        context=context,
    )
    assert (
        '<a href="https://other.example/x" rel="nofollow noreferrer noopener" target="_blank">'
        in html
    )
    assert '<a href="https://kiln.example/g/p">own</a>' in html
    assert '<a href="/g/p">rel</a>' in html
    assert '<a href="mailto:a@b.example">mail</a>' in html
    assert '<a href="http://www.other.example" rel="nofollow noreferrer noopener"' in html


def test_relative_links_resolve_against_the_context() -> None:
    context = RenderContext(
        base_url="/g/p/-/blob/main/docs/", uploads_url="/g/p/uploads", external_url="https://k"
    )
    html = render(
        "[a](guide.md) [b](../README.md) [c](#section) [d](/uploads/abc/f.zip) ![e](img/x.png)",
        context=context,
    )
    assert 'href="/g/p/-/blob/main/docs/guide.md"' in html
    assert 'href="/g/p/-/blob/main/README.md"' in html
    assert 'href="#section"' in html
    assert 'href="/g/p/uploads/abc/f.zip"' in html
    assert 'src="/g/p/-/blob/main/docs/img/x.png"' in html


def test_heading_anchors_do_not_follow_the_base_url() -> None:
    html = render("# Title", context=RenderContext(base_url="/g/p/-/wikis/"))
    assert 'href="#title"' in html


def test_generated_markup_never_shows_up_as_text() -> None:
    # <title> and friends read the rest of the document as text; Kiln escapes them instead.
    html = render("<title>\n\n# Heading :tada:\n\n- [ ] task")
    assert html.startswith("&lt;title&gt;")
    assert '<h1><a id="user-content-heading-"' in html
    assert "&lt;h1" not in html


def test_comments_are_removed() -> None:
    assert render("a <!-- secret --> b") == "<p>a  b</p>"

"""Rendering of GitLab's Markdown extensions: headings and TOC, emoji, math, code, blocks."""

from __future__ import annotations

import time

import pytest

from kiln.markdown import (
    RENDERER_VERSION,
    RenderContext,
    context,
    first_line,
    render,
    render_plain_text,
    render_title,
)
from kiln.markdown.context import HIGHLIGHT_MAX_BLOCK_CHARS
from kiln.markdown.headings import slugify


def test_renderer_version_is_an_int() -> None:
    assert isinstance(RENDERER_VERSION, int)
    assert RENDERER_VERSION >= 1


def test_output_is_deterministic() -> None:
    text = "# T\n\n[^1] :tada: `x`\n\n[^1]: n\n\n```python\nx = 1\n```"
    assert render(text) == render(text)


# Headings and table of contents


def test_heading_anchor() -> None:
    assert render("## Hello *World*") == (
        '<h2><a id="user-content-hello-world" class="anchor" href="#hello-world" '
        'aria-hidden="true"></a>Hello <em>World</em></h2>'
    )


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("This header has spaces in it", "this-header-has-spaces-in-it"),
        ("This header has Unicode in it: 한글", "this-header-has-unicode-in-it-한글"),
        ("I don't know", "i-dont-know"),
        ("a -- b", "a-b"),
        ("snake_case", "snake_case"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_repeated_headings_get_numbered_ids() -> None:
    html = render("# A\n## A\n### A")
    assert 'id="user-content-a"' in html
    assert 'id="user-content-a-1"' in html
    assert 'id="user-content-a-2"' in html


def test_heading_anchors_can_be_turned_off() -> None:
    assert render("# A", context=RenderContext(heading_anchors=False)) == "<h1>A</h1>"


@pytest.mark.parametrize("marker", ["[[_TOC_]]", "[TOC]", "   [[_TOC_]]"])
def test_table_of_contents(marker: str) -> None:
    html = render(f"{marker}\n\n# One\n\n## Two\n\n### Three\n\n# Four\n\n### Five\n")
    toc = html.split("</ul>\n<h1>")[0]
    assert toc == (
        '<ul class="section-nav">\n'
        '<li><a href="#one">One</a><ul>\n'
        '<li><a href="#two">Two</a><ul>\n'
        '<li><a href="#three">Three</a></li>\n'
        "</ul>\n</li>\n"
        "</ul>\n</li>\n"
        '<li><a href="#four">Four</a><ul>\n'
        '<li><a href="#five">Five</a></li>\n'
        "</ul>\n</li>\n"
    )


def test_toc_marker_must_be_alone_in_its_paragraph() -> None:
    html = render("[[_TOC_]]\ntext\n\n# H")
    assert "section-nav" not in html


def test_only_the_first_toc_marker_renders() -> None:
    html = render("[TOC]\n\n" * 50 + "# H\n")
    assert html.count("section-nav") == 1


# Emoji


def test_emoji_shortcodes() -> None:
    assert render(":thumbsup: :+1: :heart:") == (
        '<p><gl-emoji title="thumbs up sign" data-name="thumbsup">👍</gl-emoji> '
        '<gl-emoji title="thumbs up sign" data-name="+1">👍</gl-emoji> '
        '<gl-emoji title="heavy black heart" data-name="heart">❤</gl-emoji></p>'
    )


@pytest.mark.parametrize(
    "text", [":not_an_emoji:", "`:tada:`", "12:tada:34", "a:tada:", "\\:tada:"]
)
def test_not_emoji(text: str) -> None:
    assert "gl-emoji" not in render(text)


# Math


def test_inline_math() -> None:
    html = render("$`a^2+b^2`$ and $c^2$ and $$d$$")
    assert '<code class="code math js-render-math" data-math-style="inline">a^2+b^2</code>' in html
    assert '<code class="code math js-render-math" data-math-style="inline">c^2</code>' in html
    assert '<code class="code math js-render-math" data-math-style="display">d</code>' in html


def test_dollars_in_prose_are_not_math() -> None:
    assert render("It costs $5 and $10, or $ 3 $.") == "<p>It costs $5 and $10, or $ 3 $.</p>"


@pytest.mark.parametrize("source", ["```math\nx < y\n```", "$$\nx < y\n$$"])
def test_display_math_blocks(source: str) -> None:
    assert render(source) == (
        '<div class="markdown-code-block"><pre class="math js-render-math code highlight '
        'language-math" lang="math" data-math-style="display"><code>x &lt; y</code></pre></div>'
    )


# Code blocks


def test_code_is_highlighted_with_a_language_class() -> None:
    html = render("```py\ndef f():\n    return '<b>'\n```")
    assert html.startswith(
        '<div class="markdown-code-block"><pre class="code highlight language-python" '
        'lang="python" data-canonical-lang="py"><code>'
    )
    assert '<span class="k">def</span>' in html
    assert "&lt;b&gt;" in html


def test_unknown_or_missing_language_is_plaintext() -> None:
    assert 'lang="plaintext" data-canonical-lang="foobar"' in render("```foobar\nx\n```")
    assert 'class="code highlight language-plaintext" lang="plaintext"><code>x<' in render("    x")


def test_highlighting_stops_above_the_block_size_cap() -> None:
    small = render("```python\nx = 1\n```")
    big = render("```python\n" + "x = 1\n" * (HIGHLIGHT_MAX_BLOCK_CHARS // 6 + 1) + "```")
    assert '<span class="' in small
    assert '<span class="' not in big
    assert 'class="code highlight language-python"' in big  # still a python block


def test_highlighting_stops_when_the_document_budget_is_spent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(context, "HIGHLIGHT_MAX_BLOCK_CHARS", 100)
    monkeypatch.setattr(context, "HIGHLIGHT_MAX_DOCUMENT_CHARS", 250)
    block = "```python\n" + "x = 1\n" * 15 + "```\n\n"  # 90 characters
    html = render(block * 4)
    blocks = html.split('<div class="markdown-code-block">')[1:]
    assert ['<span class="' in b for b in blocks] == [True, True, False, False]


def test_diagrams_are_left_to_the_browser() -> None:
    html = render("```plantuml\nA -> B\n```")
    assert html == (
        '<div class="markdown-code-block"><pre class="code highlight language-plantuml" '
        'lang="plantuml"><code class="js-render-plantuml">A -&gt; B</code></pre></div>'
    )


# GitLab blocks


@pytest.mark.parametrize(
    ("source", "language"),
    [
        ("---\ntitle: x\n---\ntext", "yaml"),
        ("+++\ntitle = 'x'\n+++\ntext", "toml"),
        (';;;\n{"title": "x"}\n;;;\ntext', "json"),
    ],
)
def test_front_matter_is_shown_as_code(source: str, language: str) -> None:
    html = render(source)
    assert html.startswith(
        f'<div class="markdown-code-block"><pre class="code highlight language-{language}" '
        f'lang="{language}" data-lang-params="frontmatter"><code>'
    )
    assert html.endswith("<p>text</p>")


def test_front_matter_only_at_the_top() -> None:
    assert "frontmatter" not in render("text\n\n---\ntitle: x\n---\n")
    assert "frontmatter" not in render(" ---\ntitle: x\n---\n")


def test_multiline_blockquote() -> None:
    assert render(">>>\nquoted\n\n- item\n>>>\nafter") == (
        "<blockquote>\n<p>quoted</p>\n<ul>\n<li>item</li>\n</ul>\n</blockquote>\n<p>after</p>"
    )


def test_unclosed_multiline_blockquote_is_a_normal_quote() -> None:
    assert render(">>>\ntext") == (
        "<blockquote>\n<blockquote>\n<blockquote></blockquote>\n</blockquote>\n</blockquote>\n"
        "<p>text</p>"
    )


def test_multiline_quote_marker_inside_code_is_code() -> None:
    assert "<blockquote>" not in render("```\n>>>\nx\n>>>\n```")


# Inline extensions


def test_inline_diff() -> None:
    assert render("{+ added +} [- removed -]") == (
        '<p><span class="idiff left right addition">added</span> '
        '<span class="idiff left right deletion">removed</span></p>'
    )


def test_color_chips() -> None:
    assert render("`#F00` `rgba(0,255,0,0.3)` `#nope`") == (
        '<p><code>#F00<span class="gfm-color_chip"><span style="background-color: #F00;">'
        '</span></span></code> <code>rgba(0,255,0,0.3)<span class="gfm-color_chip"><span '
        'style="background-color: rgba(0,255,0,0.3);"></span></span></code> '
        "<code>#nope</code></p>"
    )


def test_images_link_to_themselves_and_lazy_load() -> None:
    assert render("![alt *text*](/a.png)") == (
        '<p><a class="no-attachment-icon" href="/a.png" target="_blank" '
        'rel="noopener noreferrer"><img src="/a.png" alt="alt text" loading="lazy" '
        'decoding="async"></a></p>'
    )
    assert render("[![a](/a.png)](/b)") == (
        '<p><a href="/b"><img src="/a.png" alt="a" loading="lazy" decoding="async"></a></p>'
    )


def test_audio_and_video() -> None:
    html = render('![clip](/c.mp4 "My clip") ![song](/s.mp3)')
    assert '<span class="media-container video-container"><video src="/c.mp4"' in html
    assert '<a href="/c.mp4" target="_blank" rel="noopener noreferrer" ' in html
    assert "title=\"Download 'My clip'\">My clip</a>" in html
    assert '<span class="media-container audio-container"><audio src="/s.mp3"' in html


def test_footnotes() -> None:
    html = render("Text[^note].\n\n[^note]: The note.")
    assert '<sup class="footnote-ref"><a href="#fn-note-' in html
    assert '<section data-footnotes="" class="footnotes">' in html
    assert 'class="footnote-backref"><gl-emoji title="leftwards arrow with hook"' in html


def test_tables_strikethrough_and_autolinks() -> None:
    html = render("| a | b |\n|:--|--:|\n| ~~x~~ | www.example.com |")
    assert '<th align="left">a</th>' in html
    assert '<td align="right">' in html
    assert "<del>x</del>" in html
    assert '<a href="http://www.example.com"' in html


def test_email_with_underscore_is_linked_whole() -> None:
    assert render("first_last@example.com") == (
        '<p><a href="mailto:first_last@example.com">first_last@example.com</a></p>'
    )


def test_definition_lists() -> None:
    assert render("Term\n: Definition") == "<dl>\n<dt>Term</dt>\n<dd>Definition</dd>\n</dl>"


# Titles and plain text


def test_render_title() -> None:
    html = render_title("Fix `foo()` **now** <b>x</b> :tada: [link](/x)\nsecond line")
    assert html == (
        "Fix <code>foo()</code> <strong>now</strong> &lt;b&gt;x&lt;/b&gt; "
        '<gl-emoji title="party popper" data-name="tada">🎉</gl-emoji> [link](/x) second line'
    )


def test_plain_text_and_first_line() -> None:
    text = "# Title *here*\n\nSome **bold** text\nand more.\n\n```\ncode\n```"
    assert render_plain_text(text) == "Title here\nSome bold text\nand more.\ncode"
    assert first_line(text) == "Title here"
    assert first_line("x" * 300, limit=10) == "xxxxxxxxx…"
    assert first_line("") == ""


# Hostile sizes: each of these was quadratic in some rule before it was bounded.


@pytest.mark.parametrize(
    "text",
    [
        "http:" * 20_000,
        "mailto:" * 15_000,
        "x" * 100_000 + "https:" * 2_000,
        "{+ " * 30_000,
        "$` " * 30_000,
        "a@" * 50_000,
        "[" + "![a](b) " * 10_000 + "](c)",
    ],
    ids=["http", "mailto", "long-pending", "inline-diff", "dollar-math", "email", "images"],
)
def test_pathological_input_renders_in_bounded_time(text: str) -> None:
    # CPU time of this process, not wall time: other work on the machine must not fail it.
    started = time.process_time()
    render(text)
    assert time.process_time() - started < 5

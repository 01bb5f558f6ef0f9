"""A merge request's Changes tab: inline and side-by-side views of the same lines, syntax
highlighting with user content escaped, GitLab's notices (too large, binary, moved, mode
changed, collapsed and loaded on demand), the file browser and line anchors, the view choice
remembered, and 404 for those who may not read the project."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from typing import Any

import gitlab

from tests.web.test_issues import assert_inert, client_for, root

PY_BEFORE = "def greet(name):\n    return 'hello ' + name\n\n\nCOUNT = 1\n"
PY_AFTER = "def greet(name: str) -> str:\n    return f'hello {name}'\n\n\nCOUNT = 2\n"


def open_mr(
    gl: gitlab.Gitlab,
    name: str,
    actions: list[dict[str, Any]],
    *,
    files: dict[str, str] | None = None,
    visibility: str = "public",
) -> tuple[Any, Any, str]:
    """A project whose `main` holds `files`, and a merge request from `topic` = `actions`."""
    project = gl.projects.create({"name": name, "visibility": visibility})
    project.commits.create(
        {
            "branch": "main",
            "commit_message": "Base",
            "actions": [
                {"action": "create", "file_path": path, "content": content}
                for path, content in (files or {"app.py": PY_BEFORE}).items()
            ],
        }
    )
    project.commits.create(
        {
            "branch": "topic",
            "start_branch": "main",
            "commit_message": "Change things",
            "actions": actions,
        }
    )
    mr = project.mergerequests.create(
        {"source_branch": "topic", "target_branch": "main", "title": f"Change {name}"}
    )
    return project, mr, f"/{project.path_with_namespace}/-/merge_requests/{mr.iid}"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (GitLab's file hash)


def changed_lines(page: str) -> set[tuple[str, str, str]]:
    """(old or new, line code, the line's text) of every changed line of either view."""
    out = set()
    pattern = (
        r'<tr class="(old|new)" id="([0-9a-f]{40}_\d+_\d+)">.*?<td class="line">(.*?)</td></tr>'
        r'|<td class="num (old|new)" id="([0-9a-f]{40}_\d+_\d+)">.*?'
        r'<td class="line (?:old|new)">(.*?)</td>'
    )
    for m in re.finditer(pattern, page):
        kind, code, cell = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
        cell = re.sub(r'<a class="diff-comment"[^>]*>\+</a>', "", cell)
        out.add((kind, code, html.unescape(re.sub(r"<[^>]+>", "", cell))[1:]))
    return out


def test_inline_and_side_by_side_show_the_same_highlighted_lines(gl: gitlab.Gitlab) -> None:
    _, _, base = open_mr(
        gl,
        "Views",
        [
            {"action": "update", "file_path": "app.py", "content": PY_AFTER},
            {"action": "create", "file_path": "docs/guide/notes.txt", "content": "a\nb\n"},
        ],
    )
    owner = client_for(root())
    inline = owner.get(f"{base}/diffs?view=inline").content.decode()
    parallel = owner.get(f"{base}/diffs?view=parallel").content.decode()
    assert 'class="diff diff-inline highlight"' in inline
    assert 'class="diff diff-parallel highlight"' in parallel
    lines = changed_lines(inline)
    assert lines == changed_lines(parallel)
    app = sha1("app.py")
    assert ("old", f"{app}_1_0", "def greet(name):") in lines
    assert ("new", f"{app}_0_1", "def greet(name: str) -> str:") in lines
    assert ("new", f"{app}_0_5", "COUNT = 2") in lines
    assert ("new", f"{sha1('docs/guide/notes.txt')}_0_2", "b") in lines
    # Python is highlighted with Pygments' classes (pygments.css): keywords, names, strings.
    for page in (inline, parallel):
        assert '<span class="k">def</span>' in page
        assert '<span class="nf">greet</span>' in page
        assert '<span class="sa">f</span><span class="s1">\'hello </span>' in page
        assert '<link rel="stylesheet" href="/assets/kiln/pygments.css' in page
        assert "style=" not in page
    # Plain text is only escaped.
    assert '<span class="sign">+</span>b</td>' in inline
    # Linkable line numbers (GitLab's line codes), file anchors, the file browser.
    assert f'<tr class="context" id="{app}_2_2">' not in inline  # line 2 changed
    assert f'<a href="#{app}_0_1">1</a>' in inline
    assert f'<td class="num new" id="{app}_0_1"><a href="#{app}_0_1">1</a></td>' in parallel
    assert f'<section class="card diff-file" id="{app}"' in inline
    tree = re.search(r'<nav class="diff-tree card".*?</nav>', inline, re.S)
    assert tree is not None
    assert f'href="#{app}"' in tree[0]
    assert "docs/guide" in tree[0]  # a chain of single folders is one entry
    assert 'href="#' + sha1("docs/guide/notes.txt") + '"' in tree[0]
    # The toggle links to the other view; each view's comment links name their line.
    assert 'href="?view=parallel">Side-by-side</a>' in inline
    assert 'href="?view=inline">Inline</a>' in parallel
    assert 'aria-label="Comment on line 1 of app.py"' in parallel
    assert 'aria-label="Comment on old line 1 of app.py"' in parallel
    # A file link keeps the view: no `?line=` form when switching.
    assert (
        "line="
        not in re.search(r'<nav class="btn-group" aria-label="Diff view">.*?</nav>', inline, re.S)[
            0
        ]
    )  # type: ignore[index]


def test_user_content_is_escaped(gl: gitlab.Gitlab) -> None:
    evil = "<script>alert(1)</script> &amp; &lt;b&gt; \"quoted\" 'single'\n"
    _, _, base = open_mr(
        gl,
        "Escapes",
        [
            {"action": "update", "file_path": "page.html", "content": evil + "<p>x</p>\n"},
            {"action": "update", "file_path": "notes.txt", "content": evil},
            {"action": "update", "file_path": "app.py", "content": f"X = {evil!r}\n"},
            {"action": "create", "file_path": "odd <i>name</i>.txt", "content": evil},
        ],
        files={"page.html": "<p>x</p>\n", "notes.txt": "x\n", "app.py": "X = 1\n"},
    )
    for client in (client_for(root()), client_for()):
        for view in ("inline", "parallel"):
            page = client.get(f"{base}/diffs?view={view}").content.decode()
            assert_inert(page)
            assert "<script>alert(1)" not in page
            assert "<i>name</i>" not in page
            assert "odd &lt;i&gt;name&lt;/i&gt;.txt" in page
            # The text shows as written: entities in the file stay entities on screen.
            assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; &amp;lt;b&amp;gt;" in page
            lines = {text for _, _, text in changed_lines(page)}
            assert evil.rstrip("\n") in lines
            # HTML and Python are highlighted, their markup still escaped.
            assert '<span class="nt">&lt;script&gt;</span>' in page or (
                '<span class="p">&lt;</span><span class="nt">script</span>' in page
            )


def test_notices_for_files_shown_without_their_lines(gl: gitlab.Gitlab) -> None:
    big = "".join(f"line {i} of a file too large to show in a diff\n" for i in range(6000))
    binary = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary" * 10).decode()
    project, mr, base = open_mr(
        gl,
        "Notices",
        [
            {"action": "update", "file_path": "big.txt", "content": big},
            {"action": "create", "file_path": "logo.png", "content": binary, "encoding": "base64"},
            {"action": "move", "file_path": "docs/moved.md", "previous_path": "old.md"},
            {"action": "chmod", "file_path": "run.sh", "execute_filemode": True},
            {"action": "create", "file_path": "empty.txt", "content": ""},
        ],
        files={"big.txt": "small\n", "old.md": "# Title\n", "run.sh": "echo hi\n"},
    )
    page = client_for(root()).get(f"{base}/diffs").content.decode()
    head = project.mergerequests.get(mr.iid).diff_refs["head_sha"]
    card = {
        path: re.search(
            rf'<section class="card diff-file" id="{sha1(path)}".*?</section>', page, re.S
        )[0]  # type: ignore[index]
        for path in ("big.txt", "logo.png", "docs/moved.md", "run.sh", "empty.txt")
    }
    assert "File changed." in card["big.txt"]
    assert "File size exceeds preview limit." in card["big.txt"]
    assert "View original file" in card["big.txt"]
    assert "View changed file" in card["big.txt"]
    assert "<table" not in card["big.txt"]
    assert "File added." in card["logo.png"]
    assert "No diff preview for this file type." in card["logo.png"]
    assert (
        f'href="/{project.path_with_namespace}/-/blob/{head}/logo.png">View file'
        in card["logo.png"]
    )
    assert "old.md \u2192 docs/moved.md" in card["docs/moved.md"]
    assert "File moved." in card["docs/moved.md"]
    assert "File mode changed from 100644 to 100755." in card["run.sh"]
    assert "100644 \u2192 100755" in card["run.sh"]
    assert "File added." in card["empty.txt"]
    assert 'class="badge badge-ok">added' in card["empty.txt"]


def test_a_large_file_is_collapsed_and_loaded_on_demand(gl: gitlab.Gitlab) -> None:
    content = "".join(f"value_{i} = {i}  # a line long enough to add up\n" for i in range(800))
    _, _, base = open_mr(
        gl,
        "Collapsed",
        [
            {"action": "update", "file_path": "data.py", "content": content},
            {"action": "update", "file_path": "app.py", "content": PY_AFTER},
        ],
        files={"data.py": "value = 0\n", "app.py": PY_BEFORE},
    )
    owner = client_for(root())
    page = owner.get(f"{base}/diffs").content.decode()
    assert "Preview size limit exceeded, changes collapsed." in page
    assert "value_799" not in page
    assert '<span class="nf">greet</span>' in page  # the small file is shown
    load = re.search(r'hx-get="([^"]+/diff_for_path\?[^"]+)"', page)
    assert load is not None
    url = html.unescape(load[1])
    fragment = owner.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    assert fragment.startswith('<div class="diff-wrap" id="diff-body-')
    assert '<span class="n">value_799</span>' in fragment
    assert 'aria-label="Comment on line 800 of data.py"' in fragment
    whole = owner.get(url).content.decode()  # without JavaScript: a page with that file
    assert "<html" in whole
    assert "value_799" in whole
    assert "Show every file of this merge request" in whole
    assert "greet" not in whole
    assert owner.get(url.replace("data.py", "nope.py")).status_code == 404
    # A line named by `?line=` opens its file even when it would be collapsed.
    code = f"{sha1('data.py')}_0_800"
    opened = owner.get(f"{base}/diffs?line={code}").content.decode()
    assert 'name="new_line" value="800"' in opened
    assert "value_799" in opened


def test_the_view_choice_is_remembered(gl: gitlab.Gitlab, make_user: Any) -> None:
    _, _, base = open_mr(
        gl, "Remember", [{"action": "update", "file_path": "app.py", "content": PY_AFTER}]
    )
    user, _ = make_user("viewer")
    viewer = client_for(user)
    assert "diff-inline" in viewer.get(f"{base}/diffs").content.decode()
    chosen = viewer.get(f"{base}/diffs?view=parallel")
    assert chosen.cookies["diff_view"].value == "parallel"
    user.refresh_from_db()
    assert user.diff_view == "parallel"  # the user's preference, as on the preferences page
    fresh = client_for(user)  # another browser: no cookie, same preference
    assert "diff-parallel" in fresh.get(f"{base}/diffs").content.decode()
    anonymous = client_for()
    anonymous.cookies["diff_view"] = "parallel"
    assert "diff-parallel" in anonymous.get(f"{base}/diffs").content.decode()
    assert "diff-inline" in anonymous.get(f"{base}/diffs?view=inline").content.decode()


def test_private_changes_are_404_to_outsiders(gl: gitlab.Gitlab, make_user: Any) -> None:
    _, _, base = open_mr(
        gl,
        "Hidden",
        [{"action": "update", "file_path": "app.py", "content": PY_AFTER}],
        visibility="private",
    )
    assert "greet" in client_for(root()).get(f"{base}/diffs").content.decode()
    outsider, _ = make_user("outsider")
    for client in (client_for(), client_for(outsider)):
        for path in (
            "/diffs",
            "/diffs?view=parallel",
            "/diff_for_path?old_path=app.py&new_path=app.py",
        ):
            response = client.get(base + path)
            assert response.status_code == 404, path
            assert "greet" not in response.content.decode()


def test_commit_page_uses_the_same_highlighted_views(gl: gitlab.Gitlab) -> None:
    project, mr, _ = open_mr(
        gl, "Commit view", [{"action": "update", "file_path": "app.py", "content": PY_AFTER}]
    )
    head = project.mergerequests.get(mr.iid).diff_refs["head_sha"]
    url = f"/{project.path_with_namespace}/-/commit/{head}"
    app = sha1("app.py")
    for view in ("inline", "parallel"):
        page = client_for().get(f"{url}?view={view}").content.decode()
        assert f'class="diff diff-{view} highlight"' in page
        assert '<span class="nf">greet</span>' in page
        assert f'<a href="#{app}_0_1">1</a>' in page
        assert f'<section class="card diff-file" id="{app}"' in page
        assert "diff-comment" not in page  # no line comments on a commit yet
        assert "style=" not in page

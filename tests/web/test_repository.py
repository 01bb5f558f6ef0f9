"""The repository browser's pages against the live server: tree, file, raw, blame, history,
commit, compare, branches, tags, archives; who may see them; hostile names rendered inert."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import gitlab
import pytest
import requests

from tests.web.conftest import ROOT_PASSWORD

PY_FILE = "".join(f"def f{i}(x):\n    return x + {i}  # <b>{i}</b>\n" for i in range(60))
README = "# Hello Kiln\n\nSee [the docs](docs/guide.md).\n\n<script>alert(1)</script>\n"


def session_for(server_url: str, username: str, password: str) -> requests.Session:
    """A browser-like session signed in through the real form."""
    session = requests.Session()
    page = session.get(f"{server_url}/users/sign_in", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    response = session.post(
        f"{server_url}/users/sign_in",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token[1]},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]
    return session


def csrf(session: requests.Session, server_url: str, path: str) -> str:
    page = session.get(f"{server_url}{path}", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    return token[1]


def make_project(
    gl: gitlab.Gitlab, name: str, files: dict[str, str], *, visibility: str = "public", **attrs: Any
) -> Any:
    project = gl.projects.create({"name": name, "visibility": visibility, **attrs})
    project.commits.create(
        {
            "branch": "main",
            "commit_message": "Initial import",
            "actions": [
                {"action": "create", "file_path": path, "content": content}
                for path, content in files.items()
            ],
        }
    )
    return project


def get(url: str, session: requests.Session | None = None, **kwargs: Any) -> requests.Response:
    return (session or requests).get(url, timeout=30, **kwargs)  # type: ignore[attr-defined]


def test_tree_file_blame_history_and_raw(gl: gitlab.Gitlab, server_url: str) -> None:
    project = make_project(
        gl,
        "Browse",
        {
            "README.md": README,
            "app.py": PY_FILE,
            "docs/guide.md": "# Guide\n\nText.\n",
            "logo.png": "not really a png",
        },
    )
    project.commits.create(
        {
            "branch": "main",
            "commit_message": "Change the app\n\nWith a body.",
            "actions": [
                {"action": "update", "file_path": "app.py", "content": PY_FILE + "# end\n"}
            ],
        }
    )
    base = f"{server_url}/root/browse"

    home = get(base)
    assert home.status_code == 200
    assert "<h1>Hello Kiln</h1>" in home.text or "Hello Kiln</h1>" in home.text
    assert "<script>alert(1)</script>" not in home.text  # README sanitized
    assert f"{server_url}/root/browse.git" in home.text  # HTTP clone URL
    assert "ssh://git@127.0.0.1:" in home.text or "git@127.0.0.1:" in home.text
    assert 'href="/root/browse/-/tree/main/docs"' in home.text
    assert "Change the app" in home.text  # last commit (inline: a small directory)
    languages = re.search(r'hx-get="(/root/browse/-/languages)"', home.text)
    assert languages is not None  # computed after the page, then cached
    bar = get(f"{server_url}{languages[1]}", headers={"HX-Request": "true"})
    assert "Python" in bar.text
    assert "<html" not in bar.text
    assert 'class="language-bar"' in get(base).text

    tree = get(f"{base}/-/tree/main/docs")
    assert tree.status_code == 200
    assert 'href="/root/browse/-/blob/main/docs/guide.md"' in tree.text
    assert "Initial import" in tree.text
    assert get(f"{base}/-/tree/main/nope").status_code == 404
    # A file named in a tree URL goes to its blob page, and a directory in a blob URL back.
    assert get(f"{base}/-/tree/main/app.py", allow_redirects=False).headers["Location"] == (
        "/root/browse/-/blob/main/app.py"
    )
    assert get(f"{base}/-/blob/main/docs", allow_redirects=False).status_code == 302

    blob = get(f"{base}/-/blob/main/app.py")
    assert blob.status_code == 200
    assert 'id="L120"' in blob.text
    assert 'id="LC121"' in blob.text
    assert 'class="k"' in blob.text  # highlighted by Pygments
    assert "&lt;b&gt;0&lt;/b&gt;" in blob.text  # code escaped
    assert "<b>0</b>" not in blob.text

    md = get(f"{base}/-/blob/main/README.md")
    assert "Hello Kiln</h1>" in md.text
    assert 'href="http' in md.text
    assert "/root/browse/-/blob/main/docs/guide.md" in md.text
    plain = get(f"{base}/-/blob/main/README.md?plain=1")
    assert 'id="LC1"' in plain.text
    assert "&lt;script&gt;" in plain.text

    raw = get(f"{base}/-/raw/main/app.py")
    assert raw.text == PY_FILE + "# end\n"
    assert raw.headers["Content-Type"].startswith("text/plain")
    assert raw.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in raw.headers["Content-Security-Policy"]

    blame = get(f"{base}/-/blame/main/app.py")
    assert blame.status_code == 200
    assert "Change the app" in blame.text
    assert "Initial import" in blame.text

    history = get(f"{base}/-/commits/main/app.py")
    assert "Change the app" in history.text
    assert "Initial import" in history.text
    only_docs = get(f"{base}/-/commits/main/docs")
    assert "Initial import" in only_docs.text
    assert "Change the app" not in only_docs.text


def test_commit_diff_views_compare_branches_tags_archive(
    gl: gitlab.Gitlab, server_url: str
) -> None:
    project = make_project(gl, "Diffs", {"a.txt": "one\ntwo\nthree\n", "big.txt": "x\n"})
    project.branches.create({"branch": "feature/new-thing", "ref": "main"})
    commit = project.commits.create(
        {
            "branch": "feature/new-thing",
            "commit_message": "Rework a.txt",
            "actions": [
                {"action": "update", "file_path": "a.txt", "content": "one\nTWO\nthree\nfour\n"},
                {
                    "action": "update",
                    "file_path": "big.txt",
                    "content": "".join(f"line {i} of a rather big file\n" for i in range(900)),
                },
            ],
        }
    )
    project.tags.create({"tag_name": "v1.0", "ref": "main", "message": "First release"})
    base = f"{server_url}/root/diffs"

    inline = get(f"{base}/-/commit/{commit.id}")
    assert inline.status_code == 200
    assert "diff-inline" in inline.text
    assert "Rework a.txt" in inline.text
    assert ">TWO</td>" in inline.text
    # big.txt (a patch of more than 20 KB) is collapsed, loaded on demand.
    assert "Preview size limit exceeded, changes collapsed." in inline.text
    load = re.search(r'hx-get="([^"]+diff_for_path[^"]+)"', inline.text)
    assert load is not None
    url = load[1].replace("&amp;", "&")
    fragment = get(f"{server_url}{url}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "line 699" in fragment.text
    whole = get(f"{server_url}{url}")  # without JavaScript: a page with that file
    assert "<html" in whole.text
    assert "line 699" in whole.text

    parallel = get(f"{base}/-/commit/{commit.id}?view=parallel")
    assert "diff-parallel" in parallel.text
    assert parallel.cookies.get("diff_view") == "parallel"
    remembered = get(f"{base}/-/commit/{commit.id}", cookies={"diff_view": "parallel"})
    assert "diff-parallel" in remembered.text
    assert get(f"{base}/-/commit/{'0' * 40}").status_code == 404
    assert get(f"{base}/-/commit/zzzz").status_code == 404

    compare = get(f"{base}/-/compare/main...feature/new-thing")
    assert compare.status_code == 200
    assert "Rework a.txt" in compare.text
    assert ">TWO</td>" in compare.text
    form = get(f"{base}/-/compare?from=main&to=feature/new-thing", allow_redirects=False)
    assert form.headers["Location"] == "/root/diffs/-/compare/main...feature/new-thing"
    assert get(f"{base}/-/compare/main...nope").status_code == 404

    branches = get(f"{base}/-/branches")
    assert "feature/new-thing" in branches.text
    assert "0 behind" in branches.text
    assert "1 ahead" in branches.text
    assert "protected" in branches.text  # the default branch

    tags = get(f"{base}/-/tags")
    assert "v1.0" in tags.text
    assert "First release" in tags.text

    archive = get(f"{base}/-/archive/feature/new-thing/diffs-feature-new-thing.zip")
    assert archive.status_code == 200
    assert archive.headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert any(name.endswith("/a.txt") for name in names)
    tgz = get(f"{base}/-/archive/v1.0/diffs-v1.0.tar.gz")
    assert tgz.status_code == 200
    assert tgz.content[:2] == b"\x1f\x8b"
    assert get(f"{base}/-/archive/main/diffs-main.exe").status_code == 404

    # Refs with slashes: the longest existing branch name wins.
    tree = get(f"{base}/-/tree/feature/new-thing")
    assert tree.status_code == 200
    assert "Rework a.txt" in tree.text
    assert get(f"{base}/-/blob/feature/new-thing/a.txt").text.count("TWO") >= 1


def test_private_code_is_404_to_outsiders_and_guests(
    gl: gitlab.Gitlab, server_url: str, make_user: Any
) -> None:
    project = make_project(gl, "Hidden", {"secret.txt": "s3cret\n"}, visibility="private")
    guest, _ = make_user("guest1")
    reporter, _ = make_user("reporter1")
    make_user("outsider1")
    project.members.create({"user_id": guest.pk, "access_level": 10})
    project.members.create({"user_id": reporter.pk, "access_level": 20})
    sha = project.commits.list(get_all=False)[0].id
    base = f"{server_url}/root/hidden"
    pages = [
        "/-/tree/main",
        "/-/blob/main/secret.txt",
        "/-/raw/main/secret.txt",
        "/-/blame/main/secret.txt",
        "/-/commits/main",
        f"/-/commit/{sha}",
        "/-/branches",
        "/-/tags",
        "/-/compare/main...main",
        "/-/archive/main/hidden-main.zip",
        "/-/refs/main/logs_tree/",
    ]
    anonymous = requests.Session()
    outsider = session_for(server_url, "outsider1", "password-123")
    guest_session = session_for(server_url, "guest1", "password-123")
    reporter_session = session_for(server_url, "reporter1", "password-123")
    for path in pages:
        for who, session in (
            ("anonymous", anonymous),
            ("outsider", outsider),
            ("guest", guest_session),
        ):
            response = get(base + path, session)
            assert response.status_code == 404, (who, path)
            assert "s3cret" not in response.text
    assert get(base, anonymous).status_code == 404
    assert get(base, outsider).status_code == 404
    guest_home = get(base, guest_session)
    assert guest_home.status_code == 200  # a Guest sees the project, not its code
    assert "secret.txt" not in guest_home.text
    for path in pages:
        assert get(base + path, reporter_session).status_code == 200, path
    # Reporters read code but may not write it: the editor is not theirs.
    assert get(f"{base}/-/edit/main/secret.txt", reporter_session).status_code == 404
    assert get(f"{base}/-/new/main/", reporter_session).status_code == 404


def test_hostile_names_are_inert(gl: gitlab.Gitlab, server_url: str) -> None:
    html_file = "<html><script>alert('raw')</script></html>\n"
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
    )
    xss_file = '"><img src=x onerror=alert(1)>.txt'
    project = make_project(
        gl,
        "Hostile",
        {
            "page.html": html_file,
            "pic.svg": svg,
            xss_file: "payload\n",
            "-rf.txt": "dash\n",
        },
    )
    xss_branch = "<img-src=x-onerror=alert(1)>"
    project.branches.create({"branch": xss_branch, "ref": "main"})
    base = f"{server_url}/root/hostile"

    tree = get(f"{base}/-/tree/main")
    assert "<img src=x onerror=alert(1)>" not in tree.text
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.txt" in tree.text
    assert "-rf.txt" in tree.text
    assert get(f"{base}/-/blob/main/-rf.txt").status_code == 200
    assert get(f"{base}/-/raw/main/-rf.txt").text == "dash\n"
    xss_blob = get(f"{base}/-/blob/main/" + requests.utils.quote(xss_file, safe=""))
    assert xss_blob.status_code == 200
    assert "<img src=x" not in xss_blob.text

    branch_tree = get(f"{base}/-/tree/" + requests.utils.quote(xss_branch, safe=""))
    assert branch_tree.status_code == 200
    assert xss_branch not in branch_tree.text
    assert "&lt;img-src=x-onerror=alert(1)&gt;" in branch_tree.text
    branches = get(f"{base}/-/branches")
    assert xss_branch not in branches.text

    for path in ("/-/blob/main/../README.md", "/-/tree/main/../..", "/-/raw/main/a/../../x"):
        response = get(base + path)
        assert response.status_code == 404, path
        assert "Traceback" not in response.text
    assert get(f"{base}/-/tree/--output=x").status_code == 404
    assert get(f"{base}/-/commits/main..HEAD").status_code == 404

    raw_html = get(f"{base}/-/raw/main/page.html")
    assert raw_html.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert raw_html.headers["X-Content-Type-Options"] == "nosniff"
    assert raw_html.headers["Content-Security-Policy"].startswith("sandbox")
    raw_svg = get(f"{base}/-/raw/main/pic.svg")
    assert raw_svg.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in raw_svg.headers["Content-Security-Policy"]
    # The file view shows the HTML as code, never as markup.
    shown = get(f"{base}/-/blob/main/page.html")
    assert "<script>alert('raw')</script>" not in shown.text


def test_branch_delete_follows_the_services_rules(
    gl: gitlab.Gitlab, server_url: str, make_user: Any
) -> None:
    project = make_project(gl, "Pruning", {"a.txt": "a\n"})
    developer, _ = make_user("dev1")
    reporter, _ = make_user("rep1")
    project.members.create({"user_id": developer.pk, "access_level": 30})
    project.members.create({"user_id": reporter.pk, "access_level": 20})
    project.branches.create({"branch": "old/topic", "ref": "main"})
    project.branches.create({"branch": "kept", "ref": "main"})
    project.protectedbranches.create({"name": "kept"})
    base = f"{server_url}/root/pruning"

    def delete(session: requests.Session, name: str) -> requests.Response:
        token = csrf(session, server_url, "/root/pruning/-/branches")
        return session.post(
            f"{base}/-/branches/{name}",
            data={"_method": "delete", "csrfmiddlewaretoken": token},
            timeout=10,
        )

    reporter_session = session_for(server_url, "rep1", "password-123")
    page = delete(reporter_session, "old/topic")
    assert page.status_code == 200
    assert "not allowed" in page.text
    assert any(b.name == "old/topic" for b in project.branches.list(get_all=True))

    dev_session = session_for(server_url, "dev1", "password-123")
    refused = delete(dev_session, "kept")
    assert "kept" in {b.name for b in project.branches.list(get_all=True)}
    assert 'role="status"' in refused.text
    done = delete(dev_session, "old/topic")
    assert "was deleted" in done.text
    assert "old/topic" not in {b.name for b in project.branches.list(get_all=True)}
    # Without the CSRF token nothing happens.
    bare = dev_session.post(f"{base}/-/branches/kept", data={"_method": "delete"}, timeout=10)
    assert bare.status_code == 403


def test_star_and_empty_repository(gl: gitlab.Gitlab, server_url: str, make_user: Any) -> None:
    project = gl.projects.create({"name": "Blank", "visibility": "public"})
    session = session_for(server_url, "root", ROOT_PASSWORD)
    home = get(f"{server_url}/root/blank", session)
    assert "The repository for this project is empty" in home.text
    assert f"git clone {server_url}/root/blank.git" in home.text
    assert "git push --set-upstream origin main" in home.text
    assert get(f"{server_url}/root/blank/-/tree/main", allow_redirects=False).status_code == 302

    token = csrf(session, server_url, "/root/blank")
    starred = session.post(
        f"{server_url}/root/blank/-/toggle_star", data={"csrfmiddlewaretoken": token}, timeout=10
    )
    assert starred.status_code == 200
    assert "Unstar" in starred.text
    assert gl.projects.get(project.id).star_count == 1
    session.post(
        f"{server_url}/root/blank/-/toggle_star", data={"csrfmiddlewaretoken": token}, timeout=10
    )
    assert gl.projects.get(project.id).star_count == 0
    anonymous = requests.post(f"{server_url}/root/blank/-/toggle_star", timeout=10)
    assert anonymous.status_code == 403  # no CSRF token, no session


@pytest.mark.slow
def test_large_directory_loads_last_commits_lazily(gl: gitlab.Gitlab, server_url: str) -> None:
    files = {f"many/file{i:04}.txt": f"{i}\n" for i in range(1200)}
    make_project(gl, "Wide", files)
    base = f"{server_url}/root/wide"
    page = get(f"{base}/-/tree/main/many")
    assert page.status_code == 200
    assert page.text.count("<tr>") >= 1000
    assert "file0999.txt" in page.text
    assert "file1000.txt" not in page.text  # the next page
    assert "More entries" in page.text
    lazy = re.search(r'hx-get="([^"]+logs_tree[^"]*)"', page.text)
    assert lazy is not None
    rows = get(f"{server_url}{lazy[1].replace('&amp;', '&')}", headers={"HX-Request": "true"})
    assert rows.status_code == 200
    assert rows.text.count("Initial import") >= 1000
    again = get(f"{base}/-/tree/main/many")  # cached now: inline
    assert "hx-get" not in again.text.split('id="tree-table"')[1][:200]
    assert again.text.count("Initial import") >= 1000
    second = get(f"{base}/-/tree/main/many?offset=1000")
    assert "file1199.txt" in second.text
    assert "file0000.txt" not in second.text

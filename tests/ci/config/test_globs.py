"""Glob matching for changes:/exists: with Ruby fnmatch (PATHNAME | DOTMATCH | EXTGLOB)."""

from __future__ import annotations

import time

import pytest

from kiln.ci.config.globs import (
    CHANGES_MAX_COMPARISONS,
    any_path_matches,
    exists_checker,
    expand_braces,
    fnmatch,
)


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("README.md", "README.md", True),
        ("README.md", "docs/README.md", False),
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),  # * does not cross /
        ("*.md", ".hidden.md", True),  # DOTMATCH
        ("docs/*", "docs/a.md", True),
        ("docs/*", "docs/sub/a.md", False),
        ("docs/**/*", "docs/a.md", True),  # **/ matches zero directories
        ("docs/**/*", "docs/sub/deep/a.md", True),
        ("**/*.py", "app.py", True),
        ("**/*.py", "src/pkg/app.py", True),
        ("**/*.py", ".venv/lib/x.py", True),
        ("configs/**.yml", "configs/a.yml", True),
        ("configs/**.yml", "configs/sub/a.yml", False),  # ** not before / is just *
        ("src/?.c", "src/a.c", True),
        ("src/?.c", "src/ab.c", False),
        ("src/[abc].c", "src/b.c", True),
        ("src/[!abc].c", "src/d.c", True),
        ("src/[!abc].c", "src/a.c", False),
        ("src/[a-c].c", "src/c.c", True),
        ("{app,lib}/**/*.rb", "lib/x/y.rb", True),
        ("{app,lib}/**/*.rb", "spec/x.rb", False),
        ("*.{js,ts}", "main.ts", True),
        ("file\\*.txt", "file*.txt", True),
        ("file\\*.txt", "fileX.txt", False),
        ("a+b(c).txt", "a+b(c).txt", True),  # regex metacharacters are literal
        ("Dockerfile", "Dockerfile", True),
    ],
)
def test_fnmatch(glob: str, path: str, expected: bool) -> None:
    assert fnmatch(glob, path) is expected


def test_brace_expansion() -> None:
    assert sorted(expand_braces("{a,b}/{c,d}")) == ["a/c", "a/d", "b/c", "b/d"]
    assert expand_braces("{unbalanced") == ["{unbalanced"]
    # A brace bomb expands to too many alternatives and is matched literally instead.
    bomb = "{a,b}" * 20
    assert expand_braces(bomb) == [bomb]


def test_hostile_glob_is_fast() -> None:
    started = time.monotonic()
    assert not fnmatch("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 5000)
    assert time.monotonic() - started < 1


def test_comparison_limit_assumes_match() -> None:
    globs = ["nothing-matches"] * 10
    paths = [f"f{i}" for i in range(CHANGES_MAX_COMPARISONS // 10 + 1)]
    assert any_path_matches(globs, paths)
    assert not any_path_matches(globs, paths[:10])


def test_exists_checker() -> None:
    exists = exists_checker(["Dockerfile", "src/app.py", "docs/index.md"])
    assert exists("Dockerfile")
    assert not exists("Gemfile")
    assert exists("**/*.py")
    assert not exists("*.py")
    assert exists("docs/*.md")

"""Archives: what `artifacts:paths`/`exclude` collect, and extraction that refuses hostile zips.

Each hostile archive is built in the test; each must be refused (or, for a link that stays
inside, extracted) with nothing written outside the target directory.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from kiln.runner.artifacts import (
    ArchiveTooLarge,
    ExtractLimits,
    UnsafeArchive,
    collect,
    extract_zip,
    write_zip,
)
from kiln.runner.cache import files_key, safe_key


@pytest.fixture
def build(tmp_path: Path) -> Path:
    root = tmp_path / "build"
    for name, content in {
        "out/app.bin": "binary",
        "out/app.o": "object",
        "out/sub/deep.txt": "deep",
        "out/sub/skip.o": "object",
        "logs/a.log": "a",
        "logs/b.txt": "b",
        "docs/x.md": "x",
        "README.md": "readme",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (tmp_path / "outside.txt").write_text("outside")
    os.symlink("app.bin", root / "out/inner-link")
    os.symlink(tmp_path / "outside.txt", root / "out/abs-link")
    os.symlink("../../outside.txt", root / "out/rel-escape")
    os.symlink(tmp_path, root / "escape-dir")
    os.mkfifo(root / "out/fifo")
    return root


def _paths(entries: list) -> set[str]:  # type: ignore[type-arg]
    return {e.path for e in entries}


def test_directory_paths_bring_their_tree_and_exclude_removes(build: Path) -> None:
    warnings: list[str] = []
    entries = collect(
        build, paths=["out/"], exclude=["out/**/*.o", "out/*.o"], warn=warnings.append
    )
    assert _paths(entries) == {
        "out",
        "out/app.bin",
        "out/sub",
        "out/sub/deep.txt",
        "out/inner-link",
    }
    assert any("abs-link" in w and "outside" in w for w in warnings)
    assert any("rel-escape" in w for w in warnings)
    assert any("fifo" in w for w in warnings)


def test_globs_with_doublestar_braces_and_classes(build: Path) -> None:
    assert _paths(collect(build, paths=["**/*.txt"])) >= {"logs/b.txt", "out/sub/deep.txt"}
    assert "logs/a.log" not in _paths(collect(build, paths=["**/*.txt"]))
    assert _paths(collect(build, paths=["{logs,docs}/*"])) == {
        "logs",
        "docs",
        "logs/a.log",
        "logs/b.txt",
        "docs/x.md",
    }
    assert _paths(collect(build, paths=["logs/[ab].log"])) == {"logs", "logs/a.log"}
    assert _paths(collect(build, paths=["*.md"])) == {"README.md"}


def test_paths_outside_the_build_are_skipped(build: Path) -> None:
    warnings: list[str] = []
    entries = collect(
        build,
        paths=["../outside.txt", "/etc/passwd", "escape-dir/outside.txt", "escape-dir/"],
        warn=warnings.append,
    )
    assert _paths(entries) == set()
    assert len(warnings) == 4


def test_untracked_files_are_added(build: Path) -> None:
    entries = collect(build, paths=[], untracked=["docs/x.md", "../outside.txt", "out/abs-link"])
    assert _paths(entries) == {"docs", "docs/x.md"}


def test_zip_round_trip_keeps_modes_links_and_layout(build: Path, tmp_path: Path) -> None:
    os.chmod(build / "out/app.bin", 0o755)  # noqa: S103 - an executable in the archive
    archive = tmp_path / "a.zip"
    write_zip(build, collect(build, paths=["out/"], exclude=["**/*.o"]), archive, max_size=10**6)
    target = tmp_path / "target"
    target.mkdir()
    written = extract_zip(archive, target)
    assert "out/app.bin" in written
    assert (target / "out/sub/deep.txt").read_text() == "deep"
    assert stat.S_IMODE(os.stat(target / "out/app.bin").st_mode) == 0o755
    assert os.readlink(target / "out/inner-link") == "app.bin"
    assert not (target / "out/abs-link").exists()


def test_writing_more_than_the_limit_is_refused(build: Path, tmp_path: Path) -> None:
    (build / "big.bin").write_bytes(os.urandom(5000))
    with pytest.raises(ArchiveTooLarge):
        write_zip(build, collect(build, paths=["big.bin"]), tmp_path / "a.zip", max_size=1000)


# -- hostile archives ------------------------------------------------------------------------


def _zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    """(name, data, unix mode with type bits) per entry."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buffer.getvalue()


FILE = stat.S_IFREG | 0o644
LINK = stat.S_IFLNK | 0o777


def _extract_refused(tmp_path: Path, data: bytes, **limits: int) -> str:
    sandbox = tmp_path / "sandbox"
    target = sandbox / "target"
    target.mkdir(parents=True)
    archive = tmp_path / "hostile.zip"

    def outside_target() -> list[Path]:
        return sorted(
            p.relative_to(tmp_path)
            for p in tmp_path.rglob("*")
            if p != archive and target not in (p, *p.parents)
        )

    before = outside_target()
    archive.write_bytes(data)
    with pytest.raises(UnsafeArchive) as refused:
        extract_zip(archive, target, limits=ExtractLimits(**limits))
    assert outside_target() == before  # nothing written outside the target
    return str(refused.value)


def test_dot_dot_entries_are_refused(tmp_path: Path) -> None:
    message = _extract_refused(
        tmp_path, _zip([("ok.txt", b"ok", FILE), ("../evil.txt", b"x", FILE)])
    )
    assert "leaves the target" in message
    assert not (tmp_path / "sandbox" / "target" / "ok.txt").exists()  # refused before writing
    assert not (tmp_path / "sandbox" / "evil.txt").exists()


def test_nested_dot_dot_is_refused(tmp_path: Path) -> None:
    assert "leaves the target" in _extract_refused(
        tmp_path, _zip([("a/b/../../../evil.txt", b"x", FILE)])
    )


def test_absolute_and_windows_paths_are_refused(tmp_path: Path) -> None:
    assert "absolute" in _extract_refused(tmp_path, _zip([("/tmp/evil.txt", b"x", FILE)]))
    assert "absolute" in _extract_refused(tmp_path / "w", _zip([("C:/evil.txt", b"x", FILE)]))
    assert "backslash" in _extract_refused(tmp_path / "b", _zip([("..\\evil.txt", b"x", FILE)]))


def test_symlinks_pointing_outside_are_refused(tmp_path: Path) -> None:
    assert "absolute" in _extract_refused(tmp_path / "a", _zip([("link", b"/etc", LINK)]))
    assert "leaves the target" in _extract_refused(
        tmp_path / "b", _zip([("sub/link", b"../../..", LINK)])
    )


def test_writing_through_a_link_already_in_the_target_is_refused(tmp_path: Path) -> None:
    # A repository may contain `out -> /somewhere`; an artifact `out/file` must not follow it.
    outside = tmp_path / "outside"
    outside.mkdir()
    sandbox = tmp_path / "sandbox"
    target = sandbox / "target"
    target.mkdir(parents=True)
    os.symlink(outside, target / "out")
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip([("out/planted.txt", b"gotcha", FILE)]))
    with pytest.raises(UnsafeArchive, match="goes through a link"):
        extract_zip(archive, target)
    assert list(outside.iterdir()) == []


def test_a_file_over_an_existing_link_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "victim.txt"
    outside.write_text("precious")
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(outside, target / "name.txt")
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip([("name.txt", b"new", FILE)]))
    extract_zip(archive, target)
    assert outside.read_text() == "precious"
    assert not (target / "name.txt").is_symlink()
    assert (target / "name.txt").read_text() == "new"


def test_links_that_stay_inside_are_extracted(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    archive = tmp_path / "a.zip"
    archive.write_bytes(
        _zip(
            [("dir/file.txt", b"data", FILE), ("dir/link", b"file.txt", LINK), ("up", b"dir", LINK)]
        )
    )
    extract_zip(archive, target)
    assert (target / "dir/link").read_text() == "data"
    assert (target / "up/file.txt").read_text() == "data"


def test_zip_bomb_by_ratio_is_refused(tmp_path: Path) -> None:
    bomb = _zip([("zeros.bin", b"\x00" * (20 * 1024 * 1024), FILE)])
    assert len(bomb) < 100_000
    assert "zip bomb" in _extract_refused(tmp_path, bomb)


def test_zip_bomb_by_total_size_and_entry_count_is_refused(tmp_path: Path) -> None:
    many = _zip([(f"f{i}.bin", os.urandom(1000), FILE) for i in range(20)])
    assert "expands to more than" in _extract_refused(tmp_path / "a", many, max_size=10_000)
    assert "entries" in _extract_refused(tmp_path / "b", many, max_entries=10)


def test_special_files_are_refused(tmp_path: Path) -> None:
    fifo = _zip([("pipe", b"", stat.S_IFIFO | 0o644)])
    assert "FIFO" in _extract_refused(tmp_path, fifo)


def test_setuid_bits_are_dropped(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip([("tool", b"#!/bin/sh\n", stat.S_IFREG | 0o4755)]))
    extract_zip(archive, target)
    assert stat.S_IMODE(os.stat(target / "tool").st_mode) == 0o755


def test_cache_keys_cannot_name_other_files(tmp_path: Path) -> None:
    assert safe_key("../../etc/passwd") == "..%2F..%2Fetc%2Fpasswd"
    assert safe_key("..") == "%2E%2E"
    assert safe_key("") == "default"
    assert safe_key("main-protected") == "main-protected"
    (tmp_path / "Gemfile.lock").write_text("gems")
    key = files_key(tmp_path, ["Gemfile.lock", "../outside"], prefix="ruby")
    assert key.startswith("ruby-")
    assert len(key) == len("ruby-") + 64
    assert files_key(tmp_path, ["missing"]) == "default"

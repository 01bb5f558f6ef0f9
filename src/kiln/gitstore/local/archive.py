"""Archives (streamed from `git archive`) and the language breakdown of a tree.

An archive is checked and resolved when asked for and then streamed chunk by chunk, so a
multi-gigabyte download holds 64 KiB at a time and a client that goes away stops git.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pygit2

from kiln.gitstore.errors import GitCommandError, InvalidArgument, PathNotFound
from kiln.gitstore.local.cli import pump, stop
from kiln.gitstore.local.core import LocalCore
from kiln.gitstore.local.linguist import is_vendored, language_for
from kiln.gitstore.paths import validate_repo_path
from kiln.gitstore.types import ArchiveFormat, LanguageShare

__all__ = ["ArchiveOps"]

# One record of `git ls-tree -r -l -z`: "<mode> <type> <id> <padded size>\t<path>".
_LS_TREE_RE = re.compile(rb"(\d+) (\w+) ([0-9a-f]{40}) +(\d+|-)\t(.*)", re.DOTALL)


def _shares(sizes: dict[str, int]) -> tuple[LanguageShare, ...]:
    """Percentages with two decimals that add up to exactly 100 (largest remainder)."""
    total = sum(sizes.values())
    if total == 0:
        return ()
    ordered = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))
    hundredths = [size * 10000 // total for _, size in ordered]
    remainders = sorted(range(len(ordered)), key=lambda i: -(ordered[i][1] * 10000 % total))
    for i in remainders[: 10000 - sum(hundredths)]:
        hundredths[i] += 1
    return tuple(
        LanguageShare(name=name, bytes=size, percentage=share / 100)
        for (name, size), share in zip(ordered, hundredths, strict=True)
    )


class ArchiveOps(LocalCore):
    def archive(
        self,
        *,
        relative_path: str,
        revision: str,
        format: ArchiveFormat,
        prefix: str = "",
        path: str | None = None,
    ) -> Iterator[bytes]:
        try:
            archive_format = ArchiveFormat(format)
        except ValueError:
            raise InvalidArgument("Unknown archive format.") from None
        args = ["archive"]
        if archive_format in (ArchiveFormat.TAR, ArchiveFormat.TAR_BZ2):
            args.append("--format=tar")
        else:
            args.append(f"--format={archive_format.value}")
        if prefix:
            args.append(f"--prefix={validate_repo_path(prefix.rstrip('/'))}/")
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            commit = self._commit(repo, revision)
            args += ["--end-of-options", str(commit.id)]
            if path:
                try:
                    commit.tree[validate_repo_path(path)]
                except KeyError:
                    raise PathNotFound("Path not found.") from None
                # git archive reads "--" as a path: paths follow --end-of-options instead.
                args.append(path)
        if archive_format is ArchiveFormat.TAR_BZ2:
            return self._stream_bzip2(git_dir, args)
        return self.git.stream(git_dir, args)

    def _stream_bzip2(self, git_dir: Path, args: list[str]) -> Iterator[bytes]:
        bzip2 = shutil.which("bzip2", path=self.git.env["PATH"])
        if bzip2 is None:
            raise GitCommandError("bzip2 is not installed")
        with tempfile.TemporaryFile() as errors:
            git = self.git.popen(git_dir, args, stderr=errors)
            try:
                compressor = subprocess.Popen(
                    [bzip2, "-c"],
                    stdin=git.stdout,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=self.git.env,
                )
            except OSError:
                stop(git)
                raise
            # Only bzip2 holds the read end now: if it dies, git gets SIGPIPE, not a hang.
            assert git.stdout is not None
            git.stdout.close()
            yield from pump(compressor, [git, compressor], errors, args)

    def languages(
        self, *, relative_path: str, revision: str | None = None
    ) -> tuple[LanguageShare, ...]:
        git_dir = self._git_dir(relative_path)
        sizes: dict[str, int] = defaultdict(int)
        with self._open(relative_path) as repo:
            commit = self._default_commit(repo, revision)
            if commit is None:
                return ()
            listing = self.git.run(
                git_dir, ["ls-tree", "-r", "-l", "-z", "--end-of-options", str(commit.id)]
            ).stdout
            for record in listing.split(b"\0"):
                match = _LS_TREE_RE.fullmatch(record)
                if match is None or match.group(2) != b"blob" or match.group(1) == b"120000":
                    continue
                file_path = match.group(5).decode("utf-8", "replace")
                language = language_for(file_path)
                if language is None or is_vendored(file_path):
                    continue
                blob = repo.get(match.group(3).decode())
                # Reading each counted blob once is the price of not counting binaries
                # that carry a source extension; callers cache the result per commit.
                if not isinstance(blob, pygit2.Blob) or blob.is_binary:
                    continue
                sizes[language] += int(match.group(4))
        return _shares(sizes)

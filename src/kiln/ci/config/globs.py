"""Path globs as GitLab matches them for `changes:` and `exists:`.

GitLab calls Ruby's `File.fnmatch?(glob, path, FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB)`:

* `*` and `?` never cross a `/`; `*` also matches names starting with a dot (DOTMATCH);
* `**/` matches zero or more whole directories; `**` elsewhere is just `*`, so
  `configs/**.yml` does not reach into subdirectories (GitLab documents this);
* `[abc]`, `[a-z]`, `[!x]`/`[^x]` are character classes; `\\x` escapes;
* `{a,b}` alternatives (EXTGLOB), expanded before matching.

Globs are translated into RE2 patterns (so a hostile glob cannot backtrack) and cached.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

from kiln.ci.config.regex import CompiledRegex, UntrustedRegexError, compile_untrusted

MAX_BRACE_EXPANSIONS = 256
MAX_GLOB_LENGTH = 2048
# GitLab stops comparing and assumes a match past these numbers of comparisons.
CHANGES_MAX_COMPARISONS = 50_000
EXISTS_MAX_COMPARISONS = 10_000


def expand_braces(glob: str) -> list[str]:
    """Expand `{a,b}` alternatives (nested allowed); unbalanced braces stay literal."""
    results = [glob]
    expanded: list[str] = []
    while results:
        current = results.pop()
        start = _find_brace(current)
        if start is None:
            expanded.append(current)
        else:
            end, options = start
            prefix, suffix = current[: end[0]], current[end[1] + 1 :]
            results.extend(prefix + option + suffix for option in reversed(options))
        if len(expanded) + len(results) > MAX_BRACE_EXPANSIONS:
            return [glob]
    return expanded


def _find_brace(glob: str) -> tuple[tuple[int, int], list[str]] | None:
    """The first top-level `{...,...}` group: ((open, close), alternatives)."""
    index = 0
    while index < len(glob):
        char = glob[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth, parts, last = 0, [], index + 1
            for position in range(index, len(glob)):
                c = glob[position]
                if c == "\\":
                    continue
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        parts.append(glob[last:position])
                        return (index, position), parts
                elif c == "," and depth == 1:
                    parts.append(glob[last:position])
                    last = position + 1
            return None
        index += 1
    return None


def _translate(glob: str) -> str:
    out: list[str] = []
    index, length = 0, len(glob)
    while index < length:
        char = glob[index]
        if char == "*":
            if glob.startswith("**/", index) and (index == 0 or glob[index - 1] == "/"):
                out.append("(?:[^/]*/)*")
                index += 3
                continue
            while index < length and glob[index] == "*":
                index += 1
            out.append("[^/]*")
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", index + 2)
            if end == -1:
                out.append(r"\[")
            else:
                body = glob[index + 1 : end]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\").replace("]", "\\]")
                out.append(f"[{'^/' if negate else ''}{body}]")
                index = end
        elif char == "\\" and index + 1 < length:
            index += 1
            out.append(_escape(glob[index]))
        else:
            out.append(_escape(char))
        index += 1
    return "".join(out)


def _escape(char: str) -> str:
    return "\\" + char if not char.isalnum() and char != "_" else char


@functools.lru_cache(maxsize=1024)
def _compiled(glob: str) -> tuple[CompiledRegex, ...]:
    patterns = []
    for alternative in expand_braces(glob):
        try:
            patterns.append(compile_untrusted(f"\\A(?:{_translate(alternative)})\\z"))
        except UntrustedRegexError:
            continue
    return tuple(patterns)


def fnmatch(glob: str, path: str) -> bool:
    """Ruby's File.fnmatch? with FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB."""
    if len(glob) > MAX_GLOB_LENGTH:
        return False
    return any(pattern.search(path) is not None for pattern in _compiled(glob))


def any_path_matches(
    globs: Sequence[str], paths: Sequence[str], *, max_comparisons: int = CHANGES_MAX_COMPARISONS
) -> bool:
    """Whether any path matches any glob; true past the comparison limit (GitLab's choice:
    a huge change set is more likely to touch the files than not)."""
    if len(globs) * len(paths) > max_comparisons:
        return True
    return any(fnmatch(glob, path) for path in paths for glob in globs)


def exists_checker(paths: Iterable[str]) -> Callable[[str], bool]:
    """Build a `ConfigContext.exists` callable from the list of a commit's file paths."""
    all_paths = sorted(paths)
    path_set = frozenset(all_paths)

    def exists(glob: str) -> bool:
        if not any(c in glob for c in "*?[{"):
            return glob in path_set
        for comparisons, path in enumerate(all_paths, start=1):
            if comparisons > EXISTS_MAX_COMPARISONS or fnmatch(glob, path):
                return True
        return False

    return exists

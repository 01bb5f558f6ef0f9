"""Which programming language a file is in, judged by its name, for repository statistics.

A small table in the spirit of GitHub's linguist (whose names GitLab shows): only
programming and markup languages count; data and prose (JSON, YAML, Markdown, text) do not,
nor do vendored, minified or documentation paths. Ambiguous extensions take the most common
reading (``.h`` is C, ``.m`` is Objective-C).
"""

from __future__ import annotations

import re

__all__ = ["is_vendored", "language_for"]

_BY_EXTENSION = {
    "c": "C",
    "h": "C",
    "cc": "C++",
    "cpp": "C++",
    "cxx": "C++",
    "hh": "C++",
    "hpp": "C++",
    "hxx": "C++",
    "cs": "C#",
    "fs": "F#",
    "go": "Go",
    "rs": "Rust",
    "java": "Java",
    "kt": "Kotlin",
    "kts": "Kotlin",
    "scala": "Scala",
    "groovy": "Groovy",
    "gradle": "Groovy",
    "clj": "Clojure",
    "cljs": "Clojure",
    "py": "Python",
    "pyi": "Python",
    "pyx": "Cython",
    "rb": "Ruby",
    "rake": "Ruby",
    "erb": "HTML+ERB",
    "haml": "Haml",
    "php": "PHP",
    "pl": "Perl",
    "pm": "Perl",
    "lua": "Lua",
    "r": "R",
    "jl": "Julia",
    "ex": "Elixir",
    "exs": "Elixir",
    "erl": "Erlang",
    "hrl": "Erlang",
    "hs": "Haskell",
    "ml": "OCaml",
    "mli": "OCaml",
    "elm": "Elm",
    "dart": "Dart",
    "swift": "Swift",
    "m": "Objective-C",
    "mm": "Objective-C++",
    "zig": "Zig",
    "nim": "Nim",
    "v": "V",
    "d": "D",
    "js": "JavaScript",
    "mjs": "JavaScript",
    "cjs": "JavaScript",
    "jsx": "JavaScript",
    "ts": "TypeScript",
    "mts": "TypeScript",
    "cts": "TypeScript",
    "tsx": "TSX",
    "coffee": "CoffeeScript",
    "vue": "Vue",
    "svelte": "Svelte",
    "html": "HTML",
    "htm": "HTML",
    "css": "CSS",
    "scss": "SCSS",
    "sass": "Sass",
    "less": "Less",
    "sh": "Shell",
    "bash": "Shell",
    "zsh": "Shell",
    "fish": "fish",
    "ps1": "PowerShell",
    "psm1": "PowerShell",
    "bat": "Batchfile",
    "cmd": "Batchfile",
    "mk": "Makefile",
    "cmake": "CMake",
    "tf": "HCL",
    "hcl": "HCL",
    "nix": "Nix",
    "vim": "Vim Script",
    "el": "Emacs Lisp",
    "lisp": "Common Lisp",
    "scm": "Scheme",
    "rkt": "Racket",
    "f90": "Fortran",
    "f": "Fortran",
    "asm": "Assembly",
    "s": "Assembly",
    "sol": "Solidity",
    "tex": "TeX",
    "proto": "Protocol Buffer",
    "graphql": "GraphQL",
    "jinja": "Jinja",
    "j2": "Jinja",
}

_BY_NAME = {
    "makefile": "Makefile",
    "gnumakefile": "Makefile",
    "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile",
    "rakefile": "Ruby",
    "gemfile": "Ruby",
    "cmakelists.txt": "CMake",
    "jenkinsfile": "Groovy",
    "justfile": "Just",
}

# Paths linguist treats as vendored, generated or documentation (a representative subset).
_VENDORED_RE = re.compile(
    r"(?:^|/)(?:vendor|vendors|node_modules|bower_components|third[_-]party|Godeps|dist"
    r"|docs?|Documentation|__pycache__)/"
    r"|(?:\.|-)min\.(?:js|css)$"
    r"|_pb2\.py$|\.pb\.go$",
    re.IGNORECASE,
)


def is_vendored(path: str) -> bool:
    return _VENDORED_RE.search(path) is not None


def language_for(path: str) -> str | None:
    """The language of the file at ``path``, or None when it is not counted."""
    name = path.rsplit("/", 1)[-1].lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith("dockerfile."):
        return "Dockerfile"
    _, dot, extension = name.rpartition(".")
    if not dot:
        return None
    return _BY_EXTENSION.get(extension)

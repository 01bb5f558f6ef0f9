"""Safe YAML loading for CI configuration, and GitLab's `!reference` tag.

`.gitlab-ci.yml` comes from anyone who can push, so loading it must be bounded: the text
size is capped, and so is the size of the document once YAML aliases are expanded (a
"billion laughs" file is a few hundred bytes that alias its way to billions of nodes). The
expanded size is computed on the node graph before any Python object is built, and
recursive aliases are refused, so nothing downstream ever sees a cycle or a shared object.

Loading also follows GitLab's Psych settings where they matter: YAML 1.1 booleans, a
`spec:` header document before `---`, at most two documents, string keys. Dates are kept as
strings (GitLab refuses them; keeping them is the lenient choice and changes no valid file).

`!reference [job, key, ...]` is parsed into a `Reference` and resolved later, after
includes and `extends:` were merged, exactly where GitLab resolves it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from kiln.ci.config.errors import (
    INVALID_FORMAT,
    YAML_TOO_BIG,
    ReferenceResolutionError,
    YamlLoadError,
)

MAX_DOCUMENTS = 2
REFERENCE_TAG = "!reference"


@dataclass(frozen=True)
class Reference:
    """An unresolved `!reference` tag. `path` is None when the tag was not a sequence of
    strings, which GitLab reports only when it tries to resolve it."""

    path: tuple[str, ...] | None
    raw: Any

    def describe(self) -> str:
        # GitLab prints the sequence with Ruby's Array#inspect; json.dumps of a list of
        # strings has the same shape: ["job", "key"].
        shown = list(self.path) if self.path is not None else self.raw
        return f"{REFERENCE_TAG} {json.dumps(shown, ensure_ascii=False)}"


class _CiLoader(yaml.SafeLoader):
    """SafeLoader with GitLab's custom tag, string keys and no timestamp parsing."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        # Keys become strings while the mapping is built: left to Python, `1:` and `true:`
        # would be the same dict key (1 == True) and one value would silently vanish.
        self.flatten_mapping(node)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found unhashable key",
                    key_node.start_mark,
                )
            mapping[_key(key)] = self.construct_object(value_node, deep=deep)
        return mapping


def _construct_reference(loader: _CiLoader, node: yaml.Node) -> Reference:
    if isinstance(node, yaml.SequenceNode):
        items = loader.construct_sequence(node, deep=True)
        if items and all(isinstance(item, str) for item in items):
            return Reference(tuple(items), items)
        return Reference(None, items)
    if isinstance(node, yaml.MappingNode):
        return Reference(None, loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.ScalarNode):
        return Reference(None, loader.construct_scalar(node))
    return Reference(None, None)  # pragma: no cover - YAML has no fourth node kind


_CiLoader.add_constructor(REFERENCE_TAG, _construct_reference)
# Drop the timestamp resolver: the constructor then treats dates as plain strings.
_CiLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class LoadedDocument:
    """A loaded CI file: the optional `spec:` header and the configuration itself."""

    header: dict[str, Any] | None
    content: Any


def _check_node_budget(root: yaml.Node, *, max_nodes: int, max_depth: int) -> None:
    """Refuse documents whose alias-expanded size or depth exceeds the limits.

    Sizes are memoized per node, so a node aliased a million times is measured once and
    the check itself stays linear in the size of the text.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    in_progress: set[int] = set()

    def measure(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            return sizes[key], depths[key]
        if key in in_progress:
            raise YamlLoadError("(<unknown>): recursive YAML aliases are not allowed")
        in_progress.add(key)
        size, depth = 1, 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                children.extend((k, v))
        for child in children:
            child_size, child_depth = measure(child)
            size += child_size
            depth = max(depth, child_depth + 1)
            if size > max_nodes or depth > max_depth:
                raise YamlLoadError(YAML_TOO_BIG)
        in_progress.discard(key)
        sizes[key], depths[key] = size, depth
        return size, depth

    measure(root)


def _syntax_error(exc: yaml.YAMLError) -> YamlLoadError:
    # Psych's wording: "(<unknown>): <problem> <context> at line L column C".
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.problem, exc.context) if p]
        text = " ".join(parts) or "invalid YAML"
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            text += f" at line {mark.line + 1} column {mark.column + 1}"
        return YamlLoadError(f"(<unknown>): {text}")
    return YamlLoadError(f"(<unknown>): {exc}")


def _plain(value: Any) -> Any:
    """Copy the constructed data into fresh containers with string keys.

    Aliased structures become independent copies (bounded by the node budget), so later
    merging can never change two places at once.
    """
    if isinstance(value, dict):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Reference):
        return Reference(value.path, _plain(value.raw))
    return value


def _key(key: Any) -> str:
    # Psych symbolizes keys; YAML 1.1 turns `on:`/`true:` into booleans. GitLab then sees
    # "true"; Kiln does the same rather than crash on a non-string job name.
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return ""
    return str(key)


def _documents(text: str, *, max_nodes: int, max_depth: int) -> Iterator[Any]:
    loader = _CiLoader(text)
    try:
        count = 0
        while loader.check_node():
            node = loader.get_node()
            count += 1
            if count > MAX_DOCUMENTS:
                raise YamlLoadError(YAML_TOO_BIG)
            if node is None:
                yield None
                continue
            _check_node_budget(node, max_nodes=max_nodes, max_depth=max_depth)
            yield _plain(loader.construct_document(node))
    except yaml.YAMLError as exc:
        raise _syntax_error(exc) from exc
    except RecursionError as exc:  # pragma: no cover - the depth check runs first
        raise YamlLoadError(YAML_TOO_BIG) from exc
    finally:
        loader.dispose()


def load_yaml(
    text: str,
    *,
    max_bytes: int = 1024 * 1024,
    max_nodes: int = 200_000,
    max_depth: int = 100,
) -> LoadedDocument:
    """Parse CI configuration text. Raises YamlLoadError with a GitLab-style message.

    Empty content is returned as `LoadedDocument(None, None)`; callers decide whether that
    is an error (it is for the top-level file, and for an included one).
    """
    if len(text.encode("utf-8", errors="replace")) > max_bytes:
        raise YamlLoadError(YAML_TOO_BIG)
    docs = list(_documents(text, max_nodes=max_nodes, max_depth=max_depth))
    if len(docs) == 2:
        header, content = docs
        if not (isinstance(header, dict) and "spec" in header):
            # GitLab only accepts a second document after a `spec:` header.
            raise YamlLoadError(INVALID_FORMAT)
        return LoadedDocument(header, content)
    return LoadedDocument(None, docs[0] if docs else None)


def _dig(config: Any, path: tuple[str, ...]) -> Any:
    node = config
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def resolve_references(config: dict[str, Any]) -> dict[str, Any]:
    """Replace every `!reference` with the value it points to, as GitLab's Tags::Resolver.

    A reference may point at a value that itself contains references; those are resolved
    first. Cycles and dangling references raise ReferenceResolutionError with GitLab's text.
    """
    resolved: dict[tuple[str, ...], Any] = {}
    resolving: set[tuple[str, ...]] = set()

    def resolve_ref(ref: Reference) -> Any:
        if ref.path is None:
            raise ReferenceResolutionError(f"{ref.describe()} is not valid")
        if ref.path in resolved:
            return resolved[ref.path]
        if ref.path in resolving:
            raise ReferenceResolutionError(f"{ref.describe()} is part of a circular chain")
        resolving.add(ref.path)
        target = _dig(config, ref.path)
        value = walk(target) if target is not None else None
        resolving.discard(ref.path)
        # GitLab raises unless the value is truthy in Ruby: nil and false are missing.
        if value is None or value is False:
            raise ReferenceResolutionError(f"{ref.describe()} could not be found")
        resolved[ref.path] = value
        return value

    def walk(node: Any) -> Any:
        if isinstance(node, Reference):
            return _plain(resolve_ref(node))
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result = walk(config)
    if not isinstance(result, dict):  # pragma: no cover - walk keeps the container type
        raise TypeError("a configuration is a mapping")
    return result


def to_json_compatible(value: Any) -> Any:
    """The data as the JSON schema sees it: a `!reference` is the sequence of its path."""
    if isinstance(value, Reference):
        return list(value.path) if value.path is not None else value.raw
    if isinstance(value, dict):
        return {k: to_json_compatible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_compatible(v) for v in value]
    return value

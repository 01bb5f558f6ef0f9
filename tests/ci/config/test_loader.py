"""YAML loading: safety caps, GitLab's !reference tag, header documents, error texts."""

from __future__ import annotations

import time

import pytest

from kiln.ci.config.errors import ReferenceResolutionError, YamlLoadError
from kiln.ci.config.loader import Reference, load_yaml, resolve_references

from .helpers import errors, plan


def billion_laughs(levels: int = 9, fanout: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * fanout)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\njob: {script: x}\n"


def test_billion_laughs_is_refused_quickly() -> None:
    text = billion_laughs()
    assert len(text) < 2000  # a tiny file that expands to 9**9 nodes
    started = time.monotonic()
    with pytest.raises(YamlLoadError) as caught:
        load_yaml(text)
    assert caught.value.messages == ("The parsed YAML is too big",)
    assert time.monotonic() - started < 1


def test_billion_laughs_through_the_processor() -> None:
    assert errors(billion_laughs()) == ("The parsed YAML is too big",)


def test_moderate_aliases_are_fine() -> None:
    document = load_yaml("a: &a [1, 2]\nb: *a\nc: *a\n")
    assert document.content == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}
    # Aliased values are independent copies: changing one does not change the others.
    document.content["b"].append(3)
    assert document.content["a"] == [1, 2]


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(YamlLoadError, match="recursive YAML aliases"):
        load_yaml("a: &a [*a]\n")


def test_text_size_cap() -> None:
    with pytest.raises(YamlLoadError, match="too big"):
        load_yaml("a: " + "x" * 2000, max_bytes=1000)


def test_depth_cap() -> None:
    deep = "a: " + "[" * 150 + "]" * 150
    with pytest.raises(YamlLoadError, match="too big"):
        load_yaml(deep)


def test_node_cap() -> None:
    many = "a: [" + ", ".join(["1"] * 5000) + "]"
    assert load_yaml(many, max_nodes=10_000).content["a"][0] == 1
    with pytest.raises(YamlLoadError, match="too big"):
        load_yaml(many, max_nodes=1000)


def test_syntax_error_has_psych_shape() -> None:
    with pytest.raises(YamlLoadError) as caught:
        load_yaml("job:\n  script: [\n")
    message = caught.value.messages[0]
    assert message.startswith("(<unknown>): ")
    assert "line " in message
    assert "column " in message


def test_empty_text() -> None:
    assert load_yaml("").content is None
    assert load_yaml("# only a comment\n").content is None


def test_header_document() -> None:
    document = load_yaml("spec:\n  inputs:\n    a: {default: x}\n---\njob: {script: x}\n")
    assert document.header == {"spec": {"inputs": {"a": {"default": "x"}}}}
    assert document.content == {"job": {"script": "x"}}


def test_two_documents_without_header_are_invalid() -> None:
    with pytest.raises(YamlLoadError, match="Invalid configuration format"):
        load_yaml("a: 1\n---\nb: 2\n")


def test_three_documents_are_refused() -> None:
    with pytest.raises(YamlLoadError):
        load_yaml("spec: {}\n---\na: 1\n---\nb: 2\n")


def test_dates_stay_strings_and_keys_become_strings() -> None:
    content = load_yaml("d: 2024-01-02\n1: one\ntrue: yes\n").content
    assert content == {"d": "2024-01-02", "1": "one", "true": True}


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(YamlLoadError):
        load_yaml("a: !!python/object/apply:os.system ['true']\n")


def test_reference_tag_is_parsed() -> None:
    content = load_yaml("a: !reference [.setup, script]\nb: !reference oops\n").content
    assert content["a"] == Reference((".setup", "script"), [".setup", "script"])
    assert content["b"].path is None


def test_references_resolve_nested_and_chained() -> None:
    config = {
        ".a": {"script": ["one", "two"], "vars": {"X": "1"}},
        ".b": {"script": [Reference((".a", "script"), None), "three"]},
        "job": {
            "script": Reference((".b", "script"), None),
            "v": Reference((".a", "vars", "X"), None),
        },
    }
    resolved = resolve_references(config)
    assert resolved["job"]["script"] == [["one", "two"], "three"]
    assert resolved["job"]["v"] == "1"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"job": {"script": Reference((".missing", "script"), None)}},
            '!reference [".missing", "script"] could not be found',
        ),
        (
            {".a": {"x": 1}, "job": {"script": Reference((".a", "x", "deeper"), None)}},
            '!reference [".a", "x", "deeper"] could not be found',
        ),
        (
            {
                ".a": {"x": Reference((".b", "x"), None)},
                ".b": {"x": Reference((".a", "x"), None)},
                "job": {"script": Reference((".a", "x"), None)},
            },
            "is part of a circular chain",
        ),
        ({"job": {"script": Reference(None, "oops")}}, '!reference "oops" is not valid'),
    ],
)
def test_reference_errors(config: dict[str, object], message: str) -> None:
    with pytest.raises(ReferenceResolutionError, match=message.replace("[", r"\[")):
        resolve_references(config)


def test_reference_sees_extends_result() -> None:
    # GitLab resolves !reference after extends: the referenced hidden job has the script it
    # inherited.
    result = plan(
        """
        .base:
          script: [echo base]
        .child:
          extends: .base
        job:
          script: !reference [.child, script]
        """
    )
    assert result.job("job").script == ("echo base",)


def test_reference_to_missing_job_through_processor() -> None:
    assert errors("job:\n  script: !reference [.nope, script]\n") == (
        '!reference [".nope", "script"] could not be found',
    )

"""extends: multi-level, multiple parents, deep merge, nesting limit, cycles."""

from __future__ import annotations

import pytest

from kiln.ci.config import Variable
from kiln.ci.config.errors import ExtendsError
from kiln.ci.config.extends import MAX_NESTING_LEVELS, resolve_extends

from .helpers import errors, plan


def test_multi_level_and_multiple_parents() -> None:
    result = plan(
        """
        .base:
          stage: build
          image: alpine
          variables: {A: base, B: base}
          script: [base]
          tags: [docker]
        .middle:
          extends: .base
          variables: {B: middle, C: middle}
        .other:
          variables: {C: other}
          tags: [linux]
          retry: 2
        job:
          extends: [.middle, .other]
          variables: {D: job}
        """
    )
    job = result.job("job")
    assert job.stage == "build"
    assert job.image == {"name": "alpine"}
    assert job.script == ("base",)
    assert job.tags == ("linux",)  # later parent wins, arrays replaced
    assert job.retry is not None
    assert job.retry.max == 2
    assert dict(job.variables) == {
        "A": Variable("base"),
        "B": Variable("middle"),
        "C": Variable("other"),
        "D": Variable("job"),
    }


def test_job_keys_override_and_hashes_merge_deeply() -> None:
    config = resolve_extends(
        {
            ".a": {"artifacts": {"paths": ["a"], "when": "always"}, "script": ["a", "b"]},
            "job": {"extends": ".a", "artifacts": {"paths": ["j"]}, "script": ["j"]},
        }
    )
    assert config["job"]["artifacts"] == {"paths": ["j"], "when": "always"}
    assert config["job"]["script"] == ["j"]
    assert config[".a"]["script"] == ["a", "b"]  # the base is not changed


def test_extending_a_visible_job() -> None:
    result = plan("build: {script: [make], stage: build}\nbuild-debug: {extends: build}\n")
    assert result.job("build-debug").script == ("make",)
    assert result.job("build-debug").stage == "build"


def _chain(length: int) -> dict[str, object]:
    config: dict[str, object] = {f".e{i}": {"extends": f".e{i + 1}"} for i in range(length)}
    config[f".e{length}"] = {"script": ["x"]}
    config["job"] = {"extends": ".e0"}
    return config


def test_nesting_limit_matches_gitlab() -> None:
    # job -> .e0 -> ... -> .e10: eleven levels of extends are accepted...
    resolved = resolve_extends(_chain(MAX_NESTING_LEVELS))
    assert resolved["job"]["script"] == ["x"]
    # ...one more is too deep (GitLab: more than 10 ancestors).
    with pytest.raises(ExtendsError, match=r"^\.e10: nesting too deep in `extends`$"):
        resolve_extends(_chain(MAX_NESTING_LEVELS + 1))


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("job: {extends: .missing, script: x}", "job: unknown keys in `extends` (.missing)"),
        ("job: {extends: [.a, .b], script: x}\n.a: {}\n", "job: unknown keys in `extends` (.b)"),
        (
            "job: {extends: .list, script: x}\n.list: [1, 2]\n",
            "job: invalid base hashes in `extends` (.list)",
        ),
        (
            ".a: {extends: .b}\n.b: {extends: .a}\njob: {extends: .a, script: x}\n",
            ".a: circular dependency detected in `extends`",
        ),
        ("job: {extends: job, script: x}", "job: circular dependency detected in `extends`"),
        ("job: {extends: {a: 1}, script: x}", "unknown keys in `extends`"),
    ],
)
def test_extends_errors(yaml_text: str, message: str) -> None:
    assert message in errors(yaml_text)[0]


def test_extends_of_wrong_type_is_reported() -> None:
    found = errors("job: {extends: 5, script: x}\n'5': {script: y}\n")
    assert found == ("jobs:job extends should be an array of strings or a string",)

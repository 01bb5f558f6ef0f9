"""Validation against GitLab's CI JSON schema, with GitLab-worded messages."""

from __future__ import annotations

import pytest

from kiln.ci.config import BUNDLED_SCHEMA, load_ci_schema

from .helpers import SHARED_SCHEMA, errors, plan


def test_bundled_schema_is_a_copy_of_the_reference() -> None:
    assert BUNDLED_SCHEMA.read_bytes() == SHARED_SCHEMA.read_bytes()
    assert load_ci_schema() is load_ci_schema(BUNDLED_SCHEMA)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("build: {script: x, foo: 1, bar: 2}", "jobs:build config contains unknown keys: foo, bar"),
        ("job: {script: x, artifacts: 5}", "jobs:job:artifacts config should be a hash"),
        (
            "job: {script: x, when: sometimes}",
            "jobs:job when should be one of: on_success, on_failure, always, manual, delayed",
        ),
        ("job: {script: x, needs: [{job: 5}]}", "jobs:job:needs:need job should be a string"),
        (
            "job: {script: x, needs: [{job: a, nope: 1}]}",
            "jobs:job:needs:need config contains unknown keys: nope",
        ),
        ("job: {script: x, retry: 3}", "jobs:job:retry config must be less than or equal to 2"),
        (
            "job: {script: x, parallel: 201}",
            "jobs:job:parallel config must be less than or equal to 200",
        ),
        ("job: {script: x, tags: docker}", "jobs:job:tags config should be an array of strings"),
        (
            "job: {script: x, interruptible: maybe}",
            "jobs:job:interruptible config should be a boolean value",
        ),
        (
            "job: {script: x, image: {name: a, pull: 1}}",
            "jobs:job:image config contains unknown keys: pull",
        ),
        ("stages: build\njob: {script: x}", "stages config should be an array of strings"),
        (
            "job: {script: x, rules: [{if: $A, when: later}]}",
            "jobs:job:rules:rule when unknown value: later",
        ),
        (
            "job: {script: 5}",
            "jobs:job:script config should be a string or a nested array of strings up to 10 "
            "levels deep",
        ),
    ],
)
def test_messages_are_gitlabs(yaml_text: str, message: str) -> None:
    assert errors(yaml_text)[0] == message


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"job": {"script": "x", "foo": 1}}, "jobs:job config contains unknown keys: foo"),
        ({"job": {"script": "x", "artifacts": 5}}, "jobs:job:artifacts config should be a hash"),
        (
            {"job": {"script": "x", "cache": 5}},
            "jobs:job:cache config should be a hash or an array",
        ),
        ({"job": {"script": "x", "extends": 5}}, "jobs:job extends should be a string or an array"),
        (
            {"job": {"script": "x", "needs": [{"job": 5}]}},
            "jobs:job:needs:need job should be a string",
        ),
        (
            {"job": {"script": "x", "when": "sometimes"}},
            "jobs:job when should be one of: "
            "on_success, on_failure, always, never, manual, delayed",
        ),
        (
            {"job": {"script": "x", "services": [{"name": "a", "pull": 1}]}},
            "jobs:job:services:service config contains unknown keys: pull",
        ),
        ({"job": {"script": "x", "when": "delayed"}}, "jobs:job start in should be a duration"),
        ({"workflow": {"name": ""}, "job": {"script": "x"}}, "workflow name can't be blank"),
        ({"Job": {"script": "x", "Foo": 1}}, "jobs:job config contains unknown keys: foo"),
    ],
)
def test_schema_error_mapping(config: dict[str, object], message: str) -> None:
    # The schema alone, without Kiln's keyword checks in front of it.
    assert load_ci_schema(SHARED_SCHEMA).errors(config)[0] == message


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        # Kiln keeps these sub-keys as written; the schema knows their shapes.
        (
            "job: {script: x, image: {name: a, entrypoint: notalist}}",
            "jobs:job:image entrypoint should be an array",
        ),
        (
            "job: {script: x, artifacts: {reports: {junit: 5}}}",
            "jobs:job:artifacts:reports:junit config should be a string or an array",
        ),
        (
            "job: {script: x, environment: {name: a, kubernetes: 5}}",
            "jobs:job:environment:kubernetes config should be a hash",
        ),
    ],
)
def test_schema_catches_what_keyword_checks_do_not(yaml_text: str, message: str) -> None:
    assert errors(yaml_text) == (message,)


def test_errors_come_in_file_order_and_deduplicated() -> None:
    found = errors("a: {script: x, foo: 1}\nb: {script: x, bar: 1}\n")
    assert found == (
        "jobs:a config contains unknown keys: foo",
        "jobs:b config contains unknown keys: bar",
    )


def test_relaxations_for_what_gitlab_accepts() -> None:
    result = plan(
        """
        spec:
          script: echo a job called spec, as GitLab reads it
        deploy:
          type: deploy
          script: x
          artifacts:
            public: false
            reports:
              api_fuzzing: gl-api-fuzzing-report.json
              cluster_image_scanning: report.json
        test:
          script:
            - [nested, [deeper]]
          rules:
            - [{if: $CI_COMMIT_BRANCH}]
        """
    )
    assert result.job_names == ("spec", "test", "deploy")
    assert result.job("deploy").stage == "deploy"
    assert result.job("test").script == ("nested", "deeper")
    artifacts = result.job("deploy").artifacts
    assert artifacts is not None
    assert artifacts.public is False
    assert artifacts.reports["api_fuzzing"] == "gl-api-fuzzing-report.json"


def test_hidden_jobs_are_not_validated_as_jobs() -> None:
    result = plan(".anything: {whatever: [1, 2], nested: {x: y}}\njob: {script: x}\n")
    assert result.job_names == ("job",)

"""Job keywords: validation messages and the normalized values in the plan."""

from __future__ import annotations

import pytest

from kiln.ci.config import (
    Artifacts,
    CacheEntry,
    Environment,
    Retry,
    Trigger,
)

from .helpers import errors, plan


def test_stages_default_and_edges() -> None:
    result = plan("job: {script: x}\n")
    assert result.stages == (".pre", "build", "test", "deploy", ".post")
    assert result.job("job").stage == "test"
    custom = plan("stages: [.post, lint, .pre, lint, ship]\njob: {script: x, stage: ship}\n")
    assert custom.stages == (".pre", "lint", "ship", ".post")
    assert custom.job("job").stage_index == 2


def test_unknown_stage() -> None:
    assert errors("job: {script: x, stage: nope}\n") == (
        "job job: chosen stage nope does not exist; available stages are .pre, build, test, "
        "deploy, .post",
    )


def test_image_and_services_are_normalized_to_hashes() -> None:
    job = plan(
        """
        job:
          script: x
          image: {name: ruby:3, entrypoint: [""]}
          services:
            - postgres:16
            - name: redis:7
              alias: cache
              command: [redis-server]
        """
    ).job("job")
    assert job.image == {"name": "ruby:3", "entrypoint": [""]}
    assert job.services == (
        {"name": "postgres:16"},
        {"name": "redis:7", "alias": "cache", "command": ["redis-server"]},
    )


def test_scripts_are_flattened_lists_of_strings() -> None:
    job = plan(
        """
        .common: {script: [one, two]}
        job:
          before_script: setup
          script:
            - !reference [.common, script]
            - three
          after_script: [[cleanup]]
        """
    ).job("job")
    assert job.before_script == ("setup",)
    assert job.script == ("one", "two", "three")
    assert job.after_script == ("cleanup",)


def test_artifacts() -> None:
    job = plan(
        """
        job:
          script: x
          artifacts:
            name: $CI_JOB_NAME
            paths: [dist/, build/*.whl]
            exclude: [dist/tmp/]
            expire_in: never
            when: always
            untracked: true
            expose_as: Wheels
            reports:
              junit: [report.xml]
              dotenv: build.env
              coverage_report: {coverage_format: cobertura, path: cov.xml}
        """
    ).job("job")
    assert job.artifacts == Artifacts(
        paths=("dist/", "build/*.whl"),
        exclude=("dist/tmp/",),
        expire_in="never",
        expire_in_seconds=None,
        when="always",
        name="$CI_JOB_NAME",
        untracked=True,
        expose_as="Wheels",
        reports={
            "junit": ("report.xml",),
            "dotenv": "build.env",
            "coverage_report": {"coverage_format": "cobertura", "path": "cov.xml"},
        },
    )


def test_cache_variants() -> None:
    job = plan(
        """
        job:
          script: x
          cache:
            - key: deps-$CI_COMMIT_REF_SLUG
              paths: [vendor/]
              policy: pull
            - key:
                files: [Gemfile.lock, package-lock.json]
                prefix: $CI_JOB_NAME
              paths: [node_modules/]
              when: always
              untracked: true
              fallback_keys: [main-deps]
            - paths: [tmp/]
        """
    ).job("job")
    assert job.cache == (
        CacheEntry(key="deps-$CI_COMMIT_REF_SLUG", paths=("vendor/",), policy="pull"),
        CacheEntry(
            key="",
            key_files=("Gemfile.lock", "package-lock.json"),
            key_prefix="$CI_JOB_NAME",
            paths=("node_modules/",),
            when="always",
            untracked=True,
            fallback_keys=("main-deps",),
        ),
        CacheEntry(key="default", paths=("tmp/",)),
    )


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        ("{key: a/b, paths: [x]}", 'jobs:job:cache:key config cannot contain the "/" character'),
        ("{key: '..', paths: [x]}", 'jobs:job:cache:key config cannot be "." or ".."'),
        (
            "[{paths: [a]}, {paths: [b]}, {paths: [c]}, {paths: [d]}, {paths: [e]}]",
            "jobs:job:cache config no more than 4 caches can be created",
        ),
    ],
)
def test_cache_errors(cache: str, message: str) -> None:
    assert errors(f"job: {{script: x, cache: {cache}}}\n") == (message,)


def test_retry() -> None:
    assert plan("job: {script: x, retry: 2}\n").job("job").retry == Retry(max=2)
    full = plan(
        "job: {script: x, retry: {max: 1, when: [runner_system_failure], exit_codes: 137}}\n"
    ).job("job")
    assert full.retry == Retry(max=1, when=("runner_system_failure",), exit_codes=(137,))
    assert errors("job: {script: x, retry: {max: 1, when: [bad_luck]}}\n")[0].startswith(
        "jobs:job:retry"
    )


def test_environment() -> None:
    result = plan(
        """
        review:
          stage: deploy
          script: x
          environment:
            name: review/$CI_COMMIT_REF_SLUG
            url: https://$CI_COMMIT_REF_SLUG.example.com
            on_stop: stop-review
            auto_stop_in: 1 week
            deployment_tier: development
        stop-review:
          stage: deploy
          script: x
          when: manual
          environment: {name: review/$CI_COMMIT_REF_SLUG, action: stop}
        production:
          stage: deploy
          script: x
          environment: production
        """
    )
    assert result.job("review").environment == Environment(
        name="review/$CI_COMMIT_REF_SLUG",
        expanded_name="review/main",
        url="https://$CI_COMMIT_REF_SLUG.example.com",
        on_stop="stop-review",
        auto_stop_in="1 week",
        deployment_tier="development",
    )
    assert result.job("stop-review").environment is not None
    assert result.job("stop-review").environment.action == "stop"
    assert result.job("production").environment == Environment("production", "production")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "stopper: {script: x, environment: {name: b, action: stop}}",
            "job job: on_stop job stopper have different environment name",
        ),
        (
            "stopper: {script: x, environment: {name: a}}",
            "job job: on_stop job stopper needs to have action stop defined",
        ),
        ("stopper: {script: x}", "job job: on_stop job stopper does not have environment defined"),
        ("other: {script: x}", "job job: on_stop job stopper is not defined"),
    ],
)
def test_environment_on_stop_errors(extra: str, message: str) -> None:
    text = f"job: {{script: x, environment: {{name: a, on_stop: stopper}}}}\n{extra}\n"
    assert errors(text) == (message,)


def test_environment_name_rules() -> None:
    assert errors("job: {script: x, environment: {name: 'a:b'}}\n")[0].startswith(
        "jobs:job:environment name can contain only letters"
    )


def test_coverage_is_validated_with_re2() -> None:
    job = plan("job: {script: x, coverage: '/TOTAL.*\\s+(\\d+%)$/'}\n").job("job")
    assert job.coverage == "/TOTAL.*\\s+(\\d+%)$/"
    for bad in ("'/(?<=x)\\d+/'", "'TOTAL'", "'/unclosed(/'"):
        assert errors(f"job: {{script: x, coverage: {bad}}}\n") == (
            "jobs:job:coverage config must be a regular expression",
        )


def test_allow_failure_forms() -> None:
    job = plan("job: {script: x, allow_failure: {exit_codes: [1, 137]}}\n").job("job")
    assert (job.allow_failure, job.allow_failure_exit_codes) == (False, (1, 137))
    single = plan("job: {script: x, allow_failure: {exit_codes: 42}}\n").job("job")
    assert single.allow_failure_exit_codes == (42,)
    assert plan("job: {script: x, allow_failure: true}\n").job("job").allow_failure is True


def test_trigger_jobs() -> None:
    result = plan(
        """
        child:
          trigger:
            include:
              - local: child.yml
              - template: Jobs/Build.gitlab-ci.yml
            strategy: depend
            forward: {pipeline_variables: true}
        multi:
          stage: deploy
          trigger: grp/other
        branch:
          stage: deploy
          trigger: {project: grp/other, branch: stable}
        """
    )
    assert result.job("child").trigger == Trigger(
        include=({"local": "child.yml"}, {"template": "Jobs/Build.gitlab-ci.yml"}),
        strategy="depend",
        forward={"pipeline_variables": True},
    )
    assert result.job("child").script == ()
    assert result.job("multi").trigger == Trigger(project="grp/other")
    assert result.job("branch").trigger == Trigger(project="grp/other", branch="stable")


def test_trigger_job_may_not_have_script_keys() -> None:
    found = errors("job: {trigger: grp/other, image: alpine}\n")
    assert found == ("jobs:job config contains unknown keys: image",)


def test_default_and_inherit() -> None:
    result = plan(
        """
        default:
          image: alpine
          before_script: [setup]
          retry: 1
          timeout: 10m
          tags: [linux]
          interruptible: true
          artifacts: {expire_in: 1 day}
        plain: {script: x}
        own:
          script: x
          image: debian
          tags: []
        none:
          script: x
          inherit: {default: false}
        some:
          script: x
          inherit: {default: [image, retry]}
        """
    )
    plain = result.job("plain")
    assert plain.image == {"name": "alpine"}
    assert plain.before_script == ("setup",)
    assert (plain.retry, plain.timeout, plain.tags) == (Retry(max=1), 600, ("linux",))
    assert plain.interruptible is True
    assert plain.artifacts is not None
    assert plain.artifacts.expire_in == "1 day"
    assert result.job("own").image == {"name": "debian"}
    assert result.job("own").tags == ()
    none = result.job("none")
    assert (none.image, none.before_script, none.retry, none.tags) == (None, (), None, ())
    some = result.job("some")
    assert (some.image, some.retry, some.before_script) == ({"name": "alpine"}, Retry(max=1), ())


def test_legacy_top_level_defaults() -> None:
    job = plan("image: ruby\nbefore_script: [bundle]\njob: {script: x}\n").job("job")
    assert (job.image, job.before_script) == ({"name": "ruby"}, ("bundle",))
    assert errors("image: ruby\ndefault: {image: ruby}\njob: {script: x}\n") == (
        "image is defined in top-level and `default:` entry",
    )


def test_inherit_variables() -> None:
    result = plan(
        """
        variables: {A: a, B: b}
        all: {script: x}
        none: {script: x, inherit: {variables: false}}
        some: {script: x, inherit: {variables: [B]}}
        """
    )
    assert list(result.job("all").variables) == ["A", "B"]
    assert list(result.job("none").variables) == []
    assert list(result.job("some").variables) == ["B"]


def test_extra_keywords_are_kept() -> None:
    job = plan(
        """
        job:
          script: x
          release: {tag_name: v1, description: first}
          id_tokens: {TOKEN: {aud: https://kiln.example.com}}
          secrets: {DB: {vault: db/password@ops}}
          manual_confirmation: Are you sure?
          resource_group: production
        """
    ).job("job")
    assert job.extra["release"] == {"tag_name": "v1", "description": "first"}
    assert job.extra["id_tokens"] == {"TOKEN": {"aud": "https://kiln.example.com"}}
    assert job.extra["manual_confirmation"] == "Are you sure?"
    assert job.resource_group == "production"


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "job: {stage: test}",
            "jobs job config should implement the script:, run:, or trigger: keyword",
        ),
        (
            "job: just a string",
            "jobs job config should implement the script:, run:, or trigger: keyword",
        ),
        ("job:", "jobs job config should implement the script:, run:, or trigger: keyword"),
        (".hidden: {script: x}", "jobs config should contain at least one visible job"),
        ("variables: {A: 1}", "jobs config should contain at least one visible job"),
        ("job: {script: []}", "jobs:job script can't be blank"),
        (
            "job: {script: x, when: never}",
            "jobs:job when should be one of: on_success, on_failure, always, manual, delayed",
        ),
        (
            "job: {script: x, rules: [{if: $A}], only: [main]}",
            "jobs:job config key may not be used with `rules`: only",
        ),
        (
            "job: {script: x, dependencies: [a], needs: [b]}\na: {script: x}\nb: {script: x}",
            "jobs:job dependencies the a should be part of needs",
        ),
        ("Job: {script: x, Foo: 1}", "jobs:job config contains unknown keys: foo"),
    ],
)
def test_job_errors(yaml_text: str, message: str) -> None:
    assert errors(yaml_text)[0] == message


def test_job_name_length() -> None:
    long_name = "j" * 256
    assert errors(f"{long_name}: {{script: x}}\n") == (
        f"jobs:{long_name} name is too long (maximum is 255 characters)",
    )
    assert plan(f"{'j' * 255}: {{script: x}}\n").jobs[0].name == "j" * 255


def test_blank_job_name() -> None:
    assert errors("'': {script: x}\n") == ("jobs:job name can't be blank",)
    assert errors("~: {script: x}\n") == ("jobs:job name can't be blank",)


def test_a_reserved_keyword_cannot_be_a_job() -> None:
    assert errors("default: {script: x}\njob: {script: x}\n") == (
        "default config contains unknown keys: script",
    )


def test_reserved_keywords_are_not_jobs() -> None:
    result = plan(
        """
        stages: [build]
        variables: {A: a}
        image: alpine
        cache: {paths: [x]}
        workflow: {name: named}
        default: {retry: 1}
        build: {stage: build, script: x}
        """
    )
    assert result.job_names == ("build",)
    assert result.workflow_name == "named"


def test_many_errors_are_reported_together() -> None:
    found = errors(
        """
        a: {script: x, timeout: soon}
        b: {script: x, coverage: nope}
        c: {stage: test}
        """
    )
    assert found == (
        "jobs:a:timeout config should be a duration",
        "jobs:b:coverage config must be a regular expression",
        "jobs c config should implement the script:, run:, or trigger: keyword",
    )

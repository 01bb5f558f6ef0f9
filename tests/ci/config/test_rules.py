"""rules:, workflow:rules and only/except, evaluated against the pipeline."""

from __future__ import annotations

import pytest

from kiln.ci.config import RulesResult, Variable

from .helpers import context, errors, jobs_of, plan, skipped

RULES = """
stages: [build, test, deploy]
build:
  stage: build
  script: x
test:
  script: x
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
      when: manual
      allow_failure: true
      interruptible: false
      variables: {TARGET: main}
    - if: $CI_COMMIT_TAG
      when: delayed
      start_in: 10 minutes
deploy:
  stage: deploy
  script: x
  rules:
    - if: $CI_COMMIT_TAG =~ /^v\\d+/
    - when: never
"""


def test_first_matching_rule_decides() -> None:
    on_main = plan(RULES)
    test = on_main.job("test")
    assert (test.when, test.allow_failure, test.interruptible) == ("manual", True, False)
    assert test.variables["TARGET"] == Variable("main")
    assert test.rules == RulesResult(
        matched_rule=1,
        when="manual",
        allow_failure=True,
        interruptible=False,
        variables={"TARGET": Variable("main")},
    )
    assert on_main.job_names == ("build", "test")

    on_tag = plan(RULES, context(branch=None, tag="v1.2"))
    assert jobs_of(on_tag)["test"]["when"] == "delayed"
    assert on_tag.job("test").start_in_seconds == 600
    assert on_tag.job_names == ("build", "test", "deploy")

    on_feature = plan(RULES, context(branch="feature"))
    assert on_feature.job_names == ("build",)


def test_rule_when_defaults_to_job_when_and_manual_rule_blocks() -> None:
    result = plan(
        """
        job-when:
          script: x
          when: manual
          rules: [{if: $CI_COMMIT_BRANCH}]
        rule-manual:
          script: x
          rules: [{when: manual}]
        """
    )
    # A manual job is allowed to fail by default, but not when `rules:` made it manual.
    assert jobs_of(result)["job-when"] == {
        "stage": "test",
        "when": "manual",
        "allow_failure": True,
        "needs": None,
    }
    assert jobs_of(result)["rule-manual"]["allow_failure"] is False


def test_rules_see_job_variables_and_matrix_values() -> None:
    result = plan(
        """
        variables: {GLOBAL: g}
        job:
          script: x
          variables: {LEVEL: $GLOBAL-job}
          rules:
            - if: $LEVEL == "g-job" && $CI_JOB_NAME == "job" && $CI_JOB_STAGE == "test"
              when: manual
        """
    )
    assert result.job("job").when == "manual"


def test_rules_changes() -> None:
    yaml_text = """
        docs:
          script: x
          rules:
            - changes: ["docs/**/*", "*.md"]
        backend:
          script: x
          rules:
            - changes:
                paths: [$SRC_DIR/**/*.py]
        compared:
          script: x
          rules:
            - changes:
                paths: [api/*]
                compare_to: refs/heads/$CI_DEFAULT_BRANCH
        """
    ctx = context(changed_paths=["README.md"], project_variables={"SRC_DIR": "src"})
    # Without a way to diff against compare_to, the pipeline's own changes are used.
    assert plan(yaml_text, ctx).job_names == ("docs",)
    ctx = context(changed_paths=["src/app/models.py"], project_variables={"SRC_DIR": "src"})
    assert plan(yaml_text, ctx).job_names == ("backend",)
    # Unknown changes (a new branch, a tag, a schedule): every changes clause holds.
    assert plan(yaml_text, context(changed_paths=None)).job_names == ("docs", "backend", "compared")
    skipped(yaml_text, context(changed_paths=[]))

    seen: list[str] = []

    def since(ref: str) -> list[str] | None:
        seen.append(ref)
        return ["api/routes.py"] if ref == "refs/heads/main" else None

    ctx = context(changed_paths=["README.md"], changed_paths_since=since)
    assert plan(yaml_text, ctx).job_names == ("docs", "compared")
    assert seen == ["refs/heads/main"]
    bad = "job:\n  script: x\n  rules:\n    - changes: {paths: [a], compare_to: nope}\n"
    assert errors(bad, context(changed_paths_since=since)) == (
        "rules:changes:compare_to is not a valid ref",
    )


def test_rules_exists() -> None:
    yaml_text = """
        docker:
          script: x
          rules: [{exists: [Dockerfile]}]
        python:
          script: x
          rules: [{exists: {paths: ["**/*.py"]}}]
        from-variable:
          script: x
          variables: {MANIFEST: Chart.yaml}
          rules: [{exists: [deploy/$MANIFEST]}]
        other-project:
          script: x
          rules: [{exists: {paths: [Dockerfile], project: grp/other}}]
        """
    files = ["Dockerfile", "src/pkg/mod.py", "deploy/Chart.yaml"]
    assert plan(yaml_text, context(files=files)).job_names == ("docker", "python", "from-variable")
    assert plan(yaml_text, context(files=["Dockerfile"])).job_names == ("docker",)
    skipped(yaml_text, context(files=[], exists=None))


def test_rules_needs_replace_job_needs() -> None:
    result = plan(
        """
        a: {stage: build, script: x}
        b: {stage: build, script: x}
        c:
          script: x
          needs: [a]
          rules:
            - if: $CI_COMMIT_TAG
              needs: [b]
            - when: on_success
        """
    )
    assert jobs_of(result)["c"]["needs"] == ["a"]
    on_tag = plan(
        "a: {stage: build, script: x}\nb: {stage: build, script: x}\n"
        "c: {script: x, needs: [a], rules: [{if: $CI_COMMIT_TAG, needs: [b]}]}\n",
        context(branch=None, tag="v1"),
    )
    assert jobs_of(on_tag)["c"]["needs"] == ["b"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{if: '$A ==', when: manual}", "jobs:job:rules:rule if invalid expression syntax"),
        ("{if: $A, when: later}", "jobs:job:rules:rule when unknown value: later"),
        (
            "{if: $A, allow_failure: maybe}",
            "jobs:job:rules:rule allow failure should be a boolean value",
        ),
        ("{when: delayed}", "jobs:job:rules:rule start in can't be blank"),
        (
            "{when: manual, start_in: 1h}",
            "jobs:job:rules:rule config contains disallowed keys: start_in",
        ),
        ("{if: $A, foo: 1}", "jobs:job:rules:rule config contains unknown keys: foo"),
        ("a string", "jobs:job:rules:rule config should be a hash"),
    ],
)
def test_rule_validation(rule: str, message: str) -> None:
    assert errors(f"job:\n  script: x\n  rules:\n    - {rule}\n")[0] == message


def test_workflow_rules() -> None:
    yaml_text = """
        workflow:
          name: "$PIPELINE_KIND pipeline for $CI_COMMIT_REF_NAME"
          rules:
            - if: $CI_COMMIT_MESSAGE =~ /-wip$/
              when: never
            - if: $CI_COMMIT_TAG
              variables: {PIPELINE_KIND: Release}
            - if: $CI_COMMIT_BRANCH
              variables: {PIPELINE_KIND: Branch, DEPLOY: "no"}
        variables:
          PIPELINE_KIND: Unknown
          DEPLOY: "yes"
        job:
          script: x
          rules:
            - if: $DEPLOY == "yes"
              when: manual
            - when: on_success
        """
    on_main = plan(yaml_text)
    assert on_main.workflow_name == "Branch pipeline for main"
    assert on_main.variables["DEPLOY"] == Variable("no")
    assert on_main.job("job").when == "on_success"
    on_tag = plan(yaml_text, context(branch=None, tag="v1"))
    assert on_tag.workflow_name == "Release pipeline for v1"
    assert on_tag.job("job").when == "manual"
    wip = skipped(
        yaml_text,
        context(
            project_variables={},
            predefined_variables={"CI_COMMIT_BRANCH": "main", "CI_COMMIT_MESSAGE": "change -wip"},
        ),
    )
    assert (wip.reason, wip.message) == (
        "filtered_by_workflow_rules",
        "Pipeline filtered out by workflow rules.",
    )
    no_match = skipped(yaml_text, context(branch=None, source="web"))
    assert no_match.reason == "filtered_by_workflow_rules"


def test_workflow_rule_errors() -> None:
    assert errors("workflow:\n  rules: [{when: manual}]\njob: {script: x}\n") == (
        "workflow:rules:rule when unknown value: manual",
    )


def test_default_only_excludes_merge_request_pipelines() -> None:
    yaml_text = "plain: {script: x}\nwith-rules: {script: x, rules: [{when: always}]}\n"
    mr = context(branch=None, source="merge_request_event")
    assert plan(yaml_text, mr).job_names == ("with-rules",)
    # workflow:rules remove the only/except default: plain jobs run in MR pipelines too.
    with_workflow = "workflow: {rules: [{when: always}]}\n" + yaml_text
    assert plan(with_workflow, mr).job_names == ("plain", "with-rules")


@pytest.mark.parametrize(
    ("policy", "branch_main", "tag_v1", "mr", "schedule"),
    [
        ("only: [main]", True, False, False, True),
        ("only: [branches]", True, False, False, True),
        ("only: [tags]", False, True, False, False),
        ("only: [merge_requests]", False, False, True, False),
        ("only: [schedules]", False, False, False, True),
        ("only: [pushes]", True, True, False, False),
        ("only: [web]", False, False, False, False),
        ("only: ['/^ma/']", True, False, False, True),
        ("only: ['/^V\\d/i']", False, True, False, False),
        ("only: ['main@grp/proj']", True, False, False, True),
        ("only: ['main@grp/fork']", False, False, False, False),
        ("except: [main]", False, True, False, False),
        ("except: [tags]", True, False, False, True),
        (
            "only: {refs: [branches], variables: [$CI_COMMIT_BRANCH == 'main']}",
            True,
            False,
            False,
            True,
        ),
        ("only: {variables: [$CI_COMMIT_TAG]}", False, True, False, False),
        ("except: {variables: [$CI_COMMIT_TAG]}", True, False, False, True),
        ("only: {kubernetes: active}", False, False, False, False),
    ],
)
def test_only_except(
    policy: str, branch_main: bool, tag_v1: bool, mr: bool, schedule: bool
) -> None:
    yaml_text = f"anchor: {{script: x, rules: [{{when: always}}]}}\njob:\n  script: x\n  {policy}\n"
    contexts = {
        "branch_main": context(),
        "tag_v1": context(branch=None, tag="v1"),
        "mr": context(branch=None, source="merge_request_event", ref="refs/merge-requests/1/head"),
        "schedule": context(source="schedule"),
    }
    expected = {"branch_main": branch_main, "tag_v1": tag_v1, "mr": mr, "schedule": schedule}
    for name, ctx in contexts.items():
        assert ("job" in plan(yaml_text, ctx).job_names) is expected[name], name


def test_only_changes() -> None:
    yaml_text = (
        "anchor: {script: x, rules: [{when: always}]}\n"
        "job: {script: x, only: {changes: [docs/*]}}\n"
    )
    assert "job" in plan(yaml_text, context(changed_paths=["docs/a.md"])).job_names
    assert "job" not in plan(yaml_text, context(changed_paths=["src/a.py"])).job_names
    assert "job" in plan(yaml_text, context(changed_paths=None)).job_names


def test_kubernetes_active_stands_for_kubeconfig() -> None:
    yaml_text = (
        "anchor: {script: x, rules: [{when: always}]}\n"
        "job: {script: x, only: {kubernetes: active}}\n"
    )
    ctx = context(project_variables={"KUBECONFIG": "/path"})
    assert "job" in plan(yaml_text, ctx).job_names


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("only: {refs: main}", "jobs:job:only refs should be an array of strings"),
        ("only: {variables: ['$A ==']}", "jobs:job:only variables invalid expression syntax"),
        ("except: {foo: [a]}", "jobs:job:except config contains unknown keys: foo"),
        ("only: 5", "jobs:job:only has to be either an array of conditions or a hash"),
    ],
)
def test_only_except_validation(policy: str, message: str) -> None:
    assert errors(f"job:\n  script: x\n  {policy}\n")[0] == message


def test_multiple_pipelines_warning() -> None:
    result = plan("a: {script: x, rules: [{if: $X}, {when: on_success}]}\nb: {script: x}\n")
    assert result.warnings == (
        "jobs:a may allow multiple pipelines to run for a single action due to `rules:when` "
        "clause with no `workflow:rules` - read more: "
        "https://docs.gitlab.com/ee/ci/troubleshooting.html#pipeline-warnings",
    )
    quiet = plan(
        "workflow: {rules: [{when: always}]}\na: {script: x, rules: [{when: on_success}]}\n"
    )
    assert quiet.warnings == ()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("''", "workflow name can't be blank"),
        ("[a]", "workflow name should be a string"),
        ("'" + "n" * 256 + "'", "workflow name is too long (maximum is 255 characters)"),
    ],
)
def test_workflow_name_validation(name: str, message: str) -> None:
    assert errors(f"workflow: {{name: {name}}}\njob: {{script: x}}\n") == (message,)

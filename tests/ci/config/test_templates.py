"""GitLab's own CI templates as a differential corpus.

Every template is processed as the `.gitlab-ci.yml` of an empty repository, pushed to
`main` (the default branch). Each either produces a plan or ends in the outcome listed
below with the reason read from the template. Then a handful of well-known templates
are checked job by job against what the templates say (expectations written from the
template text, not from Kiln's output).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.ci.config import (
    BundledTemplates,
    CacheEntry,
    ConfigErrors,
    Environment,
    PipelinePlan,
    PipelineSkipped,
    Variable,
)

from .helpers import SHARED_TEMPLATES, FakeFetcher, context, jobs_of, run

BUNDLED = Path(__file__).parents[3] / "src/kiln/ci/config/data/templates"
TEMPLATE_FILES = sorted(
    path.relative_to(SHARED_TEMPLATES).as_posix() for path in SHARED_TEMPLATES.rglob("*.yml")
)

AUTO_DEVOPS_STAGE = "fragment of Auto DevOps: its stage is declared by Auto-DevOps.gitlab-ci.yml"
USER_STAGE = "meant to be included: the project adds this stage to its own `stages:`"
HIDDEN_ONLY = "only hidden jobs (or only `workflow:`): meant to be extended or included"
GITLAB_FEATURES = "jobs run only when $GITLAB_FEATURES lists the (paid) feature"
NO_FILES = "jobs need files (`exists:`) that the empty test repository does not have"
ONLY_MASTER = "`only: master`; the default branch here is `main`"

# template -> (kind, what the result must contain, why)
EXPECTED: dict[str, tuple[str, str, str]] = {
    "Auto-DevOps.gitlab-ci.yml": (
        "filtered",
        "",
        "workflow:rules need Auto DevOps signals or project files",
    ),
    "Beta/Auto-DevOps.gitlab-ci.yml": (
        "filtered",
        "",
        "workflow:rules need Auto DevOps signals or project files",
    ),
    "Diffblue-Cover.gitlab-ci.yml": ("no_jobs", "", "runs in merge request pipelines only"),
    "Indeni.Cloudrail.gitlab-ci-.yml": ("no_jobs", "", NO_FILES + " (**/*.tf)"),
    "Indeni.Cloudrail.gitlab-ci.yml": ("no_jobs", "", NO_FILES + " (**/*.tf)"),
    "Jobs/CF-Provision.gitlab-ci.yml": ("no_jobs", "", "needs AUTO_DEVOPS_PLATFORM_TARGET=EC2/ECS"),
    "Jobs/Code-Intelligence.gitlab-ci.yml": ("no_jobs", "", NO_FILES + " (**/*.go)"),
    "Jobs/Dependency-Scanning.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Jobs/Dependency-Scanning.latest.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Jobs/Deploy/EC2.gitlab-ci.yml": ("no_jobs", "", "needs AUTO_DEVOPS_PLATFORM_TARGET=EC2"),
    "Jobs/License-Scanning.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Jobs/License-Scanning.latest.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Jobs/SAST.gitlab-ci.yml": ("no_jobs", "", NO_FILES),
    "Jobs/SAST.latest.gitlab-ci.yml": ("no_jobs", "", NO_FILES),
    "Kaniko.gitlab-ci.yml": ("no_jobs", "", NO_FILES + " (Dockerfile)"),
    "Managed-Cluster-Applications.gitlab-ci.yml": ("no_jobs", "", ONLY_MASTER),
    "OpenTofu/Base.latest.gitlab-ci.yml": (
        "no_jobs",
        "",
        "hidden jobs plus a .pre job for gitlab.com",
    ),
    "Pages/Doxygen.gitlab-ci.yml": ("no_jobs", "", ONLY_MASTER),
    "Pages/HTML.gitlab-ci.yml": ("no_jobs", "", ONLY_MASTER),
    "Pages/Metalsmith.gitlab-ci.yml": ("no_jobs", "", ONLY_MASTER),
    "Pages/Octopress.gitlab-ci.yml": ("no_jobs", "", ONLY_MASTER),
    "Security/Cluster-Image-Scanning.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Security/Container-Scanning.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Security/Coverage-Fuzzing.gitlab-ci.yml": ("no_jobs", "", "hidden .fuzz_base only"),
    "Security/Coverage-Fuzzing.latest.gitlab-ci.yml": ("no_jobs", "", "hidden .fuzz_base only"),
    "Security/Dependency-Scanning.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Security/License-Management.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Security/License-Scanning.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Security/SAST.gitlab-ci.yml": ("no_jobs", "", GITLAB_FEATURES),
    "Terraform/Base.gitlab-ci.yml": ("no_jobs", "", "hidden jobs plus a .pre deprecation job"),
    "Verify/Accessibility.gitlab-ci.yml": ("no_jobs", "", "needs $a11y_urls"),
    "Verify/FailFast.gitlab-ci.yml": ("no_jobs", "", "merged results / merge train pipelines only"),
    "dotNET.gitlab-ci.yml": ("no_jobs", "", "`only: tags`"),
    "Jobs/Browser-Performance-Testing.gitlab-ci.yml": (
        "error",
        "chosen stage performance does not exist",
        AUTO_DEVOPS_STAGE,
    ),
    "Jobs/Browser-Performance-Testing.latest.gitlab-ci.yml": (
        "error",
        "chosen stage performance does not exist",
        AUTO_DEVOPS_STAGE,
    ),
    "Jobs/DAST-Default-Branch-Deploy.gitlab-ci.yml": (
        "error",
        "chosen stage review does not exist",
        AUTO_DEVOPS_STAGE,
    ),
    "Jobs/DAST.gitlab-ci.yml": ("error", "chosen stage dast does not exist", AUTO_DEVOPS_STAGE),
    "Jobs/Deploy.gitlab-ci.yml": ("error", "chosen stage review does not exist", AUTO_DEVOPS_STAGE),
    "Jobs/Deploy.latest.gitlab-ci.yml": (
        "error",
        "chosen stage review does not exist",
        AUTO_DEVOPS_STAGE,
    ),
    "Jobs/Deploy/ECS.gitlab-ci.yml": (
        "error",
        "chosen stage review does not exist",
        AUTO_DEVOPS_STAGE,
    ),
    "Jobs/Helm-2to3.gitlab-ci.yml": (
        "error",
        "chosen stage cleanup does not exist",
        AUTO_DEVOPS_STAGE,
    ),
    "Jobs/Load-Performance-Testing.gitlab-ci.yml": (
        "error",
        "chosen stage performance does not exist",
        AUTO_DEVOPS_STAGE,
    ),
    "Security/API-Fuzzing.gitlab-ci.yml": ("error", "chosen stage fuzz does not exist", USER_STAGE),
    "Security/API-Fuzzing.latest.gitlab-ci.yml": (
        "error",
        "chosen stage fuzz does not exist",
        USER_STAGE,
    ),
    "Security/API-Security.gitlab-ci.yml": (
        "error",
        "chosen stage dast does not exist",
        USER_STAGE,
    ),
    "Security/API-Security.latest.gitlab-ci.yml": (
        "error",
        "chosen stage dast does not exist",
        USER_STAGE,
    ),
    "Security/BAS.latest.gitlab-ci.yml": ("error", "chosen stage dast does not exist", USER_STAGE),
    "Security/DAST-API.gitlab-ci.yml": ("error", "chosen stage dast does not exist", USER_STAGE),
    "Security/DAST-API.latest.gitlab-ci.yml": (
        "error",
        "chosen stage dast does not exist",
        USER_STAGE,
    ),
    "Security/DAST.gitlab-ci.yml": ("error", "chosen stage dast does not exist", USER_STAGE),
    "Security/DAST.latest.gitlab-ci.yml": ("error", "chosen stage dast does not exist", USER_STAGE),
    "Katalon.gitlab-ci.yml": (
        "error",
        "jobs config should contain at least one visible job",
        HIDDEN_ONLY,
    ),
    "Security/API-Discovery.gitlab-ci.yml": (
        "error",
        "jobs config should contain at least one visible job",
        HIDDEN_ONLY,
    ),
    "Serverless.gitlab-ci.yml": (
        "error",
        "jobs config should contain at least one visible job",
        HIDDEN_ONLY,
    ),
    "Terraform/Base.latest.gitlab-ci.yml": (
        "error",
        "jobs config should contain at least one visible job",
        HIDDEN_ONLY,
    ),
    "Terraform/Module-Base.gitlab-ci.yml": (
        "error",
        "jobs config should contain at least one visible job",
        HIDDEN_ONLY,
    ),
    "Workflows/Branch-Pipelines.gitlab-ci.yml": (
        "error",
        "jobs config should contain at least one visible job",
        HIDDEN_ONLY,
    ),
    "Workflows/MergeRequest-Pipelines.gitlab-ci.yml": (
        "error",
        "jobs config should contain at least one visible job",
        HIDDEN_ONLY,
    ),
    # The copies come from different upstream commits: this one extends `.terraform:fmt`,
    # which the copied Terraform/Base.latest (older) does not define yet.
    "Terraform.latest.gitlab-ci.yml": (
        "error",
        "fmt: unknown keys in `extends` (.terraform:fmt)",
        "version skew between the copied templates",
    ),
}


def _process(name: str, **context_overrides: object):  # type: ignore[no-untyped-def]
    text = (SHARED_TEMPLATES / name).read_text(encoding="utf-8")
    return run(text, context(**context_overrides), fetcher=FakeFetcher())


def test_corpus_is_complete_and_bundled() -> None:
    assert len(TEMPLATE_FILES) == 150
    assert set(EXPECTED) <= set(TEMPLATE_FILES)
    bundled = sorted(p.relative_to(BUNDLED).as_posix() for p in BUNDLED.rglob("*.yml"))
    assert bundled == TEMPLATE_FILES
    for name in TEMPLATE_FILES:
        assert BundledTemplates(BUNDLED)(name) == (SHARED_TEMPLATES / name).read_text()


@pytest.mark.parametrize("name", TEMPLATE_FILES)
def test_template(name: str) -> None:
    result = _process(name)
    kind, detail, reason = EXPECTED.get(name, ("plan", "", ""))
    if kind == "plan":
        assert isinstance(result, PipelinePlan), result
        assert result.jobs
    elif kind == "error":
        assert isinstance(result, ConfigErrors), (reason, result)
        assert detail in result.errors[0], (reason, result.errors)
    else:
        assert isinstance(result, PipelineSkipped), (reason, result)
        expected = "filtered_by_workflow_rules" if kind == "filtered" else "no_jobs"
        assert result.reason == expected, reason


def test_fragments_work_where_they_are_meant_to() -> None:
    # A job template from the Auto DevOps set runs once its stage exists.
    variables = {"DAST_WEBSITE": "https://example.com", "GITLAB_FEATURES": "dast"}
    result = run(
        "include: [{template: Jobs/DAST.gitlab-ci.yml}]\nstages: [build, test, deploy, dast]\n",
        context(project_variables=variables),
        fetcher=FakeFetcher(),
    )
    assert isinstance(result, PipelinePlan), result
    assert jobs_of(result) == {
        "dast": {"stage": "dast", "when": "on_success", "allow_failure": True, "needs": None}
    }
    # Auto DevOps runs for a project with a Dockerfile.
    auto = _process("Auto-DevOps.gitlab-ci.yml", files=["Dockerfile"])
    assert isinstance(auto, PipelinePlan), auto
    assert auto.job_names[0] == "build"
    assert auto.job("build").stage == "build"
    # Security templates run when the instance has the feature.
    ctx_vars = {"GITLAB_FEATURES": "container_scanning"}
    scanning = _process("Security/Container-Scanning.gitlab-ci.yml", project_variables=ctx_vars)
    assert isinstance(scanning, PipelinePlan)
    assert scanning.job_names == ("container_scanning",)


def _plan(name: str, **context_overrides: object) -> PipelinePlan:
    result = _process(name, **context_overrides)
    assert isinstance(result, PipelinePlan), result
    return result


def test_hello_world() -> None:
    result = _plan("Hello-World.gitlab-ci.yml")
    assert jobs_of(result) == {
        "job": {"stage": "test", "when": "on_success", "allow_failure": False, "needs": None}
    }
    assert result.job("job").script == ('echo "Hello World"',)


def test_getting_started() -> None:
    result = _plan("Getting-Started.gitlab-ci.yml")
    assert result.stages == (".pre", "build", "test", "deploy", ".post")
    assert [(job.name, job.stage, job.when) for job in result.jobs] == [
        ("build-job", "build", "on_success"),
        ("unit-test-job", "test", "on_success"),
        ("lint-test-job", "test", "on_success"),
        ("deploy-job", "deploy", "on_success"),
    ]
    assert result.job("deploy-job").environment == Environment("production", "production")


def test_bash() -> None:
    result = _plan("Bash.gitlab-ci.yml")
    assert [(job.name, job.stage) for job in result.jobs] == [
        ("build1", "build"),
        ("test1", "test"),
        ("test2", "test"),
        ("deploy1", "deploy"),
    ]
    for job in result.jobs:
        assert job.image == {"name": "busybox:latest"}
        assert job.before_script[0] == 'echo "Before script section"'
        assert job.after_script == (
            'echo "After script section"',
            'echo "For example you might do some cleanup here"',
        )


def test_python() -> None:
    result = _plan("Python.gitlab-ci.yml")
    assert [(job.name, job.stage, job.when) for job in result.jobs] == [
        ("test", "test", "on_success"),
        ("run", "test", "on_success"),
        ("pages", "test", "on_success"),  # rules: default branch only
    ]
    run_job = result.job("run")
    assert run_job.image == {"name": "python:latest"}
    assert run_job.cache == (CacheEntry(paths=(".cache/pip", "venv/")),)
    assert run_job.artifacts is not None
    assert run_job.artifacts.paths == ("dist/*.whl",)
    assert run_job.variables == {"PIP_CACHE_DIR": Variable("$CI_PROJECT_DIR/.cache/pip")}
    assert run_job.expanded_variables == {"PIP_CACHE_DIR": "/builds/grp/proj/.cache/pip"}
    assert result.job("pages").rules is not None
    feature = _plan("Python.gitlab-ci.yml", branch="feature")
    assert feature.job_names == ("test", "run")


def test_go() -> None:
    result = _plan("Go.gitlab-ci.yml")
    assert result.stages == (".pre", "test", "build", ".post")
    assert [(job.name, job.stage) for job in result.jobs] == [
        ("format", "test"),
        ("compile", "build"),
    ]
    compile_job = result.job("compile")
    assert compile_job.artifacts is not None
    assert compile_job.artifacts.paths == ("mybinary",)
    assert compile_job.expanded_variables == {"REPO_NAME": "gitlab.com/namespace/project"}


def test_rust() -> None:
    result = _plan("Rust.gitlab-ci.yml")
    assert [(job.name, job.stage) for job in result.jobs] == [
        ("test:cargo", "test"),
        ("deploy", "deploy"),
    ]
    assert result.job("deploy").environment == Environment("production", "production")
    assert result.job("test:cargo").image == {"name": "rust:latest"}


def test_ruby() -> None:
    result = _plan("Ruby.gitlab-ci.yml")
    assert [(job.name, job.stage) for job in result.jobs] == [
        ("rubocop", "test"),
        ("rspec", "test"),
        ("rails", "test"),
        ("deploy", "deploy"),  # via the deprecated `type:` keyword
    ]
    rails = result.job("rails")
    assert [service["name"] for service in rails.services] == [
        "mysql:latest",
        "redis:latest",
        "postgres:latest",
    ]
    assert rails.expanded_variables["DATABASE_URL"] == (
        "postgresql://postgres:postgres@postgres:5432/database_name"
    )


def test_nodejs() -> None:
    result = _plan("Nodejs.gitlab-ci.yml")
    assert [(job.name, job.stage) for job in result.jobs] == [
        ("test_async", "test"),
        ("test_db", "test"),
        ("deploy", "deploy"),
    ]
    assert result.job("test_db").cache == (CacheEntry(paths=("node_modules/",)),)


def test_docker_only_except() -> None:
    on_main = _plan("Docker.gitlab-ci.yml")
    assert on_main.job_names == ("docker-build",)  # docker-build-master: only master
    on_master = _plan("Docker.gitlab-ci.yml", branch="master")
    assert on_master.job_names == ("docker-build-master",)  # docker-build: except master
    job = on_master.job("docker-build-master")
    assert job.services == ({"name": "docker:dind"},)
    assert job.stage == "build"


def test_terraform() -> None:
    on_main = _plan("Terraform.gitlab-ci.yml")
    assert on_main.stages == (".pre", "validate", "build", "test", "deploy", ".post")
    assert [(job.name, job.stage) for job in on_main.jobs] == [
        ("validate", "validate"),
        ("plan", "build"),
    ]
    image = on_main.job("plan").image
    assert image is not None
    assert image["name"] == "hashicorp/terraform:light"
    on_master = _plan("Terraform.gitlab-ci.yml", branch="master")
    apply = on_master.job("apply")
    # A job-level manual job is allowed to fail by default (GitLab), it depends on plan.
    assert (apply.stage, apply.when, apply.allow_failure) == ("deploy", "manual", True)
    assert apply.dependencies == ("plan",)


def test_opentofu_include_extends_rules() -> None:
    result = _plan("OpenTofu.latest.gitlab-ci.yml")
    assert result.includes == (
        {"type": "template", "location": "OpenTofu/Base.latest.gitlab-ci.yml"},
    )
    assert jobs_of(result) == {
        "fmt": {"stage": "validate", "when": "on_success", "allow_failure": True, "needs": []},
        "validate": {
            "stage": "validate",
            "when": "on_success",
            "allow_failure": False,
            "needs": None,
        },
        "plan": {"stage": "build", "when": "on_success", "allow_failure": False, "needs": None},
        "apply": {"stage": "deploy", "when": "manual", "allow_failure": False, "needs": None},
    }
    plan_job = result.job("plan")
    assert plan_job.environment is not None
    assert (plan_job.environment.name, plan_job.environment.expanded_name) == (
        "$TF_STATE_NAME",
        "default",
    )
    assert plan_job.environment.action == "prepare"
    assert plan_job.resource_group == "$TF_STATE_NAME"
    assert plan_job.expanded_variables["__CACHE_KEY_HACK"] == "/builds/grp/proj"
    # Not on the default branch: no apply.
    assert "apply" not in _plan("OpenTofu.latest.gitlab-ci.yml", branch="feature").job_names

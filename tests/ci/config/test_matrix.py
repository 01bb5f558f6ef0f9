"""parallel: N and parallel: matrix — naming, limits, needs on parallel jobs."""

from __future__ import annotations

import time

import pytest

from kiln.ci.config import ParallelInstance

from .helpers import errors, jobs_of, plan


def test_parallel_number() -> None:
    result = plan("rspec: {script: x, parallel: 3}\n")
    assert result.job_names == ("rspec 1/3", "rspec 2/3", "rspec 3/3")
    second = result.job("rspec 2/3")
    assert second.parallel == ParallelInstance(index=2, total=3)
    assert second.expanded_variables == {}


def test_parallel_matrix_naming_and_variables() -> None:
    result = plan(
        """
        deploy:
          script: x
          variables: {STACK: overridden}
          parallel:
            matrix:
              - PROVIDER: aws
                STACK: [monitoring, app1]
              - PROVIDER: [gcp, vultr]
                STACK: data
              - VERSION: 3
        """
    )
    assert result.job_names == (
        "deploy: [aws, monitoring]",
        "deploy: [aws, app1]",
        "deploy: [gcp, data]",
        "deploy: [vultr, data]",
        "deploy: [3]",
    )
    job = result.job("deploy: [gcp, data]")
    assert job.parallel == ParallelInstance(3, 5, {"PROVIDER": "gcp", "STACK": "data"})
    assert job.expanded_variables == {"STACK": "data", "PROVIDER": "gcp"}


def test_matrix_limit() -> None:
    many = ", ".join(str(i) for i in range(100))
    started = time.monotonic()
    found = errors(
        f"job:\n  script: x\n  parallel:\n    matrix:\n      - A: [{many}]\n        B: [{many}]\n"
    )
    assert found == ("jobs:job:parallel:matrix config generates too many jobs (maximum is 200)",)
    assert time.monotonic() - started < 2
    exactly = ", ".join(str(i) for i in range(200))
    assert (
        len(plan(f"job:\n  script: x\n  parallel:\n    matrix:\n      - A: [{exactly}]\n").jobs)
        == 200
    )


@pytest.mark.parametrize(
    ("parallel", "message"),
    [
        ("0", "jobs:job:parallel config must be greater than or equal to 1"),
        ("201", "jobs:job:parallel config must be less than or equal to 200"),
        ("{matrix: [{}]}", "jobs:job:parallel:matrix:variables config requires at least 1 items"),
        (
            "{matrix: [{A: {b: c}}]}",
            "jobs:job:parallel:matrix:variables config should be a hash of key value pairs, "
            "value can be an array",
        ),
        ("{matrix: {A: [1]}}", "jobs:job:parallel:matrix config should be an array of hashes"),
    ],
)
def test_parallel_errors(parallel: str, message: str) -> None:
    assert errors(f"job: {{script: x, parallel: {parallel}}}\n")[0] == message


def test_needs_and_dependencies_on_parallel_jobs() -> None:
    result = plan(
        """
        stages: [build, test]
        build:
          stage: build
          script: x
          parallel:
            matrix:
              - OS: [linux, mac]
                ARCH: [amd64, arm64]
        shard:
          stage: build
          script: x
          parallel: 2
        all:
          stage: test
          script: x
          needs: [build, shard]
          dependencies: [shard]
        some:
          stage: test
          script: x
          needs:
            - job: build
              parallel:
                matrix:
                  - OS: linux
                    ARCH: [arm64]
        """
    )
    jobs = jobs_of(result)
    assert jobs["all"]["needs"] == [
        "build: [linux, amd64]",
        "build: [linux, arm64]",
        "build: [mac, amd64]",
        "build: [mac, arm64]",
        "shard 1/2",
        "shard 2/2",
    ]
    assert result.job("all").dependencies == ("shard 1/2", "shard 2/2")
    assert jobs["some"]["needs"] == ["build: [linux, arm64]"]


def test_matrix_interpolation_in_needs() -> None:
    result = plan(
        """
        stages: [build, test]
        build:
          stage: build
          script: x
          parallel:
            matrix:
              - OS: [linux, mac]
        test:
          stage: test
          script: x
          parallel:
            matrix:
              - OS: [linux, mac]
          needs:
            - job: "build: [$[[ matrix.OS ]]]"
        """
    )
    assert jobs_of(result)["test: [mac]"]["needs"] == ["build: [mac]"]
    assert jobs_of(result)["test: [linux]"]["needs"] == ["build: [linux]"]


def test_rules_per_matrix_instance() -> None:
    result = plan(
        """
        deploy:
          script: x
          parallel:
            matrix:
              - ENV: [dev, staging, prod]
          rules:
            - if: $ENV == "prod"
              when: manual
            - if: $ENV == "staging"
              when: never
            - when: on_success
        """
    )
    assert {name: job["when"] for name, job in jobs_of(result).items()} == {
        "deploy: [dev]": "on_success",
        "deploy: [prod]": "manual",
    }
    assert result.job("deploy: [prod]").expanded_variables == {"ENV": "prod"}

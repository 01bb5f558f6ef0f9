"""Differential test against gitlab-ci-local, an independent implementation of GitLab CI.

For each configuration in corpus/*.yml a throw-away git repository is made (with the files
of corpus/repo/, pushed as branch `main`, the default branch), and the jobs that
`gitlab-ci-local --list-json` lists are compared with Kiln's plan: names, stages, `when`,
`needs` and `allow_failure`.

gitlab-ci-local is not GitLab. Where it is known to differ from GitLab the difference is
either normalized (naming, needs on parallel jobs) or listed in KNOWN_DEVIATIONS with the
value GitLab's documentation gives, which Kiln must produce instead.

The binary is found through $KILN_GITLAB_CI_LOCAL or node_modules/.bin under the
repository; without it the test is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kiln.ci.config import PipelinePlan

from .helpers import FakeFetcher, context, run

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
REPO_FILES = CORPUS / "repo"
REPOSITORY_ROOT = HERE.parents[2]
CONFIGS = sorted(CORPUS.glob("*.yml"))

ONLY_EXCEPT = "gitlab-ci-local does not evaluate only/except; GitLab does"
MANUAL_MAY_FAIL = "GitLab: a job-level `when: manual` job is allowed to fail by default"

# (corpus file, job) -> (field, the value GitLab gives, why gitlab-ci-local differs)
KNOWN_DEVIATIONS: dict[tuple[str, str], tuple[str, Any, str]] = {
    ("09_only_except_refs.yml", "only-tags"): ("present", False, ONLY_EXCEPT),
    ("09_only_except_refs.yml", "except-main"): ("present", False, ONLY_EXCEPT),
    ("09_only_except_refs.yml", "only-schedules"): ("present", False, ONLY_EXCEPT),
    ("09_only_except_refs.yml", "only-merge-requests"): ("present", False, ONLY_EXCEPT),
    ("10_only_variables.yml", "only-flag-off"): ("present", False, ONLY_EXCEPT),
    ("10_only_variables.yml", "except-flag"): ("present", False, ONLY_EXCEPT),
    ("11_default_inherit.yml", "manual-default"): ("allow_failure", True, MANUAL_MAY_FAIL),
    ("15_when_keywords.yml", "manual"): ("allow_failure", True, MANUAL_MAY_FAIL),
}


def _binary() -> Path | None:
    configured = os.environ.get("KILN_GITLAB_CI_LOCAL")
    candidates = [Path(configured)] if configured else []
    candidates.append(REPOSITORY_ROOT / "node_modules" / ".bin" / "gitlab-ci-local")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


BINARY = _binary()
pytestmark = pytest.mark.skipif(
    BINARY is None or shutil.which("git") is None or shutil.which("node") is None,
    reason=(
        "gitlab-ci-local not found: set KILN_GITLAB_CI_LOCAL to its binary, or run "
        "`npm install --prefix . gitlab-ci-local` in the repository (needs node and git)"
    ),
)


def _oracle(config: Path) -> list[dict[str, Any]]:
    assert BINARY is not None
    with tempfile.TemporaryDirectory(prefix="kiln-oracle-") as tmp:
        work, home = Path(tmp) / "repo", Path(tmp) / "home"
        shutil.copytree(REPO_FILES, work)
        home.mkdir()
        shutil.copy(config, work / ".gitlab-ci.yml")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "NODE_OPTIONS": f"--import={HERE / 'oracle_set_methods.mjs'}",
            "GIT_AUTHOR_NAME": "Kiln",
            "GIT_AUTHOR_EMAIL": "kiln@example.com",
            "GIT_COMMITTER_NAME": "Kiln",
            "GIT_COMMITTER_EMAIL": "kiln@example.com",
        }
        for argv in (
            ["git", "init", "-q", "-b", "main"],
            ["git", "add", "-A"],
            ["git", "commit", "-q", "-m", "corpus"],
            ["git", "remote", "add", "origin", "https://gitlab.example.com/grp/proj.git"],
            ["git", "update-ref", "refs/remotes/origin/main", "HEAD"],
            ["git", "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main"],
        ):
            subprocess.run(argv, cwd=work, env=env, check=True, capture_output=True)
        # --no-evaluate-rule-changes makes every changes: clause true, as Kiln does when the
        # changed paths are unknown (the context below passes None). Its schema check is
        # skipped: it takes most of the time and Kiln's schema handling is tested elsewhere.
        done = subprocess.run(
            [
                str(BINARY),
                "--list-json",
                "--no-evaluate-rule-changes",
                "--no-json-schema-validation",
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    listed: list[dict[str, Any]] = json.loads(done.stdout[done.stdout.index("[") :])
    return listed


@pytest.fixture(scope="module")
def oracle_results() -> dict[str, list[dict[str, Any]]]:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = pool.map(_oracle, CONFIGS)
        return {config.name: result for config, result in zip(CONFIGS, results, strict=True)}


_PARALLEL_NUMBER = re.compile(r"^(?P<job>.*): \[(?P<index>\d+)/(?P<total>\d+)\]$")
_INSTANCE = re.compile(r"^(?P<job>.*?)(?:: \[.*\]| \d+/\d+)$")


def _gitlab_name(name: str) -> str:
    """gitlab-ci-local writes `job: [1/3]` and `job: [a,b]`; GitLab `job 1/3`, `job: [a, b]`."""
    match = _PARALLEL_NUMBER.match(name)
    if match:
        return f"{match['job']} {match['index']}/{match['total']}"
    return re.sub(r",\s*", ", ", name)


def _oracle_rows(listed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    active = [job for job in listed if job["when"] != "never"]
    names = {_gitlab_name(job["name"]) for job in active}
    bases = {_INSTANCE.sub(r"\g<job>", name) for name in names} | names
    rows = {}
    for job in active:
        needs = None
        if "needs" in job:
            # GitLab drops an optional need whose job is not in the pipeline.
            needs = [
                _gitlab_name(need["job"])
                for need in job["needs"]
                if not (need.get("optional") and _gitlab_name(need["job"]) not in bases)
            ]
        rows[_gitlab_name(job["name"])] = {
            "stage": job["stage"],
            "when": job["when"],
            "allow_failure": job["allow_failure"],
            "needs": needs,
        }
    return rows


def _kiln_rows(result: PipelinePlan) -> dict[str, dict[str, Any]]:
    rows = {}
    for job in result.jobs:
        needs = None
        if job.needs is not None:
            # gitlab-ci-local lists needs as written; Kiln expands parallel jobs into their
            # instances. Compare the written form.
            collapsed = [_INSTANCE.sub(r"\g<job>", need.job) for need in job.needs]
            needs = list(dict.fromkeys(collapsed))
        allow_failure: Any = job.allow_failure
        if job.allow_failure_exit_codes:
            allow_failure = {"exit_codes": list(job.allow_failure_exit_codes)}
        rows[job.name] = {
            "stage": job.stage,
            "when": job.when,
            "allow_failure": allow_failure,
            "needs": needs,
        }
    return rows


def _kiln(config: Path) -> PipelinePlan:
    files = {
        path.relative_to(REPO_FILES).as_posix(): path.read_text()
        for path in REPO_FILES.rglob("*")
        if path.is_file()
    }
    ctx = context(files=[*files, ".gitlab-ci.yml"], changed_paths=None)
    result = run(config.read_text(), ctx, fetcher=FakeFetcher(files=files))
    assert isinstance(result, PipelinePlan), result
    return result


def _apply_deviations(name: str, oracle: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    expected = {job: dict(row) for job, row in oracle.items()}
    for (config, job), (field, value, _why) in KNOWN_DEVIATIONS.items():
        if config != name:
            continue
        assert job in expected, f"stale deviation: {config} {job}"
        if field == "present" and value is False:
            del expected[job]
        else:
            expected[job][field] = value
    return expected


def test_corpus_size() -> None:
    assert len(CONFIGS) >= 20


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_against_gitlab_ci_local(
    config: Path, oracle_results: dict[str, list[dict[str, Any]]]
) -> None:
    oracle = _oracle_rows(oracle_results[config.name])
    expected = _apply_deviations(config.name, oracle)
    assert _kiln_rows(_kiln(config)) == expected

"""include: local, project, template, remote; rules, inputs, merge order, limits, cycles."""

from __future__ import annotations

import pytest

from kiln.ci.config import ConfigErrors, Limits, PipelinePlan, Variable

from .helpers import FakeFetcher, context, errors, plan, run


def test_merge_order_included_first_including_file_wins() -> None:
    fetcher = FakeFetcher(
        files={
            "ci/a.yml": "variables: {A: a, SHARED: a}\njob: {script: [from-a], stage: build}\n",
            "ci/b.yml": "variables: {B: b, SHARED: b}\njob: {variables: {FROM_B: '1'}}\n",
        }
    )
    result = plan(
        """
        include:
          - local: ci/a.yml
          - ci/b.yml
        variables: {SHARED: main}
        job:
          script: [from-main]
        """,
        fetcher=fetcher,
    )
    job = result.job("job")
    assert job.script == ("from-main",)  # arrays are replaced, not merged
    assert job.stage == "build"  # hashes are merged deeply
    assert job.variables["FROM_B"] == Variable("1")
    assert result.variables == {"A": Variable("a"), "SHARED": Variable("main"), "B": Variable("b")}
    assert [i["location"] for i in result.includes] == ["ci/a.yml", "ci/b.yml"]


def test_nested_includes_and_leading_slash() -> None:
    fetcher = FakeFetcher(
        files={
            "one.yml": "include: /two.yml\none: {script: x}\n",
            "two.yml": "two: {script: x}\n",
        }
    )
    result = plan("include: one.yml\nmain: {script: x}\n", fetcher=fetcher)
    # GitLab merges included content first, so included jobs come first (depth first).
    assert result.job_names == ("two", "one", "main")


def test_wildcard_local_include() -> None:
    fetcher = FakeFetcher(
        files={
            "configs/a.yml": "a: {script: x}\n",
            "configs/b.yml": "b: {script: x}\n",
            "configs/sub/c.yml": "c: {script: x}\n",
            "configs/readme.md": "not yaml",
        }
    )
    assert plan("include: 'configs/*.yml'\n", fetcher=fetcher).job_names == ("a", "b")
    assert plan("include: 'configs/**/*.yml'\n", fetcher=fetcher).job_names == ("a", "b", "c")


def test_variables_in_locations() -> None:
    fetcher = FakeFetcher(files={"ci/main.yml": "included: {script: x}\n"})
    ctx = context(project_variables={"CI_DIR": "ci"})
    result = plan("include: $CI_DIR/$CI_DEFAULT_BRANCH.yml\n", ctx, fetcher=fetcher)
    assert result.job_names == ("included",)


@pytest.mark.parametrize(
    ("include", "files", "message"),
    [
        ("missing.yml", {}, "Local file `missing.yml` does not exist!"),
        ("empty.yml", {"empty.yml": "  \n"}, "Local file `empty.yml` is empty!"),
        ("config.txt", {}, "Included file `config.txt` does not have YAML extension!"),
        ("../../etc/passwd.yml", {}, "Local file `../../etc/passwd.yml` does not exist!"),
        (
            "list.yml",
            {"list.yml": "- a\n- b\n"},
            "Included file `list.yml` does not have valid YAML syntax!",
        ),
        ("bad.yml", {"bad.yml": "job: [\n"}, "`bad.yml`: (<unknown>): "),
    ],
)
def test_local_include_errors(include: str, files: dict[str, str], message: str) -> None:
    found = errors(f"include: '{include}'\njob: {{script: x}}\n", fetcher=FakeFetcher(files=files))
    assert found[0].startswith(message)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("5", "Each include must be a hash or a string"),
        ("{foo: bar}", "include config contains unknown keys: foo"),
        (
            "{ref: main}",
            '`{"ref":"main"}` does not have a valid subkey for include. Valid subkeys are: '
            "`local`, `project`, `remote`, `template`, `artifact`, `component`",
        ),
        (
            "{local: a.yml, template: b.gitlab-ci.yml}",
            "Each include must use only one of: `local`, `project`, `remote`, `template`, "
            "`artifact`, `component`",
        ),
        ("{local: 5}", "Included file `5` needs to be a string"),
        ("{component: gitlab.com/x/y@1}", "Component `gitlab.com/x/y@1` cannot be included"),
        (
            "{artifact: gen.yml, job: gen}",
            "Including configs from artifacts is only allowed when triggering child pipelines",
        ),
    ],
)
def test_include_entry_errors(entry: str, message: str) -> None:
    assert errors(f"include: [{entry}]\njob: {{script: x}}\n")[0].startswith(message)


def test_template_include_uses_gitlab_templates() -> None:
    result = plan("include:\n  - template: Jobs/Build.gitlab-ci.yml\n")
    assert result.job_names == ("build",)
    assert result.includes == ({"type": "template", "location": "Jobs/Build.gitlab-ci.yml"},)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Nope.gitlab-ci.yml", "Included file `Nope.gitlab-ci.yml` is empty or does not exist!"),
        ("Bash.yml", "Template file `Bash.yml` is not a valid location!"),
        (
            "../../../etc/x.gitlab-ci.yml",
            "Included file `../../../etc/x.gitlab-ci.yml` is empty or does not exist!",
        ),
    ],
)
def test_template_errors(name: str, message: str) -> None:
    assert errors(f"include: {{template: '{name}'}}\njob: {{script: x}}\n") == (message,)


def test_project_include_and_local_inside_it() -> None:
    fetcher = FakeFetcher(
        projects={
            ("grp/shared", "v1"): {
                "ci/base.yml": "include: {local: ci/more.yml}\nbase: {script: x}\n",
                "ci/more.yml": "more: {script: x}\n",
                "ci/other.yml": "other: {script: x}\n",
            }
        }
    )
    result = plan(
        """
        include:
          - project: GRP/Shared
            ref: v1
            file: [ci/base.yml, /ci/other.yml]
        """,
        fetcher=fetcher,
    )
    assert result.job_names == ("more", "base", "other")
    # The local include inside the project file is read from that project at that ref.
    assert ("project", "grp/shared", "v1", "ci/more.yml") in fetcher.calls
    assert ("local", "ci/more.yml") not in fetcher.calls


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{project: grp/secret, file: a.yml}",
            "Project `grp/secret` not found or access denied! Make sure any includes in the "
            "pipeline configuration are correctly defined.",
        ),
        (
            "{project: grp/shared, ref: nope, file: a.yml}",
            "Project `grp/shared` reference `nope` does not exist!",
        ),
        (
            "{project: grp/shared, ref: v1, file: missing.yml}",
            "Project `grp/shared` file `missing.yml` does not exist!",
        ),
    ],
)
def test_project_include_errors(entry: str, message: str) -> None:
    fetcher = FakeFetcher(projects={("grp/shared", "v1"): {}}, forbidden={"grp/secret"})
    assert errors(f"include: [{entry}]\njob: {{script: x}}\n", fetcher=fetcher) == (message,)


def test_remote_include_refused_unless_allowed() -> None:
    url = "https://example.com/ci.yml"
    fetcher = FakeFetcher(remotes={url: "remote: {script: x}\n"})
    refused = errors(f"include: {url}\njob: {{script: x}}\n", fetcher=fetcher)
    assert refused == (
        f"Remote file `{url}` could not be fetched because remote includes are not allowed "
        "on this server!",
    )
    assert ("remote", url) not in fetcher.calls
    allowed = plan(
        f"include: {url}\njob: {{script: x}}\n",
        context(allow_remote_includes=True),
        fetcher=fetcher,
    )
    assert allowed.job_names == ("remote", "job")
    assert errors(
        "include: {remote: 'ftp://example.com/a.yml'}\njob: {script: x}\n",
        context(allow_remote_includes=True),
    ) == ("Remote file `ftp://example.com/a.yml` does not have a valid address!",)


def test_include_rules() -> None:
    fetcher = FakeFetcher(
        files={
            "main-only.yml": "main-only: {script: x}\n",
            "tags-only.yml": "tags-only: {script: x}\n",
            "docker.yml": "docker: {script: x}\n",
            "excluded.yml": "excluded: {script: x}\n",
        }
    )
    yaml_text = """
        include:
          - local: main-only.yml
            rules:
              - if: $CI_COMMIT_BRANCH == "main"
          - local: tags-only.yml
            rules:
              - if: $CI_COMMIT_TAG
          - local: docker.yml
            rules:
              - exists: [Dockerfile]
          - local: excluded.yml
            rules:
              - if: $CI_COMMIT_BRANCH
                when: never
              - when: always
        job: {script: x}
        """
    on_main = plan(yaml_text, context(files=["Dockerfile"]), fetcher=fetcher)
    assert on_main.job_names == ("main-only", "docker", "job")
    on_tag = plan(yaml_text, context(branch=None, tag="v1"), fetcher=fetcher)
    assert on_tag.job_names == ("tags-only", "excluded", "job")


def test_include_rules_use_pipeline_not_yaml_variables() -> None:
    fetcher = FakeFetcher(files={"x.yml": "x: {script: x}\n"})
    yaml_text = """
        variables: {ENABLE_X: "yes"}
        include:
          - local: x.yml
            rules: [{if: $ENABLE_X}]
        job: {script: x}
        """
    assert plan(yaml_text, fetcher=fetcher).job_names == ("job",)
    ctx = context(project_variables={"ENABLE_X": "yes"})
    assert plan(yaml_text, ctx, fetcher=fetcher).job_names == ("x", "job")


def test_include_rules_errors() -> None:
    fetcher = FakeFetcher(files={"x.yml": "x: {script: x}\n"})
    found = errors(
        "include:\n  - local: x.yml\n    rules: [{if: $A, foo: 1}]\njob: {script: x}\n",
        fetcher=fetcher,
    )
    assert found == ("include:rule config contains unknown keys: foo",)
    found = errors(
        "include:\n  - local: x.yml\n    rules: [{if: $A, when: manual}]\njob: {script: x}\n",
        fetcher=fetcher,
    )
    assert found == ("include:rule when unknown value: manual",)


def test_include_inputs() -> None:
    fetcher = FakeFetcher(
        files={
            "tpl.yml": (
                "spec:\n  inputs:\n    stage: {default: test}\n    copies: {type: number}\n"
                "    strict: {type: boolean, default: false}\n"
                "---\n"
                '"deploy-$[[ inputs.stage ]]":\n'
                "  stage: $[[ inputs.stage ]]\n"
                "  parallel: $[[ inputs.copies ]]\n"
                "  allow_failure: $[[ inputs.strict ]]\n"
                "  script: echo $[[ inputs.stage ]]/$[[ inputs.copies ]]\n"
            ),
            "plain.yml": "plain: {script: x}\n",
        }
    )
    result = plan(
        "include:\n  - local: tpl.yml\n    inputs: {stage: build, copies: 2}\n",
        fetcher=fetcher,
    )
    assert result.job_names == ("deploy-build 1/2", "deploy-build 2/2")
    job = result.jobs[0]
    assert (job.stage, job.allow_failure, job.script) == ("build", False, ("echo build/2",))

    def fails(inputs: str, file: str = "tpl.yml") -> str:
        text = f"include:\n  - local: {file}\n    inputs: {inputs}\n"
        return errors(text, fetcher=fetcher)[0]

    assert fails("{}") == "`tpl.yml`: `copies` input: required value has not been provided"
    assert fails("{copies: two}") == "`tpl.yml`: `copies` input: provided value is not a number"
    assert fails("{copies: 1, nope: 1}") == "`tpl.yml`: unknown input arguments: nope"
    assert fails("{a: 1}", "plain.yml") == (
        "`plain.yml`: Given inputs not defined in the `spec` section of the included "
        "configuration file"
    )


def test_top_level_inputs_from_context() -> None:
    text = (
        "spec:\n  inputs:\n    env: {options: [dev, prod]}\n---\n"
        "job-$[[ inputs.env ]]: {script: x}\n"
    )
    assert plan(text, context(inputs={"env": "prod"})).job_names == ("job-prod",)
    found = errors(text, context(inputs={"env": "qa"}))
    assert found == (
        "`env` input: `qa` cannot be used because it is not in the list of allowed options",
    )


def test_interpolation_functions_are_reported_as_unsupported() -> None:
    text = (
        "spec:\n  inputs:\n    a: {default: x}\n---\n"
        "job: {script: '$[[ inputs.a | truncate(0,1) ]]'}\n"
    )
    assert "not supported" in errors(text)[0]


def test_max_includes() -> None:
    files = {f"f{i}.yml": f"j{i}: {{script: x}}\n" for i in range(151)}
    text = "include:\n" + "".join(f"  - f{i}.yml\n" for i in range(151))
    assert errors(text, fetcher=FakeFetcher(files=files)) == (
        "Maximum of 150 nested includes are allowed!",
    )
    ok = "include:\n" + "".join(f"  - f{i}.yml\n" for i in range(150))
    assert len(plan(ok, fetcher=FakeFetcher(files=files)).jobs) == 150


def test_max_includes_counts_nested_files() -> None:
    files = {f"f{i}.yml": f"include: f{i + 1}.yml\nj{i}: {{script: x}}\n" for i in range(10)}
    files["f10.yml"] = "last: {script: x}\n"
    ctx = context(limits=Limits(max_includes=5))
    assert errors("include: f0.yml\n", ctx, fetcher=FakeFetcher(files=files)) == (
        "Maximum of 5 nested includes are allowed!",
    )


def test_include_cycles_are_detected() -> None:
    fetcher = FakeFetcher(
        files={
            "a.yml": "include: b.yml\na: {script: x}\n",
            "b.yml": "include: c.yml\nb: {script: x}\n",
            "c.yml": "include: a.yml\nc: {script: x}\n",
        }
    )
    assert errors("include: a.yml\n", fetcher=fetcher) == (
        "Include cycle detected: `a.yml` -> `b.yml` -> `c.yml` -> `a.yml`",
    )
    self_include = errors("include: .gitlab-ci.yml\njob: {script: x}\n", fetcher=fetcher)
    assert self_include == ("Include cycle detected: `.gitlab-ci.yml` -> `.gitlab-ci.yml`",)


def test_diamond_includes_are_not_cycles() -> None:
    fetcher = FakeFetcher(
        files={
            "left.yml": "include: common.yml\nleft: {script: x}\n",
            "right.yml": "include: common.yml\nright: {script: x}\n",
            "common.yml": "common: {script: x}\n",
        }
    )
    result = plan("include: [left.yml, right.yml]\n", fetcher=fetcher)
    assert result.job_names == ("common", "left", "right")


def test_total_size_limit() -> None:
    big = "x: {script: x}\n# " + "a" * 2000 + "\n"
    files = {f"f{i}.yml": big for i in range(10)}
    ctx = context(limits=Limits(max_total_yaml_bytes=10_000))
    text = "include: [" + ", ".join(f"f{i}.yml" for i in range(10)) + "]\n"
    assert errors(text, ctx, fetcher=FakeFetcher(files=files)) == (
        "Total size of combined CI/CD configuration is too big",
    )


def test_yaml_bomb_in_included_file() -> None:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, n in zip("abcdefg", "bcdefgh", strict=True)
    )
    result = run(
        "include: bomb.yml\njob: {script: x}\n", fetcher=FakeFetcher(files={"bomb.yml": bomb})
    )
    assert isinstance(result, ConfigErrors)
    assert result.errors == ("`bomb.yml`: The parsed YAML is too big",)


def test_no_fetcher_means_nothing_can_be_included() -> None:
    from kiln.ci.config import process_config

    result = process_config("include: a.yml\njob: {script: x}\n", context())
    assert isinstance(result, ConfigErrors)
    assert result.errors == ("Local file `a.yml` does not exist!",)
    # ...but a configuration without includes needs no fetcher.
    assert isinstance(process_config("job: {script: x}\n", context()), PipelinePlan)


def test_artifact_include_of_a_child_pipeline() -> None:
    fetcher = FakeFetcher(
        files={"ci/common.yml": "variables: {COMMON: '1'}\n"},
        artifacts={("gen", "out/child.yml"): "include: ci/common.yml\nchild: {script: [go]}\n"},
    )
    child = context(source="parent_pipeline")
    result = plan("include: [{artifact: out/child.yml, job: gen}]\n", child, fetcher=fetcher)
    assert [job.name for job in result.jobs] == ["child"]
    assert result.variables["COMMON"].value == "1"
    assert result.includes[0] == {
        "type": "artifact",
        "location": "out/child.yml",
        "job_name": "gen",
    }


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{artifact: child.yml}", "Job must be provided when including configs from artifacts"),
        (
            "{artifact: child.txt, job: gen}",
            "Included file `child.txt` does not have YAML extension!",
        ),
        (
            "{artifact: missing.yml, job: nobody}",
            "Job `nobody` not found in parent pipeline or does not have artifacts!",
        ),
        ("{artifact: empty.yml, job: gen}", "File `empty.yml` is empty!"),
        ("{artifact: list.yml, job: gen}", "Included file `list.yml` does not have valid YAML"),
    ],
)
def test_artifact_include_errors(entry: str, message: str) -> None:
    fetcher = FakeFetcher(artifacts={("gen", "empty.yml"): "  \n", ("gen", "list.yml"): "- a\n"})
    child = context(source="parent_pipeline")
    found = errors(f"include: [{entry}]\n", child, fetcher=fetcher)
    assert found[0].startswith(message), found

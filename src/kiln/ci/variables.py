"""CI/CD variables: the instance's, groups' and projects' (CRUD with GitLab's validation), and
the list a job receives.

Which variables a pipeline sees: protected ones only on protected refs; those with an
`environment_scope` other than `*` only in jobs whose environment matches it. Precedence,
lowest first (GitLab's): predefined, YAML, dotenv of dependencies, instance, groups (the
root first), project, pipeline. The runner gets them as `{key, value, public, masked, file,
raw}`, references already expanded except to file and raw variables and to names nobody
defined (the runner expands those, e.g. `$HOME`), as GitLab's `runner_variables`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from kiln.ci.config.variables import expand, references
from kiln.ci.models import Variable, VariableType
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, InvalidParameter, NotFound, ValidationFailed
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project

KEY_RE = re.compile(r"[a-zA-Z0-9_]+\Z")
MASKABLE_RE = re.compile(r"[a-zA-Z0-9_+=/@:.~-]{8,}\Z")
MAX_VALUE_LENGTH = 10_000


@dataclass(frozen=True)
class JobVariable:
    """One entry of the runner payload's `variables`."""

    key: str
    value: str
    public: bool = True
    masked: bool = False
    file: bool = False
    raw: bool = False

    def as_payload(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "public": self.public,
            "masked": self.masked,
            "file": self.file,
            "raw": self.raw,
        }


# --- which variables apply ------------------------------------------------------------------


def scope_matches(scope: str, environment: str | None) -> bool:
    """GitLab's environment scope: `*` matches everything; otherwise `*` is a wildcard."""
    if scope == "*":
        return True
    if environment is None:
        return False
    if "*" not in scope:
        return scope == environment
    pattern = ".*".join(re.escape(part) for part in scope.split("*"))
    return re.fullmatch(pattern, environment, re.DOTALL) is not None


def _ancestor_ids(project: Project) -> list[int]:
    namespace = project.namespace
    if not namespace.is_group:
        return []
    return [int(i) for i in namespace.traversal_ids.split("/") if i]


def applicable_variables(
    project: Project, *, protected: bool, environment: str | None
) -> list[Variable]:
    """Instance, group (root first) and project variables, lowest precedence first."""
    groups = _ancestor_ids(project)
    q = Q(project__isnull=True, namespace__isnull=True) | Q(project=project)
    if groups:
        q |= Q(namespace_id__in=groups)
    rows = list(Variable.objects.filter(q).order_by("id"))
    if not protected:
        rows = [row for row in rows if not row.protected]
    rows = [row for row in rows if scope_matches(row.environment_scope, environment)]
    depth = {group_id: index for index, group_id in enumerate(groups)}

    def rank(row: Variable) -> tuple[int, int, int]:
        if row.project_id is not None:
            # A specific scope beats `*` for the same key: GitLab sorts by scope.
            return (2 + len(groups), 0 if row.environment_scope == "*" else 1, row.pk)
        if row.namespace_id is not None:
            return (1 + depth.get(row.namespace_id, 0), 0, row.pk)
        return (0, 0, row.pk)

    return sorted(rows, key=rank)


def as_job_variables(rows: Iterable[Variable]) -> list[JobVariable]:
    return [
        JobVariable(
            key=row.key,
            value=row.value,
            public=False,
            masked=row.masked,
            file=row.variable_type == VariableType.FILE,
            raw=row.raw,
        )
        for row in rows
    ]


def config_layers(project: Project, *, protected: bool) -> dict[str, dict[str, Any]]:
    """Instance, group and project variables for evaluating `.gitlab-ci.yml` (GitLab uses
    only `*`-scoped ones there: no environment is known yet)."""
    from kiln.ci.config import Variable as ConfigVariable

    layers: dict[str, dict[str, Any]] = {"instance": {}, "group": {}, "project": {}}
    for row in applicable_variables(project, protected=protected, environment=None):
        layer = "instance"
        if row.project_id is not None:
            layer = "project"
        elif row.namespace_id is not None:
            layer = "group"
        # File variables hold a path on the runner; in rules GitLab compares their content.
        layers[layer][row.key] = ConfigVariable(row.value, expand=not row.raw)
    return layers


def expand_for_runner(variables: Sequence[JobVariable]) -> list[JobVariable]:
    """GitLab's `sort_and_expand_all(keep_undefined: true, expand_file_refs: false,
    expand_raw_refs: false)`: later entries win; a cycle leaves everything as written."""
    final: dict[str, JobVariable] = {}
    for variable in variables:
        final.pop(variable.key, None)
        final[variable.key] = variable
    expandable = {k: v for k, v in final.items() if not v.file and not v.raw}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(key: str) -> bool:
        mark = state.get(key)
        if mark == 2:
            return True
        if mark == 1:
            return False
        state[key] = 1
        for ref in references(expandable[key].value):
            if ref in expandable and ref != key and not visit(ref):
                return False
        state[key] = 2
        order.append(key)
        return True

    for key in expandable:
        if not visit(key):
            return list(final.values())
    values: dict[str, str] = {}
    for key in order:
        values[key] = expand(expandable[key].value, values, keep_undefined=True)
    return [
        replace(v, value=values[k]) if k in values and values[k] != v.value else v
        for k, v in final.items()
    ]


# --- CRUD -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariableOwner:
    """Whose variables: a project, a group, or the instance (both None)."""

    project: Project | None = None
    group: Namespace | None = None

    def queryset(self) -> QuerySet[Variable]:
        if self.project is not None:
            return Variable.objects.filter(project=self.project)
        if self.group is not None:
            return Variable.objects.filter(namespace=self.group)
        return Variable.objects.filter(project__isnull=True, namespace__isnull=True)

    @property
    def is_instance(self) -> bool:
        return self.project is None and self.group is None


def _authorize(actor: Actor, owner: VariableOwner) -> None:
    from kiln.ci import policies

    if owner.project is not None:
        allowed = policies.can_admin_ci(actor, owner.project)
    elif owner.group is not None:
        allowed = policies.can_admin_group_ci(actor, owner.group)
    else:
        allowed = actor.is_admin
    if not allowed:
        raise Forbidden()


def list_variables(*, actor: Actor, owner: VariableOwner) -> QuerySet[Variable]:
    _authorize(actor, owner)
    return owner.queryset().order_by("id")


def get_variable(
    *, actor: Actor, owner: VariableOwner, key: str, environment_scope: str | None = None
) -> Variable:
    _authorize(actor, owner)
    rows = owner.queryset().filter(key=key)
    if environment_scope is not None:
        rows = rows.filter(environment_scope=environment_scope)
    found = list(rows.order_by("id")[:2])
    if not found:
        raise NotFound("Variable")
    if len(found) > 1:
        # GitLab's message when a key exists in several scopes and no filter picks one.
        raise ValidationFailed(
            {
                "message": [
                    "There are multiple variables with provided parameters. Please use "
                    "'filter[environment_scope]'"
                ]
            }
        )
    return found[0]


_ATTRIBUTES = ("value", "variable_type", "protected", "masked", "raw", "description")


def _validate(row: Variable, owner: VariableOwner) -> None:
    errors: dict[str, list[str]] = {}
    if row._state.adding and row.hidden and not row.masked:
        errors["masked"] = ["should be true when variable is hidden"]
    if not row.key:
        errors["key"] = ["can't be blank"]
    elif len(row.key) > 255:
        errors["key"] = ["is too long (maximum is 255 characters)"]
    elif not KEY_RE.match(row.key):
        errors["key"] = ["can contain only letters, digits and '_'."]
    if len(row.value) > MAX_VALUE_LENGTH:
        errors["value"] = [f"is too long (maximum is {MAX_VALUE_LENGTH} characters)"]
    elif row.masked and not MASKABLE_RE.match(row.value):
        errors["value"] = ["is invalid"]
    if owner.is_instance and row.environment_scope != "*":
        errors["environment_scope"] = ["is not supported for instance variables"]
    elif not row.environment_scope or len(row.environment_scope) > 255:
        errors["environment_scope"] = ["is invalid"]
    if errors:
        raise ValidationFailed(errors)
    duplicate = owner.queryset().filter(key=row.key)
    if not owner.is_instance:
        duplicate = duplicate.filter(environment_scope=row.environment_scope)
    if row.pk is not None:
        duplicate = duplicate.exclude(pk=row.pk)
    if duplicate.exists():
        raise ValidationFailed({"key": [f"({row.key}) has already been taken"]})


def _check_type(changes: Mapping[str, Any]) -> None:
    kind = changes.get("variable_type")
    if kind is not None and kind not in VariableType.values:
        raise InvalidParameter("variable_type does not have a valid value")


def create_variable(
    *, actor: Actor, owner: VariableOwner, key: str, changes: Mapping[str, Any]
) -> Variable:
    _authorize(actor, owner)
    _check_type(changes)
    row = Variable(project=owner.project, namespace=owner.group, key=str(key).strip())
    for name in _ATTRIBUTES:
        if changes.get(name) is not None:
            setattr(row, name, changes[name])
    # Masked and hidden (GitLab 17.4): only when created, and never for instance variables.
    row.hidden = bool(changes.get("hidden")) and not owner.is_instance
    if changes.get("environment_scope"):
        row.environment_scope = str(changes["environment_scope"])
    _validate(row, owner)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise ValidationFailed({"key": [f"({row.key}) has already been taken"]}) from None
    return row


def update_variable(
    *, actor: Actor, owner: VariableOwner, row: Variable, changes: Mapping[str, Any]
) -> Variable:
    _authorize(actor, owner)
    _check_type(changes)
    was_masked, was_hidden = row.masked, row.hidden
    for name in _ATTRIBUTES:
        if changes.get(name) is not None:
            setattr(row, name, changes[name])
    if changes.get("hidden") is not None:
        row.hidden = bool(changes["hidden"])
    _check_visibility_change(row, was_masked=was_masked, was_hidden=was_hidden)
    if changes.get("environment_scope"):
        row.environment_scope = str(changes["environment_scope"])
    _validate(row, owner)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise ValidationFailed({"key": [f"({row.key}) has already been taken"]}) from None
    return row


def _check_visibility_change(row: Variable, *, was_masked: bool, was_hidden: bool) -> None:
    """GitLab's Ci::HidableVariable: a variable is hidden only when created, and a hidden
    one stays masked and hidden (its value is never shown again)."""
    masked_changed, hidden_changed = row.masked != was_masked, row.hidden != was_hidden
    if not masked_changed and not hidden_changed:
        return
    if not row.hidden and not hidden_changed:
        return
    if hidden_changed:
        raise ValidationFailed({"base": ["Only new variables can be set as masked and hidden."]})
    raise ValidationFailed(
        {"base": ["The visibility setting cannot be changed for masked and hidden variables."]}
    )


def delete_variable(*, actor: Actor, owner: VariableOwner, row: Variable) -> None:
    _authorize(actor, owner)
    row.delete()


# --- the variables of a job the runner takes --------------------------------------------------


def runner_variables(job: Any, *, token: str, base_url: str) -> list[JobVariable]:
    """Every variable of `job` for its runner, in GitLab's order, expanded (see the module
    docstring). `job` must have been picked (it has a token and a runner)."""
    from kiln.ci.models import Job, PipelineVariable
    from kiln.ci.predefined import job_variables, variables_of_pipeline
    from kiln.ci.queries import dependencies_of

    assert isinstance(job, Job)
    pipeline = job.pipeline
    result: list[JobVariable] = [
        JobVariable(key, value) for key, value in variables_of_pipeline(pipeline, base_url)
    ]
    result += [
        JobVariable(key, value, public=public, masked=not public and key != "CI_REPOSITORY_URL")
        for key, value, public in job_variables(job, token=token, base_url=base_url)
    ]
    result += [
        JobVariable(str(v["key"]), str(v.get("value", "")), raw=bool(v.get("raw")))
        for v in job.yaml_variables
    ]
    for dependency in dependencies_of(job):
        result += [
            JobVariable(str(v["key"]), str(v.get("value", "")), public=False)
            for v in dependency.dotenv_variables
        ]
    environment = job.options.get("environment") or {}
    result += as_job_variables(
        applicable_variables(
            job.project,
            protected=job.protected,
            environment=environment.get("name") if isinstance(environment, dict) else None,
        )
    )
    result += [
        JobVariable(
            row.key,
            row.value,
            public=False,
            file=row.variable_type == VariableType.FILE,
            raw=row.raw,
        )
        for row in PipelineVariable.objects.filter(pipeline=pipeline).order_by("pk")
    ]
    result += [
        JobVariable(str(v["key"]), str(v.get("value", "")), public=False)
        for v in job.options.get("play_variables") or []
    ]
    return expand_for_runner(result)

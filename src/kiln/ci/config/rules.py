"""`rules:` (jobs, `workflow:`, `include:`) and the older `only:`/`except:` policies.

Rules are evaluated in order; the first rule whose clauses all hold wins and contributes
its attributes (`when`, `allow_failure`, `variables`, `needs`, ...). A rule with no clause
always matches. No matching rule means `when: never`.

Clauses, as GitLab evaluates them:

* `if:`      a variable expression (see expressions.py) over the job's variables;
* `changes:` true when any changed path matches any glob; when the changed paths are not
             known (new branch, tag, schedule, web/API run) it is *true*;
             `compare_to:` asks the caller for the changes since that ref;
* `exists:`  true when any file of the commit matches any glob.

Globs in `changes:`/`exists:` may reference variables (`$DIR/**/*.py`); undefined ones are
left as written.

`only:`/`except:`: refs (keywords `branches`, `tags`, `merge_requests`, `pushes`, `web`,
`api`, `schedules`, `triggers`, `pipelines`, ...; exact names; `/regex/`; `ref@project`),
`variables:` (any expression true), `changes:` and `kubernetes: active`. Every `only:` part
must hold and no `except:` part may. A job without `rules:` and `only:` gets GitLab's
default `only: [branches, tags]` unless `workflow:rules` exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiln.ci.config import expressions
from kiln.ci.config.context import ConfigContext
from kiln.ci.config.errors import ConfigError
from kiln.ci.config.globs import any_path_matches
from kiln.ci.config.regex import (
    UntrustedRegexError,
    compile_ruby_syntax,
    ruby_syntax_parts,
    searches,
)
from kiln.ci.config.variables import expand

JOB_RULE_KEYS = frozenset(
    {
        "if",
        "changes",
        "exists",
        "when",
        "start_in",
        "allow_failure",
        "variables",
        "needs",
        "interruptible",
    }
)
JOB_RULE_WHEN = ("on_success", "on_failure", "always", "never", "manual", "delayed")
WORKFLOW_RULE_KEYS = frozenset({"if", "changes", "exists", "when", "variables", "auto_cancel"})
WORKFLOW_RULE_WHEN = ("always", "never")
INCLUDE_RULE_KEYS = frozenset({"if", "changes", "exists", "when"})
INCLUDE_RULE_WHEN = ("never", "always")
MAX_RULES_NESTING = 10


@dataclass(frozen=True)
class RuleContext:
    """What clauses are evaluated against: expanded variables and the pipeline."""

    variables: Mapping[str, str]
    pipeline: ConfigContext


@dataclass(frozen=True)
class RuleOutcome:
    index: int | None
    rule: Mapping[str, Any] | None

    @property
    def matched(self) -> bool:
        return self.rule is not None


def flatten_rules(rules: Any, location: str) -> tuple[list[Any], list[str]]:
    """Rules may contain nested arrays (from `!reference` or anchors); GitLab flattens
    them up to 10 levels. Returns (rules, errors)."""
    if not isinstance(rules, list):
        return [], [f"{location} config should be an array"]
    flat: list[Any] = []

    def visit(items: list[Any], level: int) -> bool:
        if level > MAX_RULES_NESTING:
            return False
        for item in items:
            if isinstance(item, list):
                if not visit(item, level + 1):
                    return False
            else:
                flat.append(item)
        return True

    if not visit(rules, 1):
        return [], [f"{location} config should be an array of hashes nested up to 10 levels"]
    return flat, []


def validate_rules(
    rules: Sequence[Any],
    location: str,
    *,
    allowed_keys: frozenset[str],
    allowed_when: Sequence[str],
) -> list[str]:
    """GitLab's entry validation for each rule; messages use `<location>:rule`."""
    errors: list[str] = []
    where = f"{location}:rule"
    for rule in rules:
        if not isinstance(rule, dict) or not rule:
            errors.append(f"{where} config should be a hash")
            continue
        unknown = [key for key in rule if key not in allowed_keys]
        if unknown:
            errors.append(f"{where} config contains unknown keys: {', '.join(unknown)}")
        if "if" in rule and not expressions.is_valid(rule["if"]):
            errors.append(f"{where} if invalid expression syntax")
        when = rule.get("when")
        if when is not None and when not in allowed_when:
            errors.append(f"{where} when unknown value: {when}")
        if "allow_failure" in rule and not isinstance(rule["allow_failure"], bool):
            errors.append(f"{where} allow failure should be a boolean value")
        if "interruptible" in rule and not isinstance(rule["interruptible"], bool):
            errors.append(f"{where} interruptible should be a boolean value")
        if "start_in" in allowed_keys:
            if when == "delayed" and "start_in" not in rule:
                errors.append(f"{where} start in can't be blank")
            elif when != "delayed" and "start_in" in rule:
                errors.append(f"{where} config contains disallowed keys: start_in")
        if "variables" in rule and not isinstance(rule["variables"], dict):
            errors.append(f"{where}:variables config should be a hash")
        for clause in ("changes", "exists"):
            if clause in rule and not _glob_clause_ok(rule[clause]):
                errors.append(f"{where}:{clause} config should be an array of strings")
    return errors


def _glob_clause_ok(value: Any) -> bool:
    if isinstance(value, dict):
        value = value.get("paths", [])
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _globs(value: Any, variables: Mapping[str, str]) -> list[str]:
    paths = value.get("paths", []) if isinstance(value, dict) else value
    return [expand(str(path), variables, keep_undefined=True) for path in paths or []]


def _changes_hold(clause: Any, ctx: RuleContext) -> bool:
    pipeline = ctx.pipeline
    changed: Sequence[str] | None = pipeline.changed_paths
    if isinstance(clause, dict) and clause.get("compare_to") is not None:
        compare_to = expand(str(clause["compare_to"]), ctx.variables, keep_undefined=True)
        if pipeline.changed_paths_since is not None:
            changed = pipeline.changed_paths_since(compare_to)
            if changed is None:
                raise ConfigError("rules:changes:compare_to is not a valid ref")
    if changed is None:
        return True
    if not changed:
        return False
    globs = list(dict.fromkeys(_globs(clause, ctx.variables)))
    return bool(globs) and any_path_matches(globs, changed)


def _exists_hold(clause: Any, ctx: RuleContext) -> bool:
    if isinstance(clause, dict) and clause.get("project"):
        # Looking into another project needs a permission check Kiln does not wire yet.
        return False
    check = ctx.pipeline.exists
    if check is None:
        return False
    return any(check(glob) for glob in _globs(clause, ctx.variables))


def rule_matches(rule: Mapping[str, Any], ctx: RuleContext) -> bool:
    if "if" in rule and not expressions.evaluate(str(rule["if"]), ctx.variables):
        return False
    if "changes" in rule and not _changes_hold(rule["changes"], ctx):
        return False
    return not ("exists" in rule and not _exists_hold(rule["exists"], ctx))


def first_matching_rule(rules: Sequence[Mapping[str, Any]], ctx: RuleContext) -> RuleOutcome:
    for index, rule in enumerate(rules):
        if rule_matches(rule, ctx):
            return RuleOutcome(index, rule)
    return RuleOutcome(None, None)


# --- only / except -------------------------------------------------------------------------

DEFAULT_ONLY: Mapping[str, Any] = {"refs": ["branches", "tags"]}


def normalize_policy(value: Any, location: str) -> tuple[dict[str, Any] | None, list[str]]:
    """An `only:`/`except:` value as a hash; (None, errors) when invalid."""
    if value is None:
        return None, []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            return None, [f"{location} config should be an array of strings or regexps"]
        return {"refs": value}, []
    if not isinstance(value, dict):
        return None, [f"{location} has to be either an array of conditions or a hash"]
    errors = []
    unknown = [key for key in value if key not in ("refs", "variables", "changes", "kubernetes")]
    if unknown:
        errors.append(f"{location} config contains unknown keys: {', '.join(unknown)}")
    for key in ("refs", "variables", "changes"):
        items = value.get(key)
        if items is not None and not (
            isinstance(items, list) and all(isinstance(item, str) for item in items)
        ):
            errors.append(f"{location} {key} should be an array of strings")
    if value.get("kubernetes") not in (None, "active"):
        errors.append(f"{location} kubernetes unknown value: {value['kubernetes']}")
    for statement in value.get("variables") or []:
        if isinstance(statement, str) and not expressions.is_valid(statement):
            errors.append(f"{location} variables invalid expression syntax")
    return (None if errors else dict(value)), errors


def _ref_matches(pattern: str, ctx: RuleContext) -> bool:
    pipeline = ctx.pipeline
    name, _, path = pattern.partition("@")
    if path and path != pipeline.project_path:
        return False
    source = pipeline.source
    if name == "tags" and pipeline.is_tag:
        return True
    if name == "branches" and pipeline.is_branch:
        return True
    if name == "merge_requests" and source == "merge_request_event":
        return True
    if name == "external_pull_requests" and source == "external_pull_request_event":
        return True
    if name == source or name == _pluralize(source):
        return True
    if ruby_syntax_parts(name) is not None:
        try:
            return searches(compile_ruby_syntax(name), pipeline.ref)
        except UntrustedRegexError:
            return False
    return name == pipeline.ref


def _pluralize(word: str) -> str:
    # ActiveSupport's pluralize for the pipeline sources that exist.
    return word + "es" if word.endswith(("sh", "ch", "s")) else word + "s"


def _policy_clauses(policy: Mapping[str, Any], ctx: RuleContext) -> list[bool]:
    results = []
    if "refs" in policy:
        results.append(any(_ref_matches(ref, ctx) for ref in policy["refs"]))
    if "variables" in policy:
        statements = policy["variables"] or []
        results.append(any(expressions.evaluate(s, ctx.variables) for s in statements))
    if "changes" in policy:
        changed = ctx.pipeline.changed_paths
        globs = [expand(g, ctx.variables, keep_undefined=True) for g in policy["changes"] or []]
        results.append(changed is None or any_path_matches(globs, changed))
    if "kubernetes" in policy:
        # Kiln has no cluster integration; a KUBECONFIG variable stands for an active one.
        results.append(bool(ctx.variables.get("KUBECONFIG")))
    return results


def policies_allow(
    only: Mapping[str, Any] | None, except_: Mapping[str, Any] | None, ctx: RuleContext
) -> bool:
    if only is not None and not all(_policy_clauses(only, ctx)):
        return False
    return not (except_ is not None and any(_policy_clauses(except_, ctx)))

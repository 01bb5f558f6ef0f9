"""Errors raised while turning `.gitlab-ci.yml` into a pipeline plan.

Every message a user can see is written the way GitLab writes it, so that people moving
from GitLab recognise the text and the same search for help works. Messages that GitLab
does not have (limits Kiln adds on top) say so by their wording, not by a prefix.

These exceptions never leave `kiln.ci.config`: `process_config` catches them and returns
a `ConfigErrors` value, so callers handle data, not control flow.
"""

from __future__ import annotations

# GitLab's texts for the two ways a valid configuration still creates no pipeline.
FILTERED_BY_WORKFLOW_RULES = "Pipeline filtered out by workflow rules."
NO_JOBS = (
    "Pipeline will not run for the selected trigger. "
    "The rules configuration prevented any jobs from being added to the pipeline."
)
EMPTY_CONFIG = "Please provide content of .gitlab-ci.yml"
INVALID_FORMAT = "Invalid configuration format"
YAML_TOO_BIG = "The parsed YAML is too big"


class ConfigError(Exception):
    """A configuration is invalid; carries one or more user-facing messages."""

    def __init__(self, *messages: str) -> None:
        if not messages:
            raise ValueError("a ConfigError needs at least one message")
        super().__init__(messages[0])
        self.messages: tuple[str, ...] = messages


class YamlLoadError(ConfigError):
    """The YAML text cannot be parsed, is too big, or is not a mapping."""


class IncludeError(ConfigError):
    """An `include:` entry cannot be resolved, fetched or parsed."""


class ExtendsError(ConfigError):
    """An `extends:` chain is unknown, circular or too deep."""


class ReferenceResolutionError(ConfigError):
    """A `!reference` tag is malformed, missing or circular."""


class InterpolationError(ConfigError):
    """A `spec:inputs` header or an `$[[ inputs.x ]]` block is invalid."""


class ExpressionError(Exception):
    """A CI/CD variable expression cannot be lexed, parsed or evaluated.

    Internal to the expression language: a rule whose `if:` fails at evaluation time is
    simply false, as in GitLab; config validation turns a syntax error into a ConfigError.
    """

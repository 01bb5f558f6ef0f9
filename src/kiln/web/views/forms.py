"""Small helpers of the web UI's forms: service errors as messages, checkboxes, numbers, dates,
visibility and access level choices. Used by the project settings, members, groups, new
project, forks, CI settings and admin views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.http import Http404, HttpResponseRedirect, QueryDict

from kiln.core.access import AccessLevel, Visibility
from kiln.core.errors import (
    KilnError,
    ValidationFailed,
)
from kiln.namespaces.access import HUMAN_ACCESS

_FIELD_LABELS = {
    "project_namespace.name": "Name",
    "base": "",
    "visibility_level": "Visibility level",
    "namespace": "Namespace",
    "parent_id": "Parent group",
}
VISIBILITY_HELP = {
    Visibility.PRIVATE: "Access must be granted explicitly to each user.",
    Visibility.INTERNAL: "Any signed-in user except external users can access it.",
    Visibility.PUBLIC: "Anyone can access it, without signing in.",
}


def _label(key: str) -> str:
    if key in _FIELD_LABELS:
        return _FIELD_LABELS[key]
    return key.replace("_", " ").capitalize()


def form_errors(exc: KilnError) -> list[str]:
    """A service's refusal as sentences to show above the form ("Path has already been taken")."""
    if isinstance(exc, ValidationFailed):
        found = []
        for key, messages_ in exc.errors.items():
            label = _label(key)
            for message in messages_:
                found.append(f"{label} {message}".strip())
        return found or ["The change could not be saved."]
    return [exc.message or "The change could not be saved."]


def checked(form: QueryDict, name: str) -> bool:
    """A checkbox: present (any value but "0"/"false") means on."""
    return form.get(name, "0") not in ("", "0", "false", "off")


def int_or_none(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text or not text.lstrip("-").isdigit() or len(text) > 18:
        return None
    return int(text)


def visibility_choices(current: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "value": int(v),
            "label": v.label.capitalize(),
            "help": VISIBILITY_HELP[v],
            "checked": current == int(v),
        }
        for v in (Visibility.PRIVATE, Visibility.INTERNAL, Visibility.PUBLIC)
    ]


def visibility_from(form: QueryDict, name: str = "visibility_level") -> Visibility | None:
    """The posted visibility; None when absent; ValueError when not a level."""
    raw = form.get(name)
    if raw is None or raw == "":
        return None
    level = int_or_none(raw)
    if level is None or level not in Visibility._value2member_map_:
        raise ValueError(raw)
    return Visibility(level)


def level_choices(levels: Iterable[int] | None = None) -> list[tuple[int, str]]:
    chosen = list(levels) if levels is not None else list(AccessLevel.member_levels())
    return [(int(level), HUMAN_ACCESS[AccessLevel(level)]) for level in chosen]


def date_or_none(value: str | None) -> dt.date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed({"expires_at": ["is invalid"]}) from None


def redirect(url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(url)


def refuse_unless(allowed: bool) -> None:
    """404 for an action the actor may not take (the service would refuse it as well)."""
    if not allowed:
        raise Http404()


__all__ = [
    "checked",
    "date_or_none",
    "form_errors",
    "int_or_none",
    "level_choices",
    "redirect",
    "refuse_unless",
    "visibility_choices",
    "visibility_from",
]

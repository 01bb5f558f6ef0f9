"""Finding the references a Markdown text makes (outside code and links): mentioned users
for todos, referenced issues and merge requests for "mentioned in" notes."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q

from kiln import markdown
from kiln.markdown import Reference, ReferenceType, RenderContext, ResolvedReference
from kiln.projects.models import Project


@dataclass
class _Collector:
    found: list[Reference]

    def resolve(self, references: Collection[Reference]) -> dict[Reference, ResolvedReference]:
        self.found.extend(references)
        return {}


def extract_references(text: str, *, project: Project | None) -> list[Reference]:
    """Every reference `text` makes outside code and links, in document order."""
    if not text:
        return []
    collector = _Collector(found=[])
    context = RenderContext(project=project.full_path if project is not None else None)
    markdown.render(text, resolver=collector, context=context)
    return collector.found


def references_of(
    text: str, *, project: Project | None, kinds: Iterable[ReferenceType]
) -> list[Reference]:
    wanted = set(kinds)
    return [r for r in extract_references(text, project=project) if r.type in wanted]


def mentioned_names(text: str, *, project: Project | None) -> set[str]:
    """The names `@mentioned` in `text` (outside code), lowercased; `@all` is left out."""
    names = {
        r.identifier.lower()
        for r in references_of(text, project=project, kinds=[ReferenceType.USER])
    }
    names.discard("all")
    return names


def mentioned_user_ids(text: str, *, project: Project | None) -> list[int]:
    """Active users `@mentioned` in `text` (outside code); `@all` is ignored."""
    names = mentioned_names(text, project=project)
    if not names:
        return []
    user_model = get_user_model()
    q = Q(pk__in=[])
    for name in names:
        q |= Q(username__iexact=name)
    return [u.pk for u in user_model.objects.filter(q) if u.is_active]

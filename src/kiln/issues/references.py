"""Resolving GitLab references for one viewer, and finding the references a text makes.

`Resolver(actor, project=...)` implements kiln.markdown's `ReferenceResolver`: it answers a
whole document's references in a bounded number of queries (one per kind and project), and
only with what the viewer may see — a confidential issue, a private project's label or a
commit of a project whose code the viewer cannot read stays plain text, never a link.

Merge requests live above this package: their package registers a handler with
`register_reference_handler(ReferenceType.MERGE_REQUEST, fn)`, where
`fn(actor, project, iids, base_url) -> {iid: ResolvedReference}` answers for one project.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.db.models import Q

from kiln import markdown
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.core.urls import base_url as default_base_url
from kiln.issues.models import Issue
from kiln.issues.queries import visible_issues_q
from kiln.labels.models import Label
from kiln.labels.queries import available_labels_q
from kiln.markdown import Reference, ReferenceType, RenderContext, ResolvedReference
from kiln.milestones.models import Milestone
from kiln.milestones.policies import can_read_milestones
from kiln.milestones.queries import available_milestones_q
from kiln.namespaces.models import Namespace
from kiln.notes.mentions import extract_references
from kiln.projects.models import Project
from kiln.projects.queries import find_project

Handler = Callable[[Actor, Project, list[str], str], Mapping[str, ResolvedReference]]
_HANDLERS: dict[ReferenceType, Handler] = {}


def register_reference_handler(kind: ReferenceType, handler: Handler) -> None:
    """Let a package above this one resolve a kind of reference (merge requests)."""
    _HANDLERS[kind] = handler


class Resolver:
    """A `ReferenceResolver` for one viewer. `base_url` prefixes every link."""

    def __init__(self, actor: Actor, *, base_url: str | None = None) -> None:
        self.actor = actor
        self.base_url = (base_url or default_base_url(None)).rstrip("/")
        self._projects: dict[str, Project | None] = {}

    # -- projects --------------------------------------------------------------------------

    def project(self, path: str | None) -> Project | None:
        """The project at `path` if the viewer may read it (memoized)."""
        if path is None:
            return None
        key = path.lower()
        if key not in self._projects:
            project = find_project(path)
            if project is not None and not can(self.actor, "read_project", project):
                project = None
            self._projects[key] = project
        return self._projects[key]

    # -- resolution ------------------------------------------------------------------------

    def resolve(self, references: Collection[Reference]) -> dict[Reference, ResolvedReference]:
        by_kind: dict[ReferenceType, list[Reference]] = defaultdict(list)
        for reference in references:
            by_kind[reference.type].append(reference)
        resolved: dict[Reference, ResolvedReference] = {}
        if by_kind.get(ReferenceType.USER):
            resolved.update(self._users(by_kind[ReferenceType.USER]))
        for kind, method in (
            (ReferenceType.ISSUE, self._issues),
            (ReferenceType.LABEL, self._labels),
            (ReferenceType.MILESTONE, self._milestones),
            (ReferenceType.COMMIT, self._commits),
            (ReferenceType.COMMIT_RANGE, self._commit_ranges),
            (ReferenceType.MERGE_REQUEST, self._merge_requests),
        ):
            refs = by_kind.get(kind)
            if not refs:
                continue
            per_project: dict[str, list[Reference]] = defaultdict(list)
            for reference in refs:
                if reference.project is not None:
                    per_project[reference.project].append(reference)
            for path, group in per_project.items():
                project = self.project(path)
                if project is not None:
                    resolved.update(method(project, group))
        return resolved

    def _users(self, refs: list[Reference]) -> dict[Reference, ResolvedReference]:
        names = {r.identifier.lower() for r in refs}
        user_model = get_user_model()
        q = Q(pk__in=[])
        for name in names:
            q |= Q(username__iexact=name)
        users = {u.username.lower(): u for u in user_model.objects.filter(q)}
        groups: dict[str, Namespace] = {}
        missing = names - set(users)
        if missing:
            gq = Q(pk__in=[])
            for name in missing:
                gq |= Q(full_path__iexact=name)
            for group in Namespace.objects.filter(gq, kind="group"):
                if can(self.actor, "read_group", group):
                    groups[group.full_path.lower()] = group
        out: dict[Reference, ResolvedReference] = {}
        for ref in refs:
            key = ref.identifier.lower()
            if (user := users.get(key)) is not None:
                out[ref] = ResolvedReference(
                    url=f"{self.base_url}/{quote(user.username)}",
                    title=user.name,
                    css_classes=("gfm", "gfm-project_member"),
                    data={"user": str(user.pk)},
                )
            elif (found_group := groups.get(key)) is not None:
                out[ref] = ResolvedReference(
                    url=f"{self.base_url}/{quote(found_group.full_path)}",
                    title=found_group.full_name,
                    css_classes=("gfm", "gfm-project_member"),
                    data={"group": str(found_group.pk)},
                )
        return out

    def _issues(
        self, project: Project, refs: list[Reference]
    ) -> dict[Reference, ResolvedReference]:
        iids = {
            int(r.identifier) for r in refs if r.identifier.isdigit() and len(r.identifier) < 10
        }
        issues = {
            i.iid: i
            for i in Issue.objects.filter(
                visible_issues_q(self.actor), project=project, iid__in=iids
            )
        }
        out = {}
        for ref in refs:
            issue = issues.get(int(ref.identifier)) if ref.identifier.isdigit() else None
            if issue is None or len(ref.identifier) >= 10:
                continue
            out[ref] = ResolvedReference(
                url=f"{self.base_url}/{project.full_path}/-/issues/{issue.iid}",
                title=issue.title,
                state=issue.state,
                data={"project": str(project.pk), "issue": str(issue.pk), "iid": str(issue.iid)},
            )
        return out

    def _labels(
        self, project: Project, refs: list[Reference]
    ) -> dict[Reference, ResolvedReference]:
        qs = Label.objects.filter(available_labels_q(project))
        ids = [int(r.identifier) for r in refs if r.by_id and len(r.identifier) < 19]
        titles = [r.identifier for r in refs if not r.by_id]
        labels = list(qs.filter(Q(pk__in=ids) | Q(title__in=titles)))
        by_id = {label.pk: label for label in labels}
        by_title: dict[str, Label] = {}
        for label in sorted(labels, key=lambda lb: (lb.project_id is None, lb.pk)):
            by_title.setdefault(label.title, label)
        out = {}
        for ref in refs:
            found_label = (
                by_id.get(int(ref.identifier)) if ref.by_id else by_title.get(ref.identifier)
            )
            if found_label is None:
                continue
            query = f"label_name%5B%5D={quote(found_label.title)}"
            url = f"{self.base_url}/{project.full_path}/-/issues?{query}"
            out[ref] = ResolvedReference(
                url=url,
                title=found_label.description[:200],
                text=found_label.title,
                color=found_label.color,
                data={"project": str(project.pk), "label": str(found_label.pk)},
            )
        return out

    def _milestones(
        self, project: Project, refs: list[Reference]
    ) -> dict[Reference, ResolvedReference]:
        if not can_read_milestones(self.actor, project):
            return {}
        qs = Milestone.objects.filter(available_milestones_q(project))
        iids = [int(r.identifier) for r in refs if r.by_id and len(r.identifier) < 10]
        titles = [r.identifier for r in refs if not r.by_id]
        milestones = list(qs.filter(Q(iid__in=iids, project=project) | Q(title__in=titles)))
        by_iid = {m.iid: m for m in milestones if m.project_id == project.pk}
        by_title: dict[str, Milestone] = {}
        for milestone in sorted(milestones, key=lambda m: (m.project_id is None, m.pk)):
            by_title.setdefault(milestone.title, milestone)
        out = {}
        for ref in refs:
            found = by_iid.get(int(ref.identifier)) if ref.by_id else by_title.get(ref.identifier)
            if found is None:
                continue
            if found.project_id:
                url = f"{self.base_url}/{project.full_path}/-/milestones/{found.iid}"
            else:
                assert found.group is not None
                group_path = found.group.full_path
                url = f"{self.base_url}/groups/{group_path}/-/milestones/{found.iid}"
            out[ref] = ResolvedReference(
                url=url,
                title=found.title,
                text=f"%{found.title}" if not ref.raw.startswith(project.full_path) else None,
                data={"project": str(project.pk), "milestone": str(found.pk)},
            )
        return out

    def _commits(
        self, project: Project, refs: list[Reference]
    ) -> dict[Reference, ResolvedReference]:
        if not can(self.actor, "read_code", project) or project.empty_repo:
            return {}
        from kiln.repositories.queries import find_commit

        out = {}
        for ref in refs[:50]:
            commit = find_commit(project, ref.identifier)
            if commit is None or not commit.id.startswith(ref.identifier.lower()):
                continue
            out[ref] = ResolvedReference(
                url=f"{self.base_url}/{project.full_path}/-/commit/{commit.id}",
                title=commit.title,
                text=ref.raw if "@" in ref.raw else commit.id[:8],
                data={"project": str(project.pk), "commit": commit.id},
            )
        return out

    def _commit_ranges(
        self, project: Project, refs: list[Reference]
    ) -> dict[Reference, ResolvedReference]:
        if not can(self.actor, "read_code", project) or project.empty_repo:
            return {}
        from kiln.repositories.queries import find_commit

        out = {}
        for ref in refs[:20]:
            dots = "..." if "..." in ref.identifier else ".."
            first, _, second = ref.identifier.partition(dots)
            a, b = find_commit(project, first), find_commit(project, second)
            if a is None or b is None:
                continue
            out[ref] = ResolvedReference(
                url=f"{self.base_url}/{project.full_path}/-/compare/{a.id}{dots}{b.id}",
                title=f"Commits {a.id[:8]} through {b.id[:8]}",
            )
        return out

    def _merge_requests(
        self, project: Project, refs: list[Reference]
    ) -> dict[Reference, ResolvedReference]:
        handler = _HANDLERS.get(ReferenceType.MERGE_REQUEST)
        if handler is None:
            return {}
        answers = handler(self.actor, project, [r.identifier for r in refs], self.base_url)
        return {r: answers[r.identifier] for r in refs if r.identifier in answers}


# -- rendering ---------------------------------------------------------------------------------


def render_for(
    actor: Actor, text: str, *, project: Project | None, base_url: str | None = None
) -> str:
    """GitLab Flavored Markdown as `actor` may see it (references resolved for them)."""
    resolver = Resolver(actor, base_url=base_url)
    context = RenderContext(
        project=project.full_path if project is not None else None,
        external_url=resolver.base_url,
        uploads_url=f"{resolver.base_url}/{project.full_path}" if project is not None else None,
    )
    return markdown.render(text, resolver=resolver, context=context)


def render_title_for(
    actor: Actor, text: str, *, project: Project | None, base_url: str | None = None
) -> str:
    resolver = Resolver(actor, base_url=base_url)
    context = RenderContext(project=project.full_path if project is not None else None)
    return markdown.render_title(text, resolver=resolver, context=context)


# -- extraction ---------------------------------------------------------------------------------


def referenced_issues(actor: Actor, text: str, *, project: Project) -> list[Issue]:
    """Issues `text` references that `actor` may see (for "mentioned in" cross references)."""
    refs = [r for r in extract_references(text, project=project) if r.type is ReferenceType.ISSUE]
    resolver = Resolver(actor)
    found: dict[int, Issue] = {}
    per_project: dict[str, set[int]] = defaultdict(set)
    for ref in refs:
        if ref.project and ref.identifier.isdigit() and len(ref.identifier) < 10:
            per_project[ref.project].add(int(ref.identifier))
    for path, iids in per_project.items():
        target = resolver.project(path)
        if target is None:
            continue
        for issue in Issue.objects.filter(
            visible_issues_q(actor), project=target, iid__in=iids
        ).select_related("project", "project__namespace"):
            found[issue.pk] = issue
    return list(found.values())

"""Branches, tags, HEAD and raw ref updates.

Refs are read in-process with pygit2. Every ref *change* goes through one
`git update-ref --stdin` transaction with an expected old value (`LocalCore._update_refs`),
so two writers racing on a branch cannot both win and a lost race is a `RefConflict`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pygit2
from pygit2.enums import ObjectType, ReferenceFilter

from kiln.gitstore.errors import InvalidArgument, InvalidRef, RefConflict, RevisionNotFound
from kiln.gitstore.local.convert import decode, to_commit, to_pygit2_signature, to_signature
from kiln.gitstore.local.core import LocalCore, check_message
from kiln.gitstore.refs import (
    validate_branch_name,
    validate_oid,
    validate_ref_name,
    validate_tag_name,
)
from kiln.gitstore.types import Branch, Identity, Tag

__all__ = ["RefOps"]

_FALLBACK_DEFAULT_BRANCHES = ("main", "master")


def _format_signature(signature: pygit2.Signature) -> str:
    offset = signature.offset
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    return (
        f"{decode(signature.raw_name)} <{decode(signature.raw_email)}> "
        f"{signature.time} {sign}{hours:02d}{minutes:02d}"
    )


def _validate_full_ref(ref: str) -> str:
    validate_ref_name(ref)
    if not ref.startswith("refs/"):
        raise InvalidRef("A full ref name must start with 'refs/'.")
    return ref


class RefOps(LocalCore):
    # -- branches ---------------------------------------------------------------------------

    @staticmethod
    def _branch(repo: pygit2.Repository, ref: pygit2.Reference) -> Branch | None:
        try:
            commit = ref.peel(pygit2.Commit)
        except (KeyError, ValueError):  # a branch pointing at a non-commit
            return None
        name = decode(ref.raw_name)[len("refs/heads/") :]
        return Branch(name=name, commit=to_commit(commit))

    def list_branches(self, *, relative_path: str) -> tuple[Branch, ...]:
        with self._open(relative_path) as repo:
            branches = [
                branch
                for ref in repo.references.iterator(ReferenceFilter.BRANCHES)
                if (branch := self._branch(repo, ref)) is not None
            ]
        return tuple(sorted(branches, key=lambda branch: branch.name))

    def find_branch(self, *, relative_path: str, name: str) -> Branch | None:
        validate_branch_name(name)
        with self._open(relative_path) as repo:
            ref = repo.references.get(f"refs/heads/{name}")
            return None if ref is None else self._branch(repo, ref)

    def create_branch(self, *, relative_path: str, name: str, revision: str) -> Branch:
        validate_branch_name(name)
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            commit = to_commit(self._commit(repo, revision))
        self._update_refs(git_dir, [(f"refs/heads/{name}", commit.id, None)])
        return Branch(name=name, commit=commit)

    def delete_branch(
        self, *, relative_path: str, name: str, expected_oid: str | None = None
    ) -> None:
        validate_branch_name(name)
        self._delete_short_ref(relative_path, f"refs/heads/{name}", expected_oid, "Branch")

    def _delete_short_ref(
        self, relative_path: str, ref: str, expected_oid: str | None, kind: str
    ) -> None:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            current = repo.references.get(ref)
            current_oid = None if current is None else current.target
        if not isinstance(current_oid, pygit2.Oid):
            raise RevisionNotFound(f"{kind} not found.")
        if expected_oid is not None and validate_oid(expected_oid) != str(current_oid):
            raise RefConflict(f"The {kind.lower()} was changed by someone else.")
        self._update_refs(git_dir, [(ref, None, str(current_oid))])

    # -- tags -------------------------------------------------------------------------------

    @staticmethod
    def _tag(repo: pygit2.Repository, ref: pygit2.Reference) -> Tag:
        target = ref.target
        assert isinstance(target, pygit2.Oid)
        name = decode(ref.raw_name)[len("refs/tags/") :]
        obj = repo.get(target)
        message = None
        tagger = None
        if isinstance(obj, pygit2.Tag):
            message = decode(obj.raw_message)
            tagger = None if obj.tagger is None else to_signature(obj.tagger)
        commit = None
        if obj is not None:
            try:
                commit = to_commit(obj.peel(pygit2.Commit))
            except (KeyError, ValueError):  # a tag of a tree or blob
                commit = None
        return Tag(
            name=name,
            target_id=str(target),
            annotated=isinstance(obj, pygit2.Tag),
            message=message,
            tagger=tagger,
            commit=commit,
        )

    def list_tags(self, *, relative_path: str) -> tuple[Tag, ...]:
        with self._open(relative_path) as repo:
            tags = [
                self._tag(repo, ref)
                for ref in repo.references.iterator(ReferenceFilter.TAGS)
                if isinstance(ref.target, pygit2.Oid)
            ]
        return tuple(sorted(tags, key=lambda tag: tag.name))

    def find_tag(self, *, relative_path: str, name: str) -> Tag | None:
        validate_tag_name(name)
        with self._open(relative_path) as repo:
            ref = repo.references.get(f"refs/tags/{name}")
            if ref is None or not isinstance(ref.target, pygit2.Oid):
                return None
            return self._tag(repo, ref)

    def create_tag(
        self,
        *,
        relative_path: str,
        name: str,
        revision: str,
        message: str | None = None,
        tagger: Identity | None = None,
    ) -> Tag:
        validate_tag_name(name)
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            commit = self._commit(repo, revision)
            target = str(commit.id)
            if message is not None:
                if tagger is None:
                    raise InvalidArgument("An annotated tag needs a tagger.")
                check_message(message)
                signature = to_pygit2_signature(tagger)
                if not message.endswith("\n"):
                    message += "\n"
                # The tag object is written on its own and the ref is created by the same
                # compare-and-swap as every other ref (pygit2's create_tag would do both).
                body = (
                    f"object {commit.id}\ntype commit\ntag {name}\n"
                    f"tagger {_format_signature(signature)}\n\n{message}"
                )
                target = str(repo.write(ObjectType.TAG, body.encode("utf-8")))
        self._update_refs(git_dir, [(f"refs/tags/{name}", target, None)])
        found = self.find_tag(relative_path=relative_path, name=name)
        assert found is not None
        return found

    def delete_tag(self, *, relative_path: str, name: str, expected_oid: str | None = None) -> None:
        validate_tag_name(name)
        self._delete_short_ref(relative_path, f"refs/tags/{name}", expected_oid, "Tag")

    # -- revisions and raw refs -------------------------------------------------------------

    def resolve_revision(self, *, relative_path: str, revision: str) -> str | None:
        with self._open(relative_path) as repo:
            commit = self._find_commit(repo, revision)
            return None if commit is None else str(commit.id)

    def ref_targets(self, *, relative_path: str, refs: Sequence[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        with self._open(relative_path) as repo:
            for ref in refs:
                _validate_full_ref(ref)
                try:
                    reference = repo.references.get(ref)
                    found[ref] = None if reference is None else str(reference.resolve().target)
                except (KeyError, pygit2.GitError):  # a dangling symbolic ref
                    found[ref] = None
        return found

    def update_ref(
        self, *, relative_path: str, ref: str, new_oid: str, old_oid: str | None
    ) -> None:
        _validate_full_ref(ref)
        new_oid = validate_oid(new_oid)
        old = None if old_oid is None else validate_oid(old_oid, allow_zero=True)
        self._update_refs(self._git_dir(relative_path), [(ref, new_oid, old)])

    def delete_ref(self, *, relative_path: str, ref: str, old_oid: str) -> None:
        _validate_full_ref(ref)
        old = validate_oid(old_oid)
        self._update_refs(self._git_dir(relative_path), [(ref, None, old)])

    # -- HEAD -------------------------------------------------------------------------------

    def set_head(self, *, relative_path: str, branch: str) -> None:
        validate_branch_name(branch)
        self.git.run(
            self._git_dir(relative_path),
            ["symbolic-ref", "--end-of-options", "HEAD", f"refs/heads/{branch}"],
        )

    def get_default_branch(self, *, relative_path: str) -> str | None:
        with self._open(relative_path) as repo:
            head = repo.references.get("HEAD")
            target = None if head is None else head.target
            if isinstance(target, str) and target.startswith("refs/heads/"):
                name = target[len("refs/heads/") :]
                if repo.references.get(target) is not None:
                    return name
            # HEAD names a missing branch (e.g. pushed under another name): fall back the way
            # Gitaly does, so the project still has a usable default branch.
            names = sorted(
                decode(ref.raw_name)[len("refs/heads/") :]
                for ref in repo.references.iterator(ReferenceFilter.BRANCHES)
            )
        for candidate in _FALLBACK_DEFAULT_BRANCHES:
            if candidate in names:
                return candidate
        return names[0] if names else None

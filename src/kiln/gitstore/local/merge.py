"""Merging without a work tree: merge, conflict checks, cherry-pick, revert and rebase.

Merges use `git merge-tree --write-tree` (git's own ort strategy, with its rename handling
and virtual merge bases). Cherry-pick, revert and rebase need a three-way merge against a
chosen base, which git 2.39's merge-tree cannot take (``--merge-base`` came in 2.40), so
they use libgit2's merge_trees with that base. Every result moves its branch by
compare-and-swap; on any failure no ref changes.
"""

from __future__ import annotations

from pathlib import Path

import pygit2

from kiln.gitstore.errors import (
    MergeConflict,
    NoChanges,
    NotFastForward,
    RefConflict,
    RevisionNotFound,
)
from kiln.gitstore.local.convert import to_commit
from kiln.gitstore.local.core import LocalCore, check_message
from kiln.gitstore.refs import validate_branch_name, validate_oid
from kiln.gitstore.types import Commit, Identity, MergeResult, RebaseResult

__all__ = ["MergeOps"]


def _conflict_paths(index: pygit2.Index) -> tuple[str, ...]:
    conflicts = index.conflicts
    if conflicts is None:
        return ()
    paths: dict[str, None] = {}
    for ancestor, ours, theirs in conflicts:
        for entry in (ancestor, ours, theirs):
            if entry is not None:
                paths[entry.path] = None
    return tuple(paths)


def _empty_tree(repo: pygit2.Repository) -> pygit2.Tree:
    tree = repo.get(repo.TreeBuilder().write())
    assert isinstance(tree, pygit2.Tree)
    return tree


def _first_parent_tree(repo: pygit2.Repository, commit: pygit2.Commit) -> pygit2.Tree:
    # Merge commits are taken against their first parent ("mainline 1"), as GitLab does
    # when cherry-picking or reverting a merge request's merge commit.
    return commit.parents[0].tree if commit.parent_ids else _empty_tree(repo)


class MergeOps(LocalCore):
    def _target(
        self, repo: pygit2.Repository, branch: str, expected_oid: str | None
    ) -> pygit2.Commit:
        """The head of ``branch``, checked against the caller's expectation."""
        validate_branch_name(branch)
        expected = None if expected_oid is None else validate_oid(expected_oid)
        current = self._branch_oid(repo, branch)
        if current is None:
            raise RevisionNotFound(f"Branch '{branch}' was not found.")
        if expected is not None and expected != current:
            raise RefConflict("The branch was changed by someone else; reload and retry.")
        return self._commit(repo, current)

    def _merge_tree(self, git_dir: Path, ours: str, theirs: str) -> tuple[str, tuple[str, ...]]:
        """The merged tree id and the conflicting paths (objects are written either way)."""
        result = self.git.run(
            git_dir,
            [
                "merge-tree",
                "--write-tree",
                "-z",
                "--name-only",
                "--no-messages",
                # GitLab merges unrelated histories too; the merge base is then empty.
                "--allow-unrelated-histories",
                "--end-of-options",
                ours,
                theirs,
            ],
            ok=(0, 1),
        )
        tree, *names = result.stdout.split(b"\0")
        conflicts = dict.fromkeys(name.decode("utf-8", "replace") for name in names if name)
        if result.returncode == 1 and not conflicts:
            conflicts["(unknown)"] = None
        return tree.decode(), tuple(conflicts)

    def merge(
        self,
        *,
        relative_path: str,
        source: str,
        target: str,
        message: str,
        author: Identity,
        committer: Identity | None = None,
        squash: bool = False,
        fast_forward_only: bool = False,
        expected_target_oid: str | None = None,
    ) -> MergeResult:
        check_message(message)
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            head = self._target(repo, target, expected_target_oid)
            head_id = str(head.id)
            incoming = self._commit(repo, source)
            incoming_id = str(incoming.id)
            if self._is_ancestor(git_dir, incoming_id, head_id):
                raise NoChanges("The source is already merged into the target branch.")
            if fast_forward_only:
                if not self._is_ancestor(git_dir, head_id, incoming_id):
                    raise NotFastForward(
                        "The target branch has moved on: rebase the source branch first."
                    )
                if not squash:
                    self._update_refs(git_dir, [(f"refs/heads/{target}", incoming_id, head_id)])
                    return MergeResult(commit=to_commit(incoming), fast_forward=True)
                tree = str(incoming.tree_id)
            else:
                tree, conflicts = self._merge_tree(git_dir, head_id, incoming_id)
                if conflicts:
                    raise MergeConflict("The branches have merge conflicts.", paths=conflicts)
            commit = self._write_commit(
                repo,
                tree=tree,
                parents=[head_id] if squash else [head_id, incoming_id],
                author=author,
                committer=committer or author,
                message=message,
            )
            self._update_refs(git_dir, [(f"refs/heads/{target}", str(commit.id), head_id)])
            return MergeResult(commit=to_commit(commit), fast_forward=False)

    def find_conflicts(self, *, relative_path: str, source: str, target: str) -> tuple[str, ...]:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            ours = str(self._commit(repo, target).id)
            theirs = str(self._commit(repo, source).id)
        return self._merge_tree(git_dir, ours, theirs)[1]

    def _pick(
        self,
        *,
        relative_path: str,
        branch: str,
        expected_old_oid: str | None,
        commit: str,
        revert: bool,
        committer: Identity,
        message: str | None,
    ) -> Commit:
        if message is not None:
            check_message(message)
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            head = self._target(repo, branch, expected_old_oid)
            picked = self._commit(repo, commit)
            parent_tree = _first_parent_tree(repo, picked)
            if revert:
                # Undo: merge the parent's tree into head, taking the commit as the base.
                index = repo.merge_trees(picked.tree, head.tree, parent_tree)
            else:
                index = repo.merge_trees(parent_tree, head.tree, picked.tree)
            conflicts = _conflict_paths(index)
            verb = "revert" if revert else "cherry-pick"
            if conflicts:
                raise MergeConflict(
                    f"Sorry, we cannot {verb} this commit automatically: it conflicts.",
                    paths=conflicts,
                )
            tree = index.write_tree(repo)
            if tree == head.tree_id:
                raise NoChanges(
                    f"Sorry, we cannot {verb} this commit: its changes are already there."
                )
            title = to_commit(picked).title
            if revert:
                default = f'Revert "{title}"\n\nThis reverts commit {picked.id}.'
            else:
                original = to_commit(picked).message.rstrip("\n")
                default = f"{original}\n\n(cherry picked from commit {picked.id})"
            new = self._write_commit(
                repo,
                tree=tree,
                parents=[head.id],
                # A cherry-pick keeps the author of the change; a revert is the committer's.
                author=committer if revert else picked.author,
                committer=committer,
                message=message or default,
            )
            self._update_refs(git_dir, [(f"refs/heads/{branch}", str(new.id), str(head.id))])
            return to_commit(new)

    def cherry_pick(
        self,
        *,
        relative_path: str,
        commit: str,
        branch: str,
        committer: Identity,
        message: str | None = None,
        expected_old_oid: str | None = None,
    ) -> Commit:
        return self._pick(
            relative_path=relative_path,
            branch=branch,
            expected_old_oid=expected_old_oid,
            commit=commit,
            revert=False,
            committer=committer,
            message=message,
        )

    def revert(
        self,
        *,
        relative_path: str,
        commit: str,
        branch: str,
        committer: Identity,
        message: str | None = None,
        expected_old_oid: str | None = None,
    ) -> Commit:
        return self._pick(
            relative_path=relative_path,
            branch=branch,
            expected_old_oid=expected_old_oid,
            commit=commit,
            revert=True,
            committer=committer,
            message=message,
        )

    def rebase(
        self,
        *,
        relative_path: str,
        branch: str,
        onto: str,
        committer: Identity,
        expected_old_oid: str | None = None,
    ) -> RebaseResult:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            old_head = self._target(repo, branch, expected_old_oid)
            old_id = str(old_head.id)
            base = self._commit(repo, onto)
            if self._is_ancestor(git_dir, str(base.id), old_id):
                return RebaseResult(head=to_commit(old_head), commit_ids=(), changed=False)
            # As `git rebase`: merges are dropped, and --cherry-pick skips commits whose
            # patch is already upstream.
            listed = self.git.run(
                git_dir,
                [
                    "rev-list",
                    "--reverse",
                    "--topo-order",
                    "--no-merges",
                    "--cherry-pick",
                    "--right-only",
                    "--end-of-options",
                    f"{base.id}...{old_id}",
                ],
            ).stdout.split()
            head = base
            written: list[str] = []
            for line in listed:
                original = self._commit(repo, line.decode())
                parent_tree = _first_parent_tree(repo, original)
                index = repo.merge_trees(parent_tree, head.tree, original.tree)
                conflicts = _conflict_paths(index)
                if conflicts:
                    raise MergeConflict(
                        f"Rebase failed: commit {str(original.id)[:8]} conflicts.",
                        paths=conflicts,
                    )
                tree = index.write_tree(repo)
                if tree == head.tree_id and original.tree_id != parent_tree.id:
                    continue  # its changes are already upstream: the commit became empty
                head = self._write_commit(
                    repo,
                    tree=tree,
                    parents=[head.id],
                    author=original.author,
                    committer=committer,
                    message=original.raw_message,
                )
                written.append(str(head.id))
            self._update_refs(git_dir, [(f"refs/heads/{branch}", str(head.id), old_id)])
            return RebaseResult(head=to_commit(head), commit_ids=tuple(written), changed=True)

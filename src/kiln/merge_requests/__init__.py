"""Merge requests: code review from a source branch to a target branch of one project.

What lives here: the merge request itself (iid per project, title, description, draft,
assignees, reviewers, labels, milestone, state), its diff versions (one snapshot of commits
and files per push), approvals, mergeability (recomputed in the background after pushes to
either branch), and the merge and rebase services.

Modules: `models`, `policies`, `queries`, `services` (create, update, close, reopen, delete,
pushes), `merging` (merge, merge when the pipeline succeeds, rebase), `approvals`,
`mergeability` (merge checks, `detailed_merge_status`), `diffs` (versions), `positions`
(diff notes across pushes), `commands` (quick actions), `noteable` (notes and `!N`
references), `webhooks`, `tasks`, `planning` (the calls into notes, issues, labels,
milestones and events).

Hook points for packages above this one (filled at import time, never imported from below):

- `kiln.merge_requests.hooks.register_pipeline_status_provider(fn)`: CI tells merge checks the
  newest pipeline for a sha (`fn(project, sha, ref) -> PipelineInfo | None`).
- `kiln.merge_requests.merging.pipeline_succeeded(project_id=, sha=, ref=)`: CI calls it when a
  pipeline succeeds, so merge requests set to merge when the pipeline succeeds get merged.
- `kiln.merge_requests.hooks.register_merge_request_listener(fn)`: notifications and the like
  hear about every change after it commits.
"""

"""Notes (comments), discussions (threads), system notes and quick actions.

A note hangs off a *noteable*: an issue, a merge request or a commit. This package knows no
noteable model itself (notes sit below issues and merge requests); each noteable type
registers itself here, and everything below works for every registered type.

Contract for the packages that use notes (stable; changes are announced in this docstring)
--------------------------------------------------------------------------------------------

1. Register a noteable type (once, at import time, e.g. from `apps.ready`)::

       from kiln.notes import noteables
       noteables.register(noteables.NoteableType(
           name="MergeRequest",                  # GitLab's noteable_type string
           model=MergeRequest,
           route="merge_requests",               # API segment: /projects/:id/<route>/:iid/...
           project_of=lambda mr: mr.project,     # the project a noteable lives in
           find=lambda actor, project, iid: ..., # the noteable by iid for the actor, or None
                                                 # (None when missing OR invisible: 404)
           id_of=lambda mr: mr.pk,               # row id (None for commits)
           iid_of=lambda mr: mr.iid,
           title_of=lambda mr: mr.title,
           read_action="read_merge_request",     # can(actor, action, noteable) on the noteable
           update_action="update_merge_request", # quick actions: /close, /title ...
           admin_action="admin_merge_request",   # quick actions: /label, /assign ...
           resolvable=True,                      # threads can be resolved (MR discussions)
           resolve_action="resolve_note",        # can(actor, action, noteable) to resolve
           locked=lambda mr: mr.discussion_locked,
           visible_ids=lambda actor: QuerySet of the ids the actor may read (a subquery),
           apply_quick_actions=fn(actor, noteable, updates) -> None,  # see (4)
           participants=optional fn(noteable) -> iterable of user ids,
       ))

   Issues register themselves ("Issue", route "issues"); commits are registered by this
   package ("Commit", wrapped as `noteables.CommitNoteable(project, sha)`).
   The policy for notes asks `can(actor, "create_note", noteable)` on the noteable: the
   owning package's policy answers it (it must refuse when the discussion is locked for
   non-members with less than Reporter, as GitLab's `create_note` rule does).

2. Writes (`kiln.notes.services`), all keyword-only, each authorizing unless its docstring
   says otherwise, each inside one transaction, side effects after commit:

   - `create_note(*, actor, noteable, body, discussion_id=None, position=None,
     internal=False, system=False, note_type=None, created_at=None) -> NoteResult`
     A reply when `discussion_id` names an existing discussion of the noteable; a new
     thread (`DiscussionNote`) when `note_type="DiscussionNote"`; a diff note (`DiffNote`)
     when `position` (GitLab's position dict: base_sha, start_sha, head_sha, old_path,
     new_path, position_type, old_line, new_line, line_range) is given. Quick actions in
     `body` run (unless `system`) and are stripped; `NoteResult.note` is None when the body
     held only commands, and `NoteResult.commands_changes` / `.messages` report them.
   - `update_note(*, actor, note, body)`, `delete_note(*, actor, note)`
   - `resolve_discussion(*, actor, noteable, discussion_id, resolved=True) -> Discussion`
   - `resolve_note(*, actor, note, resolved=True) -> Note`
   - `create_system_note(*, actor, noteable, body, action) -> Note` — no authorization
     (the caller changed something and says what); `action` is GitLab's
     system_note_metadata action ("assignee", "label", "milestone", "title", "description",
     "closed", "reopened", "merged", "commit", "cross_reference", "locked", "unlocked",
     "approved", "unapproved", "reviewer", "requested_changes", "outdated", ...).
   - `mark_outdated_diff_notes(*, noteable, head_sha, actor=None)`: diff notes whose
     position head is not `head_sha` are shown as outdated in `/discussions` (no write
     needed: the API compares positions with the noteable's current diff refs, see
     `position_is_current`); when the project has `resolve_outdated_diff_discussions`, their
     unresolved threads are resolved by `actor`.
   - `update_diff_note_position(*, note, position)`: a diff note moved to a newer version
     (its line untouched by a push); `original_position` keeps where it was written.

3. Reads (`kiln.notes.queries`), already filtered for the actor (internal notes need
   Reporter+ in the project (or admin); notes on invisible noteables never show):
   `list_notes_for(actor, noteable, order_by=, sort=, activity_filter=)`,
   `get_note_for(actor, noteable, note_id)`, `list_discussions_for(actor, noteable)`,
   `get_discussion_for(actor, noteable, discussion_id)`,
   `unresolved_discussions_count(noteable)`, `discussions_resolved(noteable) -> bool`
   (for `blocking_discussions_resolved` and merge checks),
   `user_notes_counts(noteable_type, ids) -> dict[id, int]` (batch, for list presenters).

4. Quick actions (`kiln.notes.quick_actions`): `register(QuickAction(...))` adds a command
   (`name`, `aliases`, `types` = noteable type names it applies to, `available(ctx)`,
   `execute(ctx, arg)`, `explanation`). `/close /reopen /label /unlabel /relabel /assign
   /unassign /reassign /milestone /remove_milestone /due /remove_due_date /title
   /confidential /lock /unlock /todo /done /subscribe /unsubscribe /award /shrug
   /tableflip /copy_metadata` are registered here; `/approve /unapprove /merge /draft
   /ready /rebase /assign_reviewer /unassign_reviewer` belong to merge requests.
   `execute` writes what it decided into `ctx.updates` (keys below) or appends a callback
   to `ctx.after` (runs after the updates, inside the same transaction); it never writes
   directly unless it appends to `ctx.after`. A command whose `available` is false (the
   actor may not perform it) is ignored, as GitLab ignores it — and stays stripped.
   `ctx.updates` keys the registered noteable's `apply_quick_actions` must accept:
   `state_event` ("close"/"reopen"), `add_label_ids`, `remove_label_ids`, `label_ids`
   (replace), `assignee_ids` (replace), `add_assignee_ids`, `remove_assignee_ids`,
   `milestone_id` (None removes), `due_date` (date or None; issues only), `title`,
   `confidential` (issues only), `discussion_locked`, `todo_event` ("add"/"done"),
   `subscription_event` ("subscribe"/"unsubscribe"), `emoji_award`; plus any key a
   package's own commands add (merge requests: `wip_event`, ...). Unknown keys must be
   ignored. `kiln.notes.quick_actions.run(actor=, noteable=, project=, type_name=, text=)`
   parses, filters, executes and returns `QuickActionResult(text, updates, after,
   messages, commands)` for callers that apply it themselves (issue and MR create/update
   with commands in the description: apply `updates` to the new object, then `after`).

5. What else notes keep for any noteable (registered types only):
   `kiln.notes.todos` (`create_todos`, `create_mention_todos`, `mark_target_done`,
   `mark_todo`; `TodoAction` in models), `kiln.notes.subscriptions` (`participant_ids`,
   `is_subscribed`, `set_subscription`, `subscriber_ids`), `kiln.notes.awards`
   (`award_emoji`, `toggle_award`, `remove_award`, `vote_counts`),
   `kiln.notes.mentions` (`extract_references`, `mentioned_user_ids`),
   `services.delete_noteable_notes(noteable=)` (notes, awards, todos, subscriptions of a
   noteable being deleted) and `services.register_note_listener(fn)` (`fn(actor, note,
   noteable)` after each new note, inside the transaction: cross references, webhooks).

Layers (import-linter): merge_requests -> issues -> notes -> labels | milestones | events
-> webhooks -> repositories. Notes never import issues or merge requests; they reach them
only through this registry and the policy registry.

Also exposed for merge requests (outside this package): `kiln.labels.services`
(`find_or_create_labels(create=False)` to only find, `labels_by_ids`),
`kiln.labels.queries.register_label_counter(fn)` (`open_merge_requests_count` of labels),
`kiln.milestones.queries` (`milestone_available`, `find_milestone_for`),
`kiln.labels.events.record_label_changes(...)`,
`kiln.milestones.events.record_milestone_change(...)`,
`kiln.issues.state_events.record_state_event(...)`,
`kiln.issues.iids.allocate_iid(project, "merge_requests")` (+ `register_usage`),
`kiln.issues.closing.close_issues_mentioned(...)` / `closing_references(text, project)`,
`kiln.issues.services.label_change_text(added, removed)` (the label system note's body),
`kiln.issues.queries.register_merge_requests_counter(fn)` (issues' `merge_requests_count`),
`kiln.issues.references.register_reference_handler(ReferenceType.MERGE_REQUEST, fn)` and
`render_for` / `render_title_for` (Markdown as a viewer may see it),
`kiln.events.services.record_event(...)` and
`kiln.events.queries.register_subject_visibility("MergeRequest", fn)`,
`kiln.api.v4.presenters.todos.register_target_presenter("MergeRequest", fn)`.
The API serves `/projects/:id/merge_requests/:iid/notes|discussions|award_emoji|
resource_{label,milestone,state}_events` for any registered "MergeRequest" type (from
kiln.api.v4.notes, award_emoji and issues): merge requests need not define those routes.
"""

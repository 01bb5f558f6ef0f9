"""Issues: iid per project, state, assignees, labels, milestone, due date, confidentiality,
locking, links, moves, "Closes #N", and what hangs off any issuable (award emoji,
subscriptions, todos, state events)."""

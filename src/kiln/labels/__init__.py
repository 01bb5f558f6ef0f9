"""Labels: project and group labels (colour, description, per-project priority), label
subscriptions, and the resource label events of issues and merge requests."""

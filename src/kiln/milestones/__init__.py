"""Milestones: project and group milestones (active/closed, start and due dates) and the
resource milestone events of issues and merge requests."""

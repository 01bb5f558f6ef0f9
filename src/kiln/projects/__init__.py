"""Projects: visibility, settings, topics, stars, memberships and sharing with groups."""

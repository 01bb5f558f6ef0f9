"""Namespaces: each user's personal namespace, groups and subgroups, and group memberships."""

"""Presenters: model rows to GitLab's JSON shapes, field for field as GitLab's doc/api/ gives them.

Presenters take lists (a page) and the request, so that what they need beyond the rows is
fetched in one batch per page, never one query per row.
"""

"""Tests of kiln.namespaces: services, queries and hooks, without HTTP."""

"""Entry points over HTTP: GitLab-compatible REST API."""

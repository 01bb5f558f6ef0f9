"""GitLab's REST API v4 on django-ninja: one module per resource, shapes as GitLab documents."""

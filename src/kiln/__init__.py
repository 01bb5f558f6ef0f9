"""Kiln: a self-hosted DevOps platform that speaks GitLab's protocols."""

__version__ = "0.1.0"

# GitLab clients compare versions (python-gitlab, gitlab-runner): Kiln reports the GitLab
# API level it implements, with its own version as the revision.
GITLAB_COMPAT_VERSION = "17.5.0"

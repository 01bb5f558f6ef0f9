"""Routes of the repository pages (see kiln.web.urls), under `/<full_path>/-/`, as GitLab's.

A `<rest>` is `<ref>/<path>`: the ref may hold slashes, so the view splits it (the longest
prefix naming a branch or tag wins, as GitLab does).
"""

from django.urls import URLPattern, URLResolver, re_path

from kiln.web.views import forks, projects, repo_blob, repo_commits, repo_editor, repository

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^tree/?$", repository.tree, name="repo_tree_default"),
    re_path(r"^tree/(?P<rest>.+)$", repository.tree, name="repo_tree"),
    re_path(r"^refs/(?P<rest>.+)$", repository.logs_tree, name="repo_logs_tree"),
    re_path(r"^blob/(?P<rest>.+)$", repo_blob.blob, name="repo_blob"),
    re_path(r"^raw/(?P<rest>.+)$", repo_blob.raw, name="repo_raw"),
    re_path(r"^blame/(?P<rest>.+)$", repo_blob.blame, name="repo_blame"),
    re_path(r"^commits/?$", repo_commits.commits, name="repo_commits_default"),
    re_path(r"^commits/(?P<rest>.+)$", repo_commits.commits, name="repo_commits"),
    re_path(r"^commit/(?P<sha>[0-9a-fA-F]{7,64})/?$", repo_commits.commit, name="repo_commit"),
    re_path(
        r"^commit/(?P<sha>[0-9a-fA-F]{7,64})/diff_for_path$",
        repo_commits.commit,
        name="repo_commit_diff_for_path",
    ),
    re_path(r"^compare/?$", repo_commits.compare_index, name="repo_compare_index"),
    re_path(r"^compare/(?P<spec>.+)$", repo_commits.compare, name="repo_compare"),
    re_path(r"^branches/?$", repository.branches, name="repo_branches"),
    re_path(r"^branches/(?P<name>.+)$", repository.branch, name="repo_branch"),
    re_path(r"^tags/?$", repository.tags, name="repo_tags"),
    re_path(r"^archive/(?P<rest>.+)$", repository.archive, name="repo_archive"),
    re_path(r"^new/(?P<rest>.*)$", repo_editor.new_file, name="repo_new_file"),
    re_path(r"^edit/(?P<rest>.+)$", repo_editor.edit_file, name="repo_edit_file"),
    re_path(r"^toggle_star$", projects.toggle_star, name="project_toggle_star"),
    re_path(r"^languages$", projects.languages, name="project_languages"),
    re_path(r"^forks/?$", forks.index_or_create, name="project_forks"),
    re_path(r"^forks/new$", forks.new, name="project_fork_new"),
]

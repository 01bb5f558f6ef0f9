"""Routes of git's smart HTTP protocol, with or without `.git` after the project path."""

from django.urls import re_path

from kiln.githttp import views

# `repo` is the project's full path; it is only ever looked up, never used as a file path.
_REPO = r"^(?P<repo>[A-Za-z0-9_.][A-Za-z0-9_.\-/]*?)(?:\.git)?"

urlpatterns = [
    re_path(_REPO + r"/info/refs$", views.info_refs),
    re_path(_REPO + r"/git-upload-pack$", views.upload_pack),
    re_path(_REPO + r"/git-receive-pack$", views.receive_pack),
]

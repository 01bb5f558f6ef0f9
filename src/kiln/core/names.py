"""Rules for usernames, group and project paths and names, as GitLab applies them.

Paths become URLs (`/<group>/<project>`), so names that would shadow Kiln's own routes are
reserved, and every path is checked before it reaches the database. Names are free text but
refuse control and bidirectional-override characters, which make one name look like another.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 255

_PATH_CHARS = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.\-]*\Z")
# Namespaces (users, groups) may not end in '.', as GitLab's NAMESPACE_FORMAT_REGEX says.
NAMESPACE_PATH_MESSAGE = (
    "can contain only letters, digits, '_', '-' and '.'. "
    "Cannot start with '-' or end in '.', '.git' or '.atom'."
)
PROJECT_PATH_MESSAGE = (
    "can contain only letters, digits, '_', '-' and '.'. "
    "Cannot start with '-', end in '.git' or end in '.atom'"
)

# Top-level routes a user or top-level group may not take (they would mask Kiln's own).
TOP_LEVEL_ROUTES = frozenset(
    [
        "-",
        ".well-known",
        "404.html",
        "422.html",
        "500.html",
        "502.html",
        "503.html",
        "abuse_reports",
        "admin",
        "api",
        "apple-touch-icon-precomposed.png",
        "apple-touch-icon.png",
        "assets",
        "autocomplete",
        "ci",
        "dashboard",
        "deploy.html",
        "explore",
        "favicon.ico",
        "files",
        "groups",
        "health_check",
        "help",
        "import",
        "invites",
        "jwt",
        "notification_settings",
        "oauth",
        "profile",
        "projects",
        "public",
        "robots.txt",
        "s",
        "search",
        "sent_notifications",
        "snippets",
        "u",
        "unsubscribes",
        "uploads",
        "users",
    ]
)
# Words that follow `/<namespace>/<project>/` in Kiln's routes.
PROJECT_WILDCARD_ROUTES = frozenset(
    [
        "-",
        "badges",
        "blame",
        "blob",
        "builds",
        "commits",
        "create",
        "create_dir",
        "edit",
        "files",
        "find_file",
        "new",
        "preview",
        "raw",
        "refs",
        "tree",
        "update",
        "wikis",
    ]
)


def _path_format_ok(path: str, *, namespace: bool) -> bool:
    if not path or not _PATH_CHARS.match(path):
        return False
    lowered = path.lower()
    if lowered.endswith((".git", ".atom")):
        return False
    # A namespace path must also end in a letter, digit, '_' or '-' (never '.').
    return not namespace or re.search(r"[A-Za-z0-9_\-]\Z", path) is not None


def namespace_path_errors(path: str, *, top_level: bool) -> list[str]:
    """Errors for a username or group path (empty when valid)."""
    errors = []
    if len(path) > MAX_LENGTH:
        errors.append(f"is too long (maximum is {MAX_LENGTH} characters)")
    if not _path_format_ok(path, namespace=True):
        errors.append(NAMESPACE_PATH_MESSAGE)
    reserved = TOP_LEVEL_ROUTES if top_level else PROJECT_WILDCARD_ROUTES
    if path.lower() in reserved:
        errors.append(f"{path} is a reserved name")
    return errors


def project_path_errors(path: str) -> list[str]:
    errors = []
    if len(path) > MAX_LENGTH:
        errors.append(f"is too long (maximum is {MAX_LENGTH} characters)")
    if not _path_format_ok(path, namespace=False):
        errors.append(PROJECT_PATH_MESSAGE)
    if path.lower() in PROJECT_WILDCARD_ROUTES:
        errors.append(f"{path} is a reserved name")
    return errors


def _has_unsafe_chars(text: str) -> bool:
    for ch in text:
        category = unicodedata.category(ch)
        # Cc: control, Cf: format (bidi overrides, zero-width joiners), Co/Cs: private, surrogate.
        if category in ("Cc", "Cf", "Co", "Cs"):
            return True
    return False


def name_errors(name: str, *, max_length: int = MAX_LENGTH) -> list[str]:
    """Errors for a display name (user, group or project name)."""
    if not name or not name.strip():
        return ["can't be blank"]
    errors = []
    if len(name) > max_length:
        errors.append(f"is too long (maximum is {max_length} characters)")
    if _has_unsafe_chars(name):
        errors.append("cannot contain control or invisible formatting characters")
    return errors


def project_name_errors(name: str) -> list[str]:
    errors = name_errors(name)
    # GitLab: "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces.
    # It must start with a letter, digit, emoji, or '_'."
    if name and not (name[0].isalnum() or name[0] == "_" or ord(name[0]) > 0x2000):
        errors.append("must start with a letter, digit, emoji, or '_'")
    return errors


def path_from_name(name: str) -> str:
    """A path derived from a name, as GitLab does when only a name is given."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    path = re.sub(r"[^A-Za-z0-9_.\-]+", "-", ascii_name.strip()).strip("-.")
    path = re.sub(r"-{2,}", "-", path)
    return path.lower() or "project"

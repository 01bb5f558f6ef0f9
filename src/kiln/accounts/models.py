"""Accounts: users (GitLab's username rules and states), personal access tokens, SSH keys."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserState(models.TextChoices):
    ACTIVE = "active"
    BLOCKED = "blocked"
    DEACTIVATED = "deactivated"
    BLOCKED_PENDING_APPROVAL = "blocked_pending_approval"


# GitLab's colour mode ids -> the names the UI uses.
COLOR_MODES: dict[int, str] = {1: "light", 2: "dark", 3: "system"}
DIFF_VIEWS = ("inline", "parallel")


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(username__iexact=username)


class User(AbstractBaseUser):
    username = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    email = models.CharField(max_length=255, blank=True, default="")
    public_email = models.CharField(max_length=255, blank=True, default="")
    state = models.CharField(max_length=32, choices=UserState.choices, default=UserState.ACTIVE)
    is_admin = models.BooleanField(default=False)
    external = models.BooleanField(default=False)
    bot = models.BooleanField(default=False)
    can_create_group = models.BooleanField(default=True)
    projects_limit = models.PositiveIntegerField(default=100000)
    private_profile = models.BooleanField(default=False)
    bio = models.TextField(blank=True, default="")
    location = models.CharField(max_length=255, blank=True, default="")
    organization = models.CharField(max_length=255, blank=True, default="")
    job_title = models.CharField(max_length=255, blank=True, default="")
    website_url = models.CharField(max_length=255, blank=True, default="")
    pronouns = models.CharField(max_length=50, blank=True, default="")
    linkedin = models.CharField(max_length=255, blank=True, default="")
    twitter = models.CharField(max_length=255, blank=True, default="")
    discord = models.CharField(max_length=255, blank=True, default="")
    github = models.CharField(max_length=255, blank=True, default="")
    # Blank: the primary email is used for commits (GitLab's `commit_email_or_default`).
    commit_email = models.CharField(max_length=255, blank=True, default="")
    preferred_language = models.CharField(max_length=32, default="en")
    note = models.TextField(blank=True, default="")
    theme_id = models.PositiveSmallIntegerField(default=1)
    color_scheme_id = models.PositiveSmallIntegerField(default=1)
    # The UI's colour mode (GitLab's `color_mode_id`: 1 light, 2 dark, 3 follows the system)
    # and how diffs are shown ("inline" or "parallel", side by side). Kiln follows the system
    # until the user chooses.
    color_mode_id = models.PositiveSmallIntegerField(default=3)
    diff_view = models.CharField(max_length=16, default="inline")
    # The uploaded avatar's file extension ("png", "jpg", "gif", "webp"); blank: no avatar.
    # The bytes live in `UserAvatar`, so lists of users need no extra query to link them.
    avatar_ext = models.CharField(max_length=8, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # The administrator who created the account (null for seeded or self-registered users).
    created_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    current_sign_in_at = models.DateTimeField(null=True, blank=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)
    last_activity_on = models.DateField(null=True, blank=True)
    sign_in_count = models.PositiveIntegerField(default=0)
    current_sign_in_ip = models.GenericIPAddressField(null=True, blank=True)
    last_sign_in_ip = models.GenericIPAddressField(null=True, blank=True)
    # Sign-in lockout, as GitLab: after N failed attempts the account is locked for a while.
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["email"]

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.state == UserState.ACTIVE

    @property
    def is_blocked(self) -> bool:
        """GitLab's `blocked?`: blocked by an admin or waiting for approval."""
        return self.state in (UserState.BLOCKED, UserState.BLOCKED_PENDING_APPROVAL)

    @property
    def access_locked(self) -> bool:
        """Locked after too many failed sign-ins, and the lock has not run out yet."""
        if self.locked_at is None:
            return False
        from kiln.core.appsettings import current

        return timezone.now() - self.locked_at < current().effective_unlock_period

    @property
    def is_staff(self) -> bool:
        return self.is_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_admin

    @property
    def avatar_path(self) -> str:
        """The avatar's stable URL path (GitLab's upload path), or "" without one."""
        if not self.avatar_ext:
            return ""
        return f"/uploads/-/system/user/avatar/{self.pk}/avatar.{self.avatar_ext}"

    @property
    def color_mode(self) -> str:
        """The UI's colour mode as `<html data-theme>` names it: light, dark or system."""
        return COLOR_MODES.get(self.color_mode_id, "system")

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return self.is_admin and self.is_active

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_admin and self.is_active


class TokenScope(models.TextChoices):
    API = "api"
    READ_API = "read_api"
    READ_USER = "read_user"
    READ_REPOSITORY = "read_repository"
    WRITE_REPOSITORY = "write_repository"
    SUDO = "sudo"
    ADMIN_MODE = "admin_mode"
    CREATE_RUNNER = "create_runner"
    MANAGE_RUNNER = "manage_runner"
    READ_REGISTRY = "read_registry"
    WRITE_REGISTRY = "write_registry"
    AI_FEATURES = "ai_features"
    K8S_PROXY = "k8s_proxy"
    READ_SERVICE_PING = "read_service_ping"
    SELF_ROTATE = "self_rotate"


class PersonalAccessToken(models.Model):
    """A token shown once at creation; only its SHA-256 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="personal_access_tokens")
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=255, blank=True, default="")
    token_digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    impersonation = models.BooleanField(default=False)
    # The token this one was rotated from: GitLab revokes the whole chain when an old
    # (already rotated) token is used again, since that means it leaked.
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to"
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now().date()

    @property
    def is_active(self) -> bool:
        return not self.revoked and not self.is_expired


class SSHKeyUsage(models.TextChoices):
    AUTH = "auth"
    SIGNING = "signing"
    AUTH_AND_SIGNING = "auth_and_signing"


class SSHKey(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="ssh_keys")
    title = models.CharField(max_length=255)
    key = models.TextField()
    key_type = models.CharField(max_length=64)
    fingerprint_sha256 = models.CharField(max_length=128, unique=True)
    fingerprint_md5 = models.CharField(max_length=64)
    usage_type = models.CharField(
        max_length=32, choices=SSHKeyUsage.choices, default=SSHKeyUsage.AUTH_AND_SIGNING
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.title

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class UserAvatar(models.Model):
    """A user's uploaded avatar: a small image (size-capped, type checked by its first bytes)."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="avatar"
    )
    content_type = models.CharField(max_length=32)
    data = models.BinaryField()
    digest = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"avatar of {self.user_id}"

"""Routes of the account pages (see kiln.web.urls): sign-up and passwords under `users/`, the
user's own settings under `-/profile` and `-/user_settings`, and uploaded avatars."""

from django.urls import URLPattern, URLResolver, path, register_converter

from kiln.web.views import account, account_tokens


class _RowId:
    """A database id in a path: at most 18 digits, so it always fits a bigint."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(_RowId, "kiln_id")

urlpatterns: list[URLPattern | URLResolver] = [
    path("users/sign_up", account.sign_up, name="sign_up"),
    path("users/password/new", account.password_new, name="password_new"),
    path("users/password", account.password_create, name="password_create"),
    path("users/password/edit", account.password_edit, name="password_edit"),
    path("-/profile", account.profile, name="profile"),
    path("-/user_settings/profile", account.profile),
    path("-/profile/avatar", account.avatar_remove, name="avatar_remove"),
    path("-/profile/preferences", account.preferences, name="preferences"),
    path("-/user_settings/password/edit", account.password, name="password_edit_own"),
    path(
        "-/user_settings/personal_access_tokens",
        account.personal_access_tokens,
        name="personal_access_tokens",
    ),
    path(
        "-/user_settings/personal_access_tokens/<kiln_id:token_id>/revoke",
        account.revoke_personal_access_token,
    ),
    path(
        "-/user_settings/personal_access_tokens/<kiln_id:token_id>/rotate",
        account_tokens.rotate_personal_access_token,
    ),
    path("-/user_settings/ssh_keys", account.ssh_keys, name="ssh_keys"),
    path("-/user_settings/ssh_keys/<kiln_id:key_id>/delete", account.delete_ssh_key),
    path(
        "uploads/-/system/user/avatar/<kiln_id:user_id>/<str:filename>",
        account.avatar,
        name="avatar",
    ),
]

"""Account pages: sign in and out, sign up, forgotten passwords, and the user's own settings
(profile and avatar, preferences, password, personal access tokens, SSH keys).

Every change goes through `kiln.accounts.services`, which authorizes and validates it; the
views turn the services' `ValidationFailed` into messages next to the form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiln.accounts import access_tokens, queries, self_service, services
from kiln.accounts.models import COLOR_MODES, DIFF_VIEWS, SSHKeyUsage, TokenScope, User
from kiln.core import appsettings
from kiln.core.errors import ValidationFailed
from kiln.core.urls import base_url
from kiln.web.context import actor_for
from kiln.web.views import dashboard

BACKEND = "kiln.accounts.backends.KilnBackend"

# What the sign-in page says for each failure (GitLab's Devise messages).
_SIGN_IN_FAILURES = {
    "invalid": "Invalid login or password.",
    "locked": "Your account is locked.",
    "blocked": (
        "Your account has been blocked. "
        "Please contact your administrator if you think this is an error."
    ),
    "pending_approval": (
        "Your account is pending approval from your administrator and hence blocked. "
        "Please contact your administrator if you think this is an error."
    ),
}
SIGNED_UP_PENDING = (
    "You have signed up successfully. However, we could not sign you in because your account "
    "is awaiting approval from your administrator."
)
RESET_SENT = (
    "If your email address exists in our database, you will receive a password recovery link "
    "at your email address in a few minutes."
)
RESET_NO_TOKEN = (
    "You can't access this page without coming from a password reset email. If you do come "  # noqa: S105
    "from a password reset email, please make sure you used the full URL provided."
)
RESET_DONE = "Your password was changed successfully."

# Field labels for messages ("Username has already been taken").
_LABELS = {
    "fingerprint_sha256": "Key",
    "public_email": "Public email",
    "website_url": "Website URL",
    "expires_at": "Expiration date",
    "reset_password_token": "Reset password token",
}


def full_messages(errors: Mapping[str, list[str]]) -> list[str]:
    """Rails' `errors.full_messages`: "Username has already been taken"."""
    out = []
    for field, items in errors.items():
        label = _LABELS.get(field, field.replace("_", " ").capitalize())
        for message in items:
            if field == "base" or message[:1].isupper():
                out.append(message)
            else:
                out.append(f"{label} {message}")
    return out


def _user(request: HttpRequest) -> User:
    """The signed-in user's row itself (`request.user` is a lazy wrapper the services'
    policies do not recognize)."""
    user = actor_for(request).user
    assert user is not None  # @signed_in
    return User.objects.get(pk=user.pk)


def _safe_target(request: HttpRequest, target: str) -> str:
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, {request.get_host()}
    ):
        return "/"
    return target


# --- home, sign in, sign out, sign up ------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    """`/`: the signed-in user's projects; anonymous visitors go to the sign-in page."""
    if actor_for(request).user is None:
        return HttpResponseRedirect("/users/sign_in")
    return dashboard.projects(request)


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "GET" and actor_for(request).user is not None:
        return HttpResponseRedirect("/")
    if request.method == "POST":
        result = services.sign_in_with_password(
            login=request.POST.get("username", ""),
            password=request.POST.get("password", ""),
            ip=request.META.get("REMOTE_ADDR") or None,
        )
        user = result.user
        if user is not None:
            # `login` rotates the session key and the CSRF token: no session fixation.
            login(request, user, backend=BACKEND)
            if not request.POST.get("remember_me"):
                request.session.set_expiry(0)  # ends with the browser session
            return HttpResponseRedirect(_safe_target(request, request.GET.get("redirect_to", "/")))
        error = _SIGN_IN_FAILURES.get(result.failure, _SIGN_IN_FAILURES["invalid"])
    return render(
        request,
        "web/sign_in.html",
        {"error": error, "signup_enabled": appsettings.current().signup_enabled},
        status=401 if error else 200,
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/users/sign_in")


@never_cache
@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if not appsettings.current().signup_enabled:
        return HttpResponseRedirect("/users/sign_in")
    if actor_for(request).user is not None:
        return HttpResponseRedirect("/")
    fields = ("first_name", "last_name", "username", "email")
    values = {name: request.POST.get(name, "").strip() for name in fields}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            registration = self_service.register_user(
                password=request.POST.get("password", ""), **values
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            if registration.pending_approval:
                messages.info(request, SIGNED_UP_PENDING)
                return HttpResponseRedirect("/users/sign_in")
            login(request, registration.user, backend=BACKEND)
            request.session.set_expiry(0)
            messages.success(request, "Welcome! You have signed up successfully.")
            return HttpResponseRedirect("/")
    return render(
        request,
        "web/account/sign_up.html",
        {"values": values, "errors": errors, "messages_list": full_messages(errors)},
        status=422 if errors else 200,
    )


# --- forgotten password ---------------------------------------------------------------------


@never_cache
@require_GET
def password_new(request: HttpRequest) -> HttpResponse:
    return render(request, "web/account/password_new.html")


@require_POST
def password_create(request: HttpRequest) -> HttpResponse:
    """Send a reset link, answering the same whether the email belongs to anyone or not."""
    email = request.POST.get("email", "").strip()[:255]
    if email:
        # Never the request's Host: whoever asks for someone else's reset would choose where
        # the victim's link (and its token) points. KILN_EXTERNAL_URL, or the listen address.
        self_service.send_password_reset(email=email, base_url=base_url(None))
    messages.info(request, RESET_SENT)
    return HttpResponseRedirect("/users/sign_in")


@never_cache
@require_http_methods(["GET", "POST"])
def password_edit(request: HttpRequest) -> HttpResponse:
    token = (request.POST if request.method == "POST" else request.GET).get(
        "reset_password_token", ""
    )
    if not token:
        messages.error(request, RESET_NO_TOKEN)
        return HttpResponseRedirect("/users/sign_in")
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            self_service.reset_password(
                token=token,
                password=request.POST.get("password", ""),
                confirmation=request.POST.get("password_confirmation", ""),
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            messages.success(request, RESET_DONE)
            return HttpResponseRedirect("/users/sign_in")
    response = render(
        request,
        "web/account/password_edit.html",
        {"token": token, "errors": errors, "messages_list": full_messages(errors)},
        status=422 if errors else 200,
    )
    response["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return response


# --- profile and avatar ---------------------------------------------------------------------

_PROFILE_TEXT = (
    "name",
    "pronouns",
    "bio",
    "location",
    "organization",
    "job_title",
    "website_url",
    "linkedin",
    "twitter",
    "discord",
    "github",
)


@never_cache
@dashboard.signed_in
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    actor, user = actor_for(request), _user(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        changes: dict[str, Any] = {
            name: request.POST.get(name, "").strip() for name in _PROFILE_TEXT
        }
        changes["public_email"] = request.POST.get("public_email", "")
        changes["private_profile"] = request.POST.get("private_profile") == "1"
        upload = request.FILES.get("avatar")
        try:
            if upload is not None:
                if upload.size is not None and upload.size > self_service.AVATAR_MAX_BYTES:
                    raise ValidationFailed({"avatar": ["is too big (should be at most 200 KiB)"]})
                self_service.set_avatar(
                    actor=actor, user=user, data=upload.read(self_service.AVATAR_MAX_BYTES + 1)
                )
            user = self_service.update_profile(actor=actor, user=user, changes=changes)
        except ValidationFailed as exc:
            errors = exc.errors
            for name, value in changes.items():
                setattr(user, name, value)
        else:
            messages.success(request, "Profile was successfully updated")
            return HttpResponseRedirect("/-/profile")
    return render(
        request,
        "web/account/profile.html",
        {
            "nav": "profile",
            "profile": user,
            "errors": errors,
            "messages_list": full_messages(errors),
        },
        status=422 if errors else 200,
    )


@dashboard.signed_in
@require_POST
def avatar_remove(request: HttpRequest) -> HttpResponse:
    self_service.remove_avatar(actor=actor_for(request), user=_user(request))
    messages.success(request, "Avatar was successfully removed.")
    return HttpResponseRedirect("/-/profile")


@require_GET
def avatar(request: HttpRequest, user_id: int, filename: str) -> HttpResponse:
    """An uploaded avatar at its stable URL, with the type its bytes were checked to be."""
    found = queries.get_avatar(user_id)
    if found is None:
        raise Http404("avatar")
    etag = f'"{found.digest}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(bytes(found.data), content_type=found.content_type)
        response["Content-Disposition"] = "inline"
    response["ETag"] = etag
    response["Cache-Control"] = "public, no-cache"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- preferences ----------------------------------------------------------------------------

COLOR_MODE_LABELS = {"light": "Light", "dark": "Dark", "system": "Auto (follow the system)"}
DIFF_VIEW_LABELS = {"inline": "Inline", "parallel": "Side-by-side"}


@never_cache
@dashboard.signed_in
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            self_service.update_preferences(
                actor=actor_for(request),
                user=user,
                color_mode=request.POST.get("color_mode") or None,
                diff_view=request.POST.get("diff_view") or None,
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            messages.success(request, "Preferences saved.")
            return HttpResponseRedirect("/-/profile/preferences")
    return render(
        request,
        "web/account/preferences.html",
        {
            "nav": "preferences",
            "color_modes": [
                {"value": v, "label": COLOR_MODE_LABELS[v], "checked": v == user.color_mode}
                for v in COLOR_MODES.values()
            ],
            "diff_views": [
                {"value": v, "label": DIFF_VIEW_LABELS[v], "checked": v == user.diff_view}
                for v in DIFF_VIEWS
            ],
            "messages_list": full_messages(errors),
        },
        status=422 if errors else 200,
    )


# --- password -------------------------------------------------------------------------------


@never_cache
@dashboard.signed_in
@require_http_methods(["GET", "POST"])
def password(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            self_service.change_password(
                actor=actor_for(request),
                user=user,
                current_password=request.POST.get("current_password", ""),
                password=request.POST.get("password", ""),
                confirmation=request.POST.get("password_confirmation", ""),
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            # This session stays signed in; every other session of the user ends.
            update_session_auth_hash(request, user)
            messages.success(request, "Password was successfully updated.")
            return HttpResponseRedirect("/-/user_settings/password/edit")
    return render(
        request,
        "web/account/password.html",
        {"nav": "password", "errors": errors, "messages_list": full_messages(errors)},
        status=422 if errors else 200,
    )


# --- personal access tokens -----------------------------------------------------------------

NEW_TOKEN_SESSION_KEY = "kiln_new_personal_access_token"  # noqa: S105 (a session key)
TOKEN_SCOPES = [
    ("api", "Grants complete read and write access to the API."),
    ("read_api", "Grants read access to the API."),
    ("read_user", "Grants read-only access to your profile through the /user API endpoint."),
    ("read_repository", "Grants read-only access to repositories (git clone, fetch)."),
    ("write_repository", "Grants read and write access to repositories (git push)."),
    ("read_registry", "Grants read-only access to container registry images."),
    ("write_registry", "Grants write access to container registry images."),
    ("create_runner", "Grants permission to create runners."),
    ("manage_runner", "Grants permission to manage runners."),
    ("self_rotate", "Grants permission to rotate this token."),
    ("sudo", "Grants permission to act as any user (administrators only)."),
    ("admin_mode", "Grants permission to use admin mode (administrators only)."),
]


def _parse_date(value: str, field: str, errors: dict[str, list[str]]) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors.setdefault(field, []).append("is invalid")
        return None


@never_cache
@dashboard.signed_in
@require_http_methods(["GET", "POST"])
def personal_access_tokens(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {
        "name": request.POST.get("name", "").strip(),
        "description": request.POST.get("description", "").strip(),
        "expires_at": request.POST.get("expires_at", "").strip(),
        "scopes": request.POST.getlist("scopes"),
    }
    if request.method == "POST":
        expires_at = _parse_date(values["expires_at"], "expires_at", errors)
        try:
            if errors:
                raise ValidationFailed(errors)
            token, value = self_service.create_own_personal_access_token(
                actor=actor,
                name=values["name"],
                description=values["description"],
                scopes=[s for s in values["scopes"] if s in TokenScope.values],
                expires_at=expires_at,
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            # Shown once: kept in the session only until the next page shows it.
            request.session[NEW_TOKEN_SESSION_KEY] = {"name": token.name, "value": value}
            return HttpResponseRedirect("/-/user_settings/personal_access_tokens")
    new_token = (
        request.session.pop(NEW_TOKEN_SESSION_KEY, None) if request.method == "GET" else None
    )
    default_expiry = dt.date.today() + dt.timedelta(days=30)
    response = render(
        request,
        "web/account/personal_access_tokens.html",
        {
            "nav": "tokens",
            "new_token": new_token,
            "active": list(queries.list_own_personal_access_tokens(actor, active=True)),
            "inactive": list(queries.list_own_personal_access_tokens(actor, active=False)[:20]),
            "scopes": [
                {"value": v, "help": h, "checked": v in values["scopes"]}
                for v, h in TOKEN_SCOPES
                if actor.is_admin or v not in self_service.ADMIN_ONLY_SCOPES
            ],
            "values": values,
            "default_expiry": values["expires_at"] or default_expiry.isoformat(),
            "max_expiry": (dt.date.today() + dt.timedelta(days=365)).isoformat(),
            "min_expiry": (dt.date.today() + dt.timedelta(days=1)).isoformat(),
            "errors": errors,
            "messages_list": full_messages(errors),
        },
        status=422 if errors else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


@dashboard.signed_in
@require_POST
def revoke_personal_access_token(request: HttpRequest, token_id: int) -> HttpResponse:
    actor = actor_for(request)
    token = queries.get_own_personal_access_token(actor, token_id)
    access_tokens.revoke_personal_access_token(actor=actor, token=token)
    messages.success(request, f"Revoked personal access token {token.name}!")
    return HttpResponseRedirect("/-/user_settings/personal_access_tokens")


# --- SSH keys -------------------------------------------------------------------------------


@never_cache
@dashboard.signed_in
@require_http_methods(["GET", "POST"])
def ssh_keys(request: HttpRequest) -> HttpResponse:
    actor, user = actor_for(request), _user(request)
    errors: dict[str, list[str]] = {}
    values = {
        "key": request.POST.get("key", "").strip(),
        "title": request.POST.get("title", "").strip(),
        "usage_type": request.POST.get("usage_type", SSHKeyUsage.AUTH_AND_SIGNING),
        "expires_at": request.POST.get("expires_at", "").strip(),
    }
    if request.method == "POST":
        expires = _parse_date(values["expires_at"], "expires_at", errors)
        title = values["title"]
        if not title and len(parts := values["key"].split(None, 2)) == 3:
            title = parts[2].strip()[:255]  # the key's comment, as GitLab's form fills it in
        try:
            if errors:
                raise ValidationFailed(errors)
            services.add_ssh_key(
                actor=actor,
                user=user,
                title=title,
                key=values["key"],
                usage_type=values["usage_type"],
                expires_at=(
                    dt.datetime.combine(expires, dt.time.min, tzinfo=dt.UTC) if expires else None
                ),
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            messages.success(request, "SSH key was successfully added.")
            return HttpResponseRedirect("/-/user_settings/ssh_keys")
    return render(
        request,
        "web/account/ssh_keys.html",
        {
            "nav": "ssh_keys",
            "keys": list(queries.list_ssh_keys_for(actor, user)),
            "values": values,
            "usage_types": [
                ("auth_and_signing", "Authentication & Signing"),
                ("auth", "Authentication"),
                ("signing", "Signing"),
            ],
            "errors": errors,
            "messages_list": full_messages(errors),
        },
        status=422 if errors else 200,
    )


@dashboard.signed_in
@require_POST
def delete_ssh_key(request: HttpRequest, key_id: int) -> HttpResponse:
    actor, user = actor_for(request), _user(request)
    key = queries.get_ssh_key_for(actor, user, key_id)
    services.delete_ssh_key(actor=actor, key=key)
    messages.success(request, "SSH key was successfully deleted.")
    return HttpResponseRedirect("/-/user_settings/ssh_keys")

"""The minimal web pages of the foundation: sign in, sign out, home. The UI issue builds on them."""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from kiln.accounts.services import sign_in_with_password

# What the sign-in page says for each failure (GitLab's Devise messages).
_SIGN_IN_FAILURES = {
    "invalid": "Invalid login or password.",
    "locked": "Your account is locked.",
    "blocked": (
        "Your account has been blocked. "
        "Please contact your administrator if you think this is an error."
    ),
}


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        result = sign_in_with_password(
            login=request.POST.get("username", ""),
            password=request.POST.get("password", ""),
            ip=request.META.get("REMOTE_ADDR") or None,
        )
        user = result.user
        if user is not None:
            # `login` rotates the session key and the CSRF token: no session fixation.
            login(request, user, backend="kiln.accounts.backends.KilnBackend")
            if not request.POST.get("remember_me"):
                request.session.set_expiry(0)
            target = request.GET.get("redirect_to", "/")
            if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
                target = "/"
            return HttpResponseRedirect(target)
        error = _SIGN_IN_FAILURES.get(result.failure, _SIGN_IN_FAILURES["invalid"])
    return render(request, "web/sign_in.html", {"error": error}, status=401 if error else 200)


@require_http_methods(["POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/users/sign_in")

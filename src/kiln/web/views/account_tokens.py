"""Rotating a personal access token from the user settings page (GitLab's
`PUT /-/user_settings/personal_access_tokens/:id/rotate`, posted here as a form).

The accounts service revokes the token and issues its successor with the same lifetime; the
new value is shown once, on the token page, the way a newly created token is.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from kiln.accounts import access_tokens, queries
from kiln.core.errors import KilnError
from kiln.web.context import actor_for
from kiln.web.views import dashboard
from kiln.web.views.account import NEW_TOKEN_SESSION_KEY

TOKENS_URL = "/-/user_settings/personal_access_tokens"


@dashboard.signed_in
@require_POST
def rotate_personal_access_token(request: HttpRequest, token_id: int) -> HttpResponse:
    actor = actor_for(request)
    # Only the user's own tokens: anyone else's is 404, as on GitLab's page.
    token = queries.get_own_personal_access_token(actor, token_id)
    try:
        successor, value = access_tokens.rotate_personal_access_token(
            actor=actor, token=token, keep_token_lifetime=True
        )
    except KilnError as exc:
        messages.error(request, exc.message or "The token could not be rotated.")
        return HttpResponseRedirect(TOKENS_URL)
    request.session[NEW_TOKEN_SESSION_KEY] = {"name": successor.name, "value": value}
    return HttpResponseRedirect(TOKENS_URL)

"""`/api/v4/internal/*`: what Kiln's own git hooks call back (not for clients).

Each call carries the push token minted by the transport that started `git receive-pack`
(see kiln.repositories.hooktoken); without a valid one the answer is 401.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Body, Router, Schema

from kiln.core.errors import Unauthorized
from kiln.repositories import hooktoken
from kiln.repositories.access import GitAccessDenied
from kiln.repositories.services import post_receive, pre_receive

router = Router(tags=["internal"], auth=None)


class HookCall(Schema):
    token: str
    changes: list[dict[str, str]] = []
    env: dict[str, str] = {}


def _claims(call: HookCall) -> hooktoken.HookClaims:
    claims = hooktoken.verify(call.token)
    if claims is None:
        raise Unauthorized()
    return claims


@router.post("/internal/pre_receive", include_in_schema=False)
def internal_pre_receive(request: HttpRequest, call: Annotated[HookCall, Body()]) -> Any:
    claims = _claims(call)
    try:
        pre_receive(claims=claims, raw_changes=call.changes, git_env=call.env)
    except GitAccessDenied as exc:
        return {"status": False, "message": exc.message}
    return {"status": True}


@router.post("/internal/post_receive", include_in_schema=False)
def internal_post_receive(request: HttpRequest, call: Annotated[HookCall, Body()]) -> Any:
    claims = _claims(call)
    messages = post_receive(claims=claims, raw_changes=call.changes)
    return {"status": True, "messages": messages}

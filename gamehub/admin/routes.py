"""HTTP endpoints of operator sign-in (the other /admin endpoints are in routes_*.py)."""

from __future__ import annotations

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from gamehub.admin import accounts
from gamehub.admin.schemas import AdminLoginIn, AdminTokenOut
from gamehub.ratelimit import SlidingWindow
from gamehub.runtime import runtime

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


def _limiter() -> SlidingWindow:
    rt = runtime()
    limiter = rt.extras.get("admin_login_limiter")
    if not isinstance(limiter, SlidingWindow):
        limiter = SlidingWindow(rt.settings.login_attempts_per_minute)
        rt.extras["admin_login_limiter"] = limiter
    return limiter


@blueprint.post("/login")
@validate_request(AdminLoginIn)
@validate_response(AdminTokenOut)
async def login(data: AdminLoginIn) -> AdminTokenOut:
    """Operator sign-in with password and TOTP: a short-lived token with scope admin."""
    # Per address and name, as player login: six digits must not be guessable at leisure.
    _limiter().hit(f"admin-login:{request.remote_addr}:{data.username.lower()}")
    rt = runtime()
    signed_in = await accounts.login(
        rt.sessions, rt.settings, data.username, data.password, data.totp, request.remote_addr
    )
    return AdminTokenOut(access_token=signed_in.access_token, expires_in=signed_in.expires_in)

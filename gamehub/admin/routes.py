"""HTTP endpoints of operator sign-in (the other /admin endpoints are in routes_*.py)."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import validate_request, validate_response

from gamehub.admin import accounts
from gamehub.admin.guard import current_operator, operator_required
from gamehub.admin.schemas import AdminLoginIn, AdminTokenOut
from gamehub.auth.throttle import client_address
from gamehub.ratelimit import RateLimited
from gamehub.runtime import runtime

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.post("/login")
@validate_request(AdminLoginIn)
@validate_response(AdminTokenOut)
async def login(data: AdminLoginIn) -> AdminTokenOut:
    """Operator sign-in with password and TOTP: a short-lived token with scope admin."""
    rt = runtime()
    # Per address and name, at the strict rate of a player account's logins from unknown
    # places: six digits must not be guessable at leisure.
    if rt.settings.rate_limits:
        key = f"admin-login:{client_address()}:{data.username.lower()}"
        wait = await rt.limiter.hit(key, rt.settings.rate_login_account)
        if wait is not None:
            raise RateLimited.after(wait)
    token = await accounts.login(
        rt.sessions, rt.settings, data.username, data.password, data.totp, client_address()
    )
    return AdminTokenOut(access_token=token, expires_in=rt.settings.admin_token_ttl_s)


@blueprint.post("/logout")
@operator_required
async def logout() -> Response:
    """Sign out: this operator token (its login) stops working at once; 204."""
    await accounts.sign_out(runtime().sessions, current_operator())
    return Response(status=204)

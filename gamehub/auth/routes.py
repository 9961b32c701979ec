"""HTTP endpoints for accounts: register, login, refresh, logout, profile, stream tickets."""

from __future__ import annotations

from quart import Blueprint, Response, after_this_request, g, request
from quart_schema import validate_request, validate_response
from werkzeug.wrappers import Response as WerkzeugResponse

from gamehub import connections
from gamehub.auth import service, throttle, tickets
from gamehub.auth.guard import current_family, current_user, login_required
from gamehub.auth.schemas import (
    LoginIn,
    ProfilePatch,
    RefreshIn,
    RegisterIn,
    StreamTicketOut,
    TokensOut,
    UserOut,
)
from gamehub.auth.tokens import AccessClaims
from gamehub.balances import Balance, player_balance
from gamehub.db import iso_utc
from gamehub.models import User
from gamehub.money import format_cents
from gamehub.runtime import runtime

blueprint = Blueprint("auth", __name__)
AnyResponse = Response | WerkzeugResponse


async def render_user(user: User, wallet: Balance | None = None) -> UserOut:
    if wallet is None:
        async with runtime().readers() as session:
            wallet = await player_balance(session, user.id)
    return UserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        phone=user.phone,
        date_of_birth=user.date_of_birth.isoformat(),
        balance=format_cents(wallet.balance),
        held=format_cents(wallet.held),
        created_at=iso_utc(user.created_at),
        client_seed=user.client_seed,
    )


async def _tokens(result: service.Session) -> TokensOut:
    return TokensOut(
        user=await render_user(result.user),
        access_token=result.access_token,
        refresh_token=result.refresh_token,
        expires_in=result.expires_in,
    )


@blueprint.post("/register")
@validate_request(RegisterIn)
@validate_response(TokensOut, 201)
async def register(data: RegisterIn) -> tuple[TokensOut, int]:
    """Create an account (18+) and log it in; 429 beyond the sign-ups one address may make."""
    rt = runtime()
    await throttle.before_sign_up(rt)
    result = await service.register(rt.sessions, rt.settings, data)
    _set_device_cookie(throttle.new_device_cookie(rt.settings.jwt_secret, result.user.id))
    return await _tokens(result), 201


@blueprint.post("/login")
@validate_request(LoginIn)
@validate_response(TokensOut)
async def login(data: LoginIn) -> TokensOut:
    """Log in by username or email; wrong credentials always get the same 401, and failed
    attempts are limited (429) without locking the owner's own device or address out."""
    logged_in = await throttle.login(runtime(), data)
    if logged_in.device_cookie is not None:
        _set_device_cookie(logged_in.device_cookie)
    return await _tokens(logged_in.session)


def _set_device_cookie(value: str) -> None:
    """Name this device for later logins (see auth/throttle.py); only /login reads it."""

    @after_this_request
    async def _set(response: AnyResponse) -> AnyResponse:
        response.set_cookie(
            throttle.DEVICE_COOKIE,
            value,
            max_age=throttle.DEVICE_COOKIE_MAX_AGE_S,
            path="/login",
            secure=request.scheme in ("https", "wss"),
            httponly=True,
            samesite="Strict",
        )
        return response


@blueprint.post("/auth/refresh")
@validate_request(RefreshIn)
@validate_response(TokensOut)
async def refresh(data: RefreshIn) -> TokensOut:
    """Spend a refresh token for a new token pair (rotation; a reused token ends the session)."""
    rt = runtime()
    try:
        result = await service.refresh(rt.sessions, rt.settings, data.refresh_token)
    except service.RefreshReused as reused:
        await connections.logins_ended(rt.broker, reused.user_id, [reused.family_id])
        raise
    return await _tokens(result)


@blueprint.post("/auth/logout")
@login_required
async def logout() -> Response:
    """End this login: its refresh tokens and its access tokens stop working."""
    rt = runtime()
    await service.logout(rt.sessions, current_family())
    # Its streams and sockets close too, on every instance.
    await connections.logins_ended(rt.broker, current_user().id, [current_family()])
    return Response(status=204)


@blueprint.post("/auth/stream-ticket")
@login_required
@validate_response(StreamTicketOut)
async def stream_ticket() -> StreamTicketOut:
    """A single-use ticket (≤ 60 s) for `?ticket=` on a stream URL (EventSource has no headers)."""
    rt = runtime()
    login = AccessClaims(current_user().id, current_family())
    ticket = tickets.issue(rt.settings.jwt_secret, login, rt.settings.stream_ticket_ttl_s)
    return StreamTicketOut(ticket=ticket, expires_in=rt.settings.stream_ticket_ttl_s)


@blueprint.get("/profile")
@login_required
@validate_response(UserOut)
async def get_profile() -> UserOut:
    """The signed-in user's profile with balance and held amounts."""
    return await render_user(current_user(), g.balance)


@blueprint.patch("/profile")
@login_required
@validate_request(ProfilePatch)
@validate_response(UserOut)
async def patch_profile(data: ProfilePatch) -> UserOut:
    """Change email, phone or client seed; any other field is a 422."""
    user = await service.update_profile(runtime().sessions, current_user().id, data)
    return await render_user(user)

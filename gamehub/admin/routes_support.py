"""HTTP endpoints of player support: search, a player's page, suspend and reinstate."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from gamehub import connections
from gamehub.admin import support, suspensions
from gamehub.admin.guard import current_operator, operator_required
from gamehub.admin.render import page_out, player_out
from gamehub.admin.schemas import PlayerEnvelope, PlayerPageOut, ReasonIn, UsersOut, UsersQuery
from gamehub.runtime import runtime

blueprint = Blueprint("admin_support", __name__, url_prefix="/admin")


@blueprint.get("/users")
@operator_required
@validate_querystring(UsersQuery)
@validate_response(UsersOut)
async def search(query_args: UsersQuery) -> UsersOut:
    """Players whose username, email or phone contains `query`."""
    async with runtime().readers() as session:
        found = await support.search(session, query_args.query)
    return UsersOut(users=[player_out(user, suspension) for user, suspension in found])


@blueprint.get("/users/<int:user_id>")
@operator_required
@validate_response(PlayerPageOut)
async def show(user_id: int) -> PlayerPageOut:
    """A player with wallet, recent transactions, open logins, pause, limits and suspension."""
    async with runtime().readers() as session:
        return page_out(await support.player_page(session, user_id))


@blueprint.post("/users/<int:user_id>/suspend")
@operator_required
@validate_request(ReasonIn)
@validate_response(PlayerEnvelope)
async def suspend(user_id: int, data: ReasonIn) -> PlayerEnvelope:
    """Suspend a player: every login ends at once and new logins get 403 account_suspended."""
    rt = runtime()
    user, suspension, ended = await suspensions.suspend(
        rt.sessions, current_operator(), user_id, data.reason
    )
    # Their streams and sockets close too, on every instance.
    await connections.logins_ended(rt.broker, user.id, ended)
    return PlayerEnvelope(user=player_out(user, suspension))


@blueprint.post("/users/<int:user_id>/reinstate")
@operator_required
@validate_request(ReasonIn)
@validate_response(PlayerEnvelope)
async def reinstate(user_id: int, data: ReasonIn) -> PlayerEnvelope:
    """Lift a suspension: the player may log in again (logins ended by it stay ended)."""
    user = await suspensions.reinstate(runtime().sessions, current_operator(), user_id, data.reason)
    return PlayerEnvelope(user=player_out(user, None))

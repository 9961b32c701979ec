"""HTTP endpoints of player support: search, a player's page, suspend and reinstate."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from gamehub.admin import support
from gamehub.admin.guard import operator_required
from gamehub.admin.render import page_out, player_out
from gamehub.admin.schemas import PlayerPageOut, UsersOut, UsersQuery
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

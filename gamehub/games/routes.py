"""HTTP endpoints for the catalogue, Spin and Win, fairness, bet history and statistics."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from gamehub.auth.guard import current_login, current_user, login_checked_by_service, login_required
from gamehub.db import iso_utc
from gamehub.games import catalogue, history, seed_pairs, spin, verify
from gamehub.games.schemas import (
    BetOut,
    FairnessOut,
    GameOut,
    GamesOut,
    GameTotalsOut,
    HistoryOut,
    HistoryQuery,
    PlayIn,
    PlayOut,
    RevealedPairOut,
    RotateIn,
    RotateOut,
    StatsOut,
    TotalsOut,
    VerifyOut,
    VerifyQuery,
)
from gamehub.games.wheel import decimal_text
from gamehub.idempotency import idempotency_scope, idempotent
from gamehub.money import format_cents
from gamehub.responsible.pauses import ensure_may_play
from gamehub.runtime import runtime
from gamehub.userlimits import limited

blueprint = Blueprint("games", __name__)


@blueprint.get("/games")
@login_required
@validate_response(GamesOut)
async def list_games() -> GamesOut:
    """The catalogue: each game with its bet limits and rules."""
    rt = runtime()
    games = await catalogue.active_games(rt.sessions)
    overrides = rt.settings.roulette_overrides()
    return GamesOut(
        games=[
            GameOut(
                slug=game.slug,
                name=game.name,
                kind=game.kind,
                min_bet=format_cents(game.min_bet),
                max_bet=format_cents(game.max_bet),
                **catalogue.public_rules(game, overrides),
            )
            for game in games
        ]
    )


@blueprint.post("/games/spin-and-win/play")
@login_checked_by_service
@limited("play")
@validate_request(PlayIn)
@idempotent
@validate_response(PlayOut)
async def play_spin_and_win(data: PlayIn) -> PlayOut:
    """Spin the wheel once; honours `Idempotency-Key`.
    422 `bet_out_of_limits`, 409 `insufficient_funds`, 403 `play_paused`."""
    login = current_login()
    ensure_may_play(login.paused_until)  # the token knows the pause: no read
    result = await spin.play(runtime(), login, data.bet_amount, idempotency_scope())
    return PlayOut(
        bet_id=result.bet_id,
        segment=result.segment,
        label=result.label,
        multiplier=decimal_text(result.multiplier),
        bet_amount=format_cents(result.bet_amount),
        win_amount=format_cents(result.win_amount),
        tax_withheld=format_cents(result.tax_withheld),
        new_balance=format_cents(result.new_balance),
        fairness=FairnessOut(
            server_seed_hash=result.server_seed_hash,
            client_seed=result.client_seed,
            nonce=result.nonce,
        ),
    )


@blueprint.get("/fairness")
@login_required
@validate_response(FairnessOut)
async def get_fairness() -> FairnessOut:
    """The current seed pair's commitment, client seed and the nonce of the next spin."""
    pair = await seed_pairs.current(runtime().sessions, current_user().id)
    return FairnessOut(
        server_seed_hash=pair.server_seed_hash, client_seed=pair.client_seed, nonce=pair.next_nonce
    )


@blueprint.post("/fairness/rotate")
@login_required
@validate_request(RotateIn)
@validate_response(RotateOut)
async def rotate_fairness(data: RotateIn) -> RotateOut:
    """Reveal the current server seed and start a new pair at nonce 0 (client seed optional)."""
    rotation = await seed_pairs.rotate(runtime().sessions, current_user().id, data.client_seed)
    new = rotation.current
    return RotateOut(
        previous=RevealedPairOut.model_validate(rotation.previous, from_attributes=True),
        current=FairnessOut(
            server_seed_hash=new.server_seed_hash, client_seed=new.client_seed, nonce=new.next_nonce
        ),
    )


@blueprint.get("/fairness/verify")
@login_required
@validate_querystring(VerifyQuery)
@validate_response(VerifyOut)
async def verify_outcome(query_args: VerifyQuery) -> VerifyOut:
    """Recompute an outcome from revealed inputs (for russian-roulette the nonce is the room id)."""
    return await verify.verify(
        runtime(), query_args.game, query_args.server_seed, query_args.client_seed, query_args.nonce
    )


@blueprint.get("/history")
@login_required
@validate_querystring(HistoryQuery)
@validate_response(HistoryOut)
async def bet_history(query_args: HistoryQuery) -> HistoryOut:
    """The caller's bets on every game, newest first; pass `next_before` as `before`."""
    page = await history.bets(
        runtime().sessions,
        current_user().id,
        limit=query_args.limit,
        before=query_args.before,
        game=query_args.game,
    )
    return HistoryOut(
        bets=[
            BetOut(
                id=bet.id,
                game=bet.game,
                bet_type=bet.bet_type,
                bet_amount=format_cents(bet.bet_amount),
                win_amount=format_cents(bet.win_amount),
                tax_withheld=format_cents(bet.tax_withheld),
                net_result=None if bet.net_result is None else format_cents(bet.net_result),
                status=bet.status,
                room_id=bet.room_id,
                created_at=iso_utc(bet.created_at),
            )
            for bet in page.bets
        ],
        next_before=page.next_before,
    )


def _totals(totals: history.Totals) -> TotalsOut:
    return TotalsOut(
        bets=totals.bets,
        wagered=format_cents(totals.wagered),
        won=format_cents(totals.won),
        net=format_cents(totals.net),
    )


@blueprint.get("/stats")
@login_required
@validate_response(StatsOut)
async def bet_stats() -> StatsOut:
    """The caller's settled bets counted, wagered, won and net, overall and per game."""
    stats = await history.stats(runtime().sessions, current_user().id)
    return StatsOut(
        overall=_totals(stats.overall),
        by_game=[
            GameTotalsOut(game=slug, **_totals(totals).model_dump())
            for slug, totals in stats.by_game
        ],
    )

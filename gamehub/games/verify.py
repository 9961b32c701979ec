"""Recomputing an outcome from revealed inputs, exactly as the game computed it (RULES.md)."""

from __future__ import annotations

from typing import Any

from gamehub import fairness
from gamehub.games.catalogue import RUSSIAN_ROULETTE, SPIN_AND_WIN, spin_table
from gamehub.games.schemas import VerifyOut
from gamehub.games.wheel import decimal_text
from gamehub.runtime import Runtime


async def verify(
    rt: Runtime, game: str, server_seed: str, client_seed: str, nonce: int
) -> VerifyOut:
    """The outcome `game` gives for these inputs; Spin and Win uses the catalogue's wheel."""
    outcome: dict[str, Any]
    if game == SPIN_AND_WIN:
        wheel = (await spin_table(rt)).wheel
        draw = wheel.draw(server_seed, client_seed, nonce)
        segment = wheel.segments[draw.segment]
        outcome = {
            "segment": draw.segment,
            "label": segment.label,
            "multiplier": decimal_text(segment.multiplier),
            "r": draw.r,
        }
    else:
        assert game == RUSSIAN_ROULETTE, game
        result = fairness.roulette_draw(server_seed, client_seed, nonce)
        outcome = {"bullet": result.bullet, "first_shooter_seat": result.first_shooter_seat}
    return VerifyOut(
        game=game,
        server_seed_hash=fairness.commitment(server_seed),
        client_seed=client_seed,
        nonce=nonce,
        **outcome,
    )

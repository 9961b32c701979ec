"""Recomputing an outcome from revealed inputs, exactly as the game computed it (RULES.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from gamehub import fairness
from gamehub.games.catalogue import RUSSIAN_ROULETTE, SPIN_AND_WIN, spin_table
from gamehub.runtime import Runtime


@dataclass(frozen=True)
class Verification:
    game: str
    server_seed_hash: str
    client_seed: str
    nonce: int
    # Spin and Win
    segment: int | None = None
    label: str | None = None
    multiplier: Decimal | None = None
    r: int | None = None
    # Russian Roulette (the nonce is the room id)
    bullet: int | None = None
    first_shooter_seat: int | None = None


async def verify(
    rt: Runtime, game: str, server_seed: str, client_seed: str, nonce: int
) -> Verification:
    """The outcome `game` gives for these inputs; Spin and Win uses the catalogue's wheel."""
    inputs = Verification(
        game=game,
        server_seed_hash=fairness.commitment(server_seed),
        client_seed=client_seed,
        nonce=nonce,
    )
    if game == SPIN_AND_WIN:
        wheel = (await spin_table(rt)).wheel
        draw = wheel.draw(server_seed, client_seed, nonce)
        segment = wheel.segments[draw.segment]
        return replace(
            inputs,
            segment=draw.segment,
            label=segment.label,
            multiplier=segment.multiplier,
            r=draw.r,
        )
    assert game == RUSSIAN_ROULETTE, game
    result = fairness.roulette_draw(server_seed, client_seed, nonce)
    return replace(inputs, bullet=result.bullet, first_shooter_seat=result.first_shooter_seat)

"""Request, query and response bodies of the games, fairness, history and stats endpoints."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gamehub.auth.schemas import CLIENT_SEED_PATTERN, ClientSeed, Strict
from gamehub.ids import QUERY_DIGITS, QueryId
from gamehub.money import Cents

SERVER_SEED_PATTERN = r"^[0-9a-f]{64}$"
_CLIENT_SEED = re.compile(CLIENT_SEED_PATTERN)
_ONE_OR_TWO_CLIENT_SEEDS = r"^[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_-]{1,64})?$"
MAX_NONCE = 2**63 - 1


class GameOut(BaseModel):
    """A catalogue entry; the game's rules follow the common fields (Spin and Win: `segments`
    and `rtp`; Russian Roulette: `rake_percent`, `side_bet_edge_percent`, `turn_timeout_s`,
    `waiting_timeout_s`, `side_bet_min`, `side_bet_max`)."""

    model_config = ConfigDict(extra="allow")

    slug: str
    name: str
    kind: str
    min_bet: str
    max_bet: str


class GamesOut(BaseModel):
    games: list[GameOut]


class PlayIn(Strict):
    bet_amount: Cents


class FairnessOut(BaseModel):
    server_seed_hash: str
    client_seed: str
    nonce: int  # the nonce the next spin uses (GET /fairness) or this spin used (play)


class PlayOut(BaseModel):
    bet_id: int
    segment: int
    label: str
    multiplier: str
    bet_amount: str
    win_amount: str  # paid in full; tax_withheld then goes to the tax authority
    tax_withheld: str  # withholding tax on the winnings ("0.00" when none)
    new_balance: str
    fairness: FairnessOut


class RotateIn(Strict):
    client_seed: ClientSeed | None = None


class RevealedPairOut(BaseModel):
    server_seed: str
    server_seed_hash: str
    client_seed: str
    last_nonce: int | None  # null when no spin used the pair


class RotateOut(BaseModel):
    previous: RevealedPairOut
    current: FairnessOut


class VerifyQuery(Strict):
    server_seed: Annotated[str, Field(pattern=SERVER_SEED_PATTERN)]
    # One player's seed (Spin and Win) or a room's two joined by ':' (Russian Roulette); which
    # one `game` asks for is checked below (a query string's parameters cannot say it).
    client_seed: Annotated[
        str, Field(min_length=1, max_length=129, pattern=_ONE_OR_TWO_CLIENT_SEEDS)
    ]
    nonce: Annotated[int, Field(ge=0, le=MAX_NONCE), QUERY_DIGITS]
    game: Literal["spin-and-win", "russian-roulette"] = "spin-and-win"

    @model_validator(mode="after")
    def _client_seed_of_game(self) -> VerifyQuery:
        if self.game == "russian-roulette":
            parts = self.client_seed.split(":")
            if len(parts) != 2 or not all(_CLIENT_SEED.match(part) for part in parts):
                raise ValueError(
                    f"client_seed must be two seeds {CLIENT_SEED_PATTERN} joined by ':'"
                )
        elif not _CLIENT_SEED.match(self.client_seed):
            raise ValueError(f"client_seed must match {CLIENT_SEED_PATTERN}")
        return self


class VerifyOut(BaseModel):
    """The outcome of the inputs: `segment`, `label`, `multiplier` and `r` for Spin and Win;
    `bullet` and `first_shooter_seat` for Russian Roulette (the other game's fields are null)."""

    game: str
    server_seed_hash: str
    client_seed: str
    nonce: int
    segment: int | None = None
    label: str | None = None
    multiplier: str | None = None
    r: int | None = None
    bullet: int | None = None
    first_shooter_seat: int | None = None


class HistoryQuery(Strict):
    limit: Annotated[int, Field(ge=1, le=100), QUERY_DIGITS] = 20
    before: QueryId | None = None
    game: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$")] | None = None


class BetOut(BaseModel):
    id: int
    game: str
    bet_type: str
    bet_amount: str
    win_amount: str
    tax_withheld: str  # withholding tax taken from win_amount ("0.00" when none)
    net_result: str | None  # null while the bet is pending; after the tax
    status: str
    room_id: int | None
    created_at: str


class HistoryOut(BaseModel):
    bets: list[BetOut]
    next_before: int | None


class TotalsOut(BaseModel):
    bets: int
    wagered: str
    won: str
    net: str


class GameTotalsOut(TotalsOut):
    game: str


class StatsOut(BaseModel):
    overall: TotalsOut
    by_game: list[GameTotalsOut]

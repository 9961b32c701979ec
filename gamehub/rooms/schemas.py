"""Request and response bodies of the Russian Roulette endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from gamehub.ids import Id
from gamehub.money import Cents

RoomId = Id


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JoinIn(Strict):
    stake: Cents
    room_id: RoomId | None = None


class PlaceBetIn(Strict):
    room_id: RoomId
    bet_amount: Cents
    bet_type: Literal["survival", "elimination"]


class RoomIn(Strict):
    room_id: RoomId


class RoomsQuery(BaseModel):
    status: Literal["waiting", "playing", "finished", "cancelled"] | None = None


class PlayerOut(BaseModel):
    user_id: int
    username: str
    seat: int
    alive: bool


class RoomFairnessOut(BaseModel):
    server_seed_hash: str | None
    server_seed: str | None
    client_seed: str | None
    nonce: int


class RoomOut(BaseModel):
    id: int
    status: str
    stake: str
    pot: str
    players: list[PlayerOut]
    turn_user_id: int | None
    pull_number: int
    chambers_left: int
    turn_deadline: str | None
    winner_user_id: int | None
    fairness: RoomFairnessOut
    seq: int


class RoomEnvelope(BaseModel):
    room: RoomOut


class RoomsOut(BaseModel):
    rooms: list[RoomOut]


class PlacedBetOut(BaseModel):
    bet_id: int
    bet_type: str
    pull_number: int
    odds: str
    potential_payout: str
    new_balance: str


class PullOut(BaseModel):
    pull_number: int
    shooter: int
    outcome: Literal["click", "bang"]
    room: RoomOut


class LeaveOut(BaseModel):
    room: RoomOut
    refunded: str | None
    forfeited: str | None

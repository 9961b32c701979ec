"""Provably fair randomness (RULES.md): seeds, commitments, the HMAC byte stream, uniform(),
and the outcomes of both games. Pure functions, no IO; anyone can re-run them to verify."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

SEED_BYTES = 32
CHAMBERS = 6
SEATS = 2


def new_server_seed() -> str:
    """32 bytes from the CSPRNG as 64 lowercase hex characters."""
    return secrets.token_hex(SEED_BYTES)


def commitment(server_seed: str) -> str:
    """sha256 of the seed's ASCII hex: published before any outcome depends on the seed."""
    return hashlib.sha256(server_seed.encode("ascii")).hexdigest()


def integers(server_seed: str, client_seed: str, nonce: int | str) -> Iterator[int]:
    """The stream's consecutive big-endian unsigned 32-bit integers, round 0, 1, 2, …"""
    key = server_seed.encode("ascii")
    round_ = 0
    while True:
        block = hmac.new(key, f"{client_seed}:{nonce}:{round_}".encode("ascii"), "sha256").digest()
        for offset in range(0, len(block), 4):
            yield int.from_bytes(block[offset : offset + 4], "big")
        round_ += 1


def uniform(n: int, stream: Iterator[int]) -> int:
    """An exactly uniform integer in [0, n): rejection sampling removes the modulo bias."""
    if n < 1:
        raise ValueError("uniform(n) needs n >= 1")
    limit = 2**32 - (2**32 % n)
    for value in stream:
        if value < limit:
            return value % n
    raise AssertionError("the HMAC stream is infinite")


def spin_segment(weights: Sequence[int], server_seed: str, client_seed: str, nonce: int) -> int:
    """The segment a spin lands on: the first whose cumulative weight exceeds uniform(total)."""
    r = uniform(sum(weights), integers(server_seed, client_seed, nonce))
    cumulative = 0
    for index, weight in enumerate(weights):
        cumulative += weight
        if r < cumulative:
            return index
    raise AssertionError("r < sum(weights) always lands on a segment")


@dataclass(frozen=True)
class RouletteDraw:
    bullet: int  # the chamber (0-5) that fires: pull p goes bang when p - 1 == bullet
    first_shooter_seat: int


def roulette_client_seed(seat0_client_seed: str, seat1_client_seed: str) -> str:
    return f"{seat0_client_seed}:{seat1_client_seed}"


def roulette_draw(server_seed: str, client_seed: str, nonce: int | str) -> RouletteDraw:
    """bullet = uniform(6) first, then first_shooter_seat = uniform(2), from one stream."""
    stream = integers(server_seed, client_seed, nonce)
    bullet = uniform(CHAMBERS, stream)
    return RouletteDraw(bullet=bullet, first_shooter_seat=uniform(SEATS, stream))


def matches_commitment(server_seed: str, server_seed_hash: str) -> bool:
    return hmac.compare_digest(commitment(server_seed), server_seed_hash)

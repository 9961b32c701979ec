"""Known answers for the provably fair algorithm, recomputed here from the RULES.md text with
hashlib and hmac alone, and the wheel's statistics over many spins."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction

from gamehub import fairness
from gamehub.games.wheel import Wheel, decimal_text

# Pinned with an independent tool (openssl dgst -sha256 [-hmac]) so that this file and the
# module cannot drift together.
KAT_SERVER_SEED = "5455fc3fb94cf1d5cac49792b3c79be4376671a1c1fffaf3edf630d61840e838"
KAT_COMMITMENT = "7b47eb15ab8965870ff3dd11d9f9b0492289d3684a9b25de7300567fdf5f346d"
KAT_CLIENT_SEED = "my-client_seed"
KAT_NONCE = 7
KAT_ROUND0 = "e18d45ea20d0cde8c5f54997476494c2be2a16efa2ee76c495d14f670c5f95ca"
KAT_ROUND1 = "00397cc0f4c9d7d1dfa5c311d6c3e8ba6a7d1d7157577b750c79db5a1ac77e74"

DEFAULT_RULES = {
    "segments": [
        {"label": "Lose", "multiplier": "0", "weight": 60},
        {"label": "x1", "multiplier": "1", "weight": 20},
        {"label": "x2", "multiplier": "2", "weight": 15},
        {"label": "x5", "multiplier": "5", "weight": 5},
    ]
}
WEIGHTS = [60, 20, 15, 5]
MULTIPLIERS = [0, 1, 2, 5]


# --- the rules, written out again from RULES.md ------------------------------------------------


def reference_block(server_seed: str, client_seed: str, nonce: int, round_: int) -> bytes:
    """HMAC-SHA256(key = ascii(server_seed_hex), msg = ascii(f"{client_seed}:{nonce}:{round}"))."""
    message = f"{client_seed}:{nonce}:{round_}".encode("ascii")
    return hmac.new(server_seed.encode("ascii"), message, hashlib.sha256).digest()


def reference_integers(server_seed: str, client_seed: str, nonce: int) -> Iterator[int]:
    """The blocks concatenated, read as consecutive big-endian unsigned 32-bit integers."""
    for round_ in itertools.count():
        block = reference_block(server_seed, client_seed, nonce, round_)
        for offset in range(0, 32, 4):
            yield int.from_bytes(block[offset : offset + 4], "big")


def reference_uniform(n: int, stream: Iterator[int]) -> int:
    limit = 2**32 - (2**32 % n)
    for value in stream:
        if value < limit:
            return value % n
    raise AssertionError("unreachable")


def reference_segment(weights: list[int], server_seed: str, client_seed: str, nonce: int) -> int:
    r = reference_uniform(sum(weights), reference_integers(server_seed, client_seed, nonce))
    cumulative = 0
    for index, weight in enumerate(weights):
        cumulative += weight
        if cumulative > r:
            return index
    raise AssertionError("unreachable")


# --- known answers -----------------------------------------------------------------------------


def test_pinned_known_answers_match_the_rules_text() -> None:
    assert hashlib.sha256(KAT_SERVER_SEED.encode("ascii")).hexdigest() == KAT_COMMITMENT
    assert reference_block(KAT_SERVER_SEED, KAT_CLIENT_SEED, KAT_NONCE, 0).hex() == KAT_ROUND0
    assert reference_block(KAT_SERVER_SEED, KAT_CLIENT_SEED, KAT_NONCE, 1).hex() == KAT_ROUND1


def test_commitment() -> None:
    assert fairness.commitment(KAT_SERVER_SEED) == KAT_COMMITMENT
    assert fairness.matches_commitment(KAT_SERVER_SEED, KAT_COMMITMENT)
    assert not fairness.matches_commitment(KAT_SERVER_SEED, "0" * 64)


def test_byte_stream_is_big_endian_32_bit_words_over_rounds() -> None:
    expected = [int(KAT_ROUND0[i : i + 8], 16) for i in range(0, 64, 8)]
    expected += [int(KAT_ROUND1[i : i + 8], 16) for i in range(0, 64, 8)]
    stream = fairness.integers(KAT_SERVER_SEED, KAT_CLIENT_SEED, KAT_NONCE)
    assert [next(stream) for _ in range(16)] == expected
    assert expected[0] == 0xE18D45EA


def test_byte_stream_matches_the_reference_for_many_inputs() -> None:
    for nonce in range(50):
        ours = fairness.integers(KAT_SERVER_SEED, "abc", nonce)
        theirs = reference_integers(KAT_SERVER_SEED, "abc", nonce)
        assert [next(ours) for _ in range(20)] == [next(theirs) for _ in range(20)]


def test_uniform_known_answer() -> None:
    # 0xE18D45EA = 3784132074 is below every limit used here, so it is taken as is.
    stream = fairness.integers(KAT_SERVER_SEED, KAT_CLIENT_SEED, KAT_NONCE)
    assert fairness.uniform(100, stream) == 3784132074 % 100 == 74
    stream = fairness.integers(KAT_SERVER_SEED, KAT_CLIENT_SEED, KAT_NONCE)
    assert fairness.uniform(6, stream) == 3784132074 % 6


def test_uniform_matches_the_reference() -> None:
    for nonce, n in itertools.product(range(40), (1, 2, 3, 6, 7, 100, 1000, 2**31 + 1)):
        ours = fairness.uniform(n, fairness.integers(KAT_SERVER_SEED, "seed", nonce))
        theirs = reference_uniform(n, reference_integers(KAT_SERVER_SEED, "seed", nonce))
        assert ours == theirs


def test_uniform_rejects_values_at_or_above_the_limit() -> None:
    # With n = 2**31 + 1 the limit is 2**31 + 1 and about half of all integers are rejected.
    n = 2**31 + 1
    limit = 2**32 - (2**32 % n)
    assert limit == 2**31 + 1
    for nonce in itertools.count():
        first, second = itertools.islice(reference_integers(KAT_SERVER_SEED, "rej", nonce), 2)
        if first >= limit and second < limit:
            break
    stream = fairness.integers(KAT_SERVER_SEED, "rej", nonce)
    assert fairness.uniform(n, stream) == second % n != first % n
    # The spin mapping goes through the same rejection: r = second % n lands by weight.
    weights = [2**31, 1]
    expected_segment = 0 if second % n < 2**31 else 1
    assert fairness.spin_segment(weights, KAT_SERVER_SEED, "rej", nonce) == expected_segment


def test_spin_mapping_known_answer() -> None:
    # r = 74; cumulative weights 60, 80, 95, 100: the first above 74 is segment 1 ("x1").
    assert fairness.spin_segment(WEIGHTS, KAT_SERVER_SEED, KAT_CLIENT_SEED, KAT_NONCE) == 1
    wheel = Wheel.from_rules(DEFAULT_RULES)
    draw = wheel.draw(KAT_SERVER_SEED, KAT_CLIENT_SEED, KAT_NONCE)
    assert (draw.r, draw.segment) == (74, 1)


def test_spin_mapping_matches_the_reference() -> None:
    wheel = Wheel.from_rules(DEFAULT_RULES)
    for nonce in range(500):
        expected = reference_segment(WEIGHTS, KAT_SERVER_SEED, KAT_CLIENT_SEED, nonce)
        assert wheel.land(KAT_SERVER_SEED, KAT_CLIENT_SEED, nonce) == expected


def test_roulette_draw_takes_bullet_then_first_shooter_from_one_stream() -> None:
    client_seed = "alice_seed:bob-seed"
    for room_id in range(1, 30):
        stream = reference_integers(KAT_SERVER_SEED, client_seed, room_id)
        bullet = reference_uniform(6, stream)
        shooter = reference_uniform(2, stream)
        draw = fairness.roulette_draw(KAT_SERVER_SEED, client_seed, room_id)
        assert (draw.bullet, draw.first_shooter_seat) == (bullet, shooter)


def test_server_seeds_are_64_lowercase_hex_and_fresh() -> None:
    seeds = {fairness.new_server_seed() for _ in range(100)}
    assert len(seeds) == 100
    assert all(len(seed) == 64 and seed == seed.lower() and int(seed, 16) >= 0 for seed in seeds)


# --- the wheel ---------------------------------------------------------------------------------


def test_rtp_is_exact() -> None:
    wheel = Wheel.from_rules(DEFAULT_RULES)
    assert wheel.rtp == Fraction(3, 4)
    assert decimal_text(wheel.rtp) == "0.75"
    even = Wheel.from_rules({"segments": [{"label": "x1", "multiplier": "1", "weight": 3}]})
    assert decimal_text(even.rtp) == "1"
    odd = Wheel.from_rules(
        {
            "segments": [
                {"label": "Lose", "multiplier": "0", "weight": 2},
                {"label": "x2", "multiplier": "2", "weight": 1},
            ]
        }
    )
    assert odd.rtp == Fraction(2, 3)
    assert decimal_text(odd.rtp) == "0.666667"


def test_payout_is_bet_times_multiplier_rounded_down_to_the_cent() -> None:
    wheel = Wheel.from_rules(
        {
            "segments": [
                {"label": "Lose", "multiplier": "0", "weight": 1},
                {"label": "x1.5", "multiplier": "1.5", "weight": 1},
                {"label": "x5", "multiplier": "5", "weight": 1},
            ]
        }
    )
    assert [wheel.payout(1001, index) for index in range(3)] == [0, 1501, 5005]
    assert decimal_text(Decimal("1.50")) == "1.5"


def test_100k_spins_fit_the_table() -> None:
    """Chi-square goodness of fit at 99% (3 degrees of freedom: 11.345) and the observed return
    to player within 1 point of 75%. The pair is fixed, so the test is deterministic."""
    started = time.perf_counter()
    server_seed = hashlib.sha256(b"statistics").hexdigest()
    spins = 100_000
    counts = [0, 0, 0, 0]
    for nonce in range(spins):
        counts[fairness.spin_segment(WEIGHTS, server_seed, "stats-client", nonce)] += 1
    expected = [spins * weight / sum(WEIGHTS) for weight in WEIGHTS]
    chi_square = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True))
    assert chi_square < 11.345, (counts, chi_square)
    rtp = Fraction(sum(m * c for m, c in zip(MULTIPLIERS, counts, strict=True)), spins)
    assert abs(rtp - Fraction(3, 4)) <= Fraction(1, 100), float(rtp)
    assert time.perf_counter() - started < 5

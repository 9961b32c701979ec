"""The Spin and Win wheel: segments, return to player, payouts and the fair draw. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from gamehub import fairness

# A return to player whose decimal expansion does not end is shown to this many places.
RTP_PLACES = 6


@dataclass(frozen=True)
class Segment:
    label: str
    multiplier: Decimal
    weight: int


@dataclass(frozen=True)
class Draw:
    r: int  # uniform(sum of weights) from the fair stream
    segment: int  # the first segment whose cumulative weight exceeds r


@dataclass(frozen=True)
class Wheel:
    segments: tuple[Segment, ...]

    @classmethod
    def from_rules(cls, rules: Mapping[str, Any]) -> Wheel:
        """The wheel a catalogue row describes; a malformed table is a configuration error."""
        raw = rules.get("segments")
        if not isinstance(raw, Sequence) or not raw:
            raise ValueError("spin-and-win rules need a non-empty list of segments")
        segments = []
        for item in raw:
            weight = item.get("weight")
            if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
                raise ValueError(f"segment weight must be a positive integer: {item!r}")
            try:
                multiplier = Decimal(str(item["multiplier"]))
            except (KeyError, InvalidOperation):
                raise ValueError(f"segment multiplier must be a decimal: {item!r}") from None
            if not multiplier.is_finite() or multiplier < 0:
                raise ValueError(f"segment multiplier must be >= 0: {item!r}")
            segments.append(Segment(str(item["label"]), multiplier, weight))
        return cls(tuple(segments))

    @property
    def weights(self) -> tuple[int, ...]:
        return tuple(segment.weight for segment in self.segments)

    @property
    def rtp(self) -> Fraction:
        """Exact expected return per unit staked: sum(weight x multiplier) / sum(weight)."""
        total = sum(self.weights)
        return sum(
            (Fraction(segment.multiplier) * segment.weight for segment in self.segments),
            Fraction(0),
        ) / Fraction(total)

    def payout(self, bet: int, segment: int) -> int:
        """bet x multiplier in cents, stake included; a fractional cent goes to the house."""
        won = Decimal(bet) * self.segments[segment].multiplier
        return int(won.to_integral_value(rounding=ROUND_FLOOR))

    def land(self, server_seed: str, client_seed: str, nonce: int) -> int:
        """The segment index the fair stream of (server seed, client seed, nonce) lands on."""
        return fairness.spin_segment(self.weights, server_seed, client_seed, nonce)

    def draw(self, server_seed: str, client_seed: str, nonce: int) -> Draw:
        """`land` plus the underlying r, for verification pages."""
        r = fairness.uniform(sum(self.weights), fairness.integers(server_seed, client_seed, nonce))
        return Draw(r=r, segment=self.land(server_seed, client_seed, nonce))


def decimal_text(value: Decimal | Fraction) -> str:
    """A plain decimal string ("0.75", "2", "1.5"), exact whenever the expansion ends."""
    if isinstance(value, Fraction):
        denominator = value.denominator
        for prime in (2, 5):
            while denominator % prime == 0:
                denominator //= prime
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        if denominator != 1:
            exact = exact.quantize(Decimal(1).scaleb(-RTP_PLACES))
        value = exact
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"

"""Operators' second factor: TOTP (RFC 6238: 6 digits, 30 s steps, SHA-1) through pyotp, within
one step of clock drift; accounts.py refuses a step already spent (RFC 6238, 5.2)."""

from __future__ import annotations

import pyotp
from pyotp.exceptions import OTPVerificationError

ISSUER = "Game Hub"
DIGITS = 6
STEP_S = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    """160 random bits in base32, as RFC 4226 recommends for HMAC-SHA-1."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually as a QR code)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).provisioning_uri(
        name=username, issuer_name=ISSUER
    )


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code `code` is (within the allowed drift), or None."""
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S)
    try:
        return totp.verify_and_get_timecode(code, for_time=now, valid_window=DRIFT_STEPS)
    except OTPVerificationError:
        return None


def code_at(secret: str, moment: float) -> str:
    """The code of the step containing `moment` (for the command line and tests)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).at(moment)

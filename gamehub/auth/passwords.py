"""bcrypt password hashing, off the event loop, without bcrypt's silent 72-byte truncation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from functools import lru_cache

import bcrypt


def _prehash(password: str) -> bytes:
    # bcrypt reads at most 72 bytes; hashing first (SHA-256, base64 = 44 bytes, no NUL bytes)
    # makes every character of a long passphrase count.
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def _hash(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def _check(password: str, hashed: str) -> bool:
    return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))


async def hash_password(password: str, rounds: int) -> str:
    return await asyncio.to_thread(_hash, password, rounds)


async def verify_password(password: str, hashed: str) -> bool:
    return await asyncio.to_thread(_check, password, hashed)


@lru_cache(maxsize=4)
def dummy_hash(rounds: int) -> str:
    """A hash to check against when the user does not exist, so both paths take as long."""
    return _hash("not-a-real-password", rounds)


async def burn_time(password: str, rounds: int) -> None:
    await asyncio.to_thread(_check, password, dummy_hash(rounds))

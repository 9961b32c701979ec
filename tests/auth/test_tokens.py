"""Access tokens verified once per process: expiry still applies on every later use."""

from __future__ import annotations

import time

import pytest

from gamehub.auth import tokens
from gamehub.errors import Unauthorized
from gamehub.settings import Settings

SECRET = "a-test-secret-that-is-long-enough-0123456789"


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(jwt_secret=SECRET, access_token_ttl_s=60)
    token = tokens.issue_access_token(settings, 7, "family-7")
    first = tokens.decode_access_token(settings, token)
    assert (first.user_id, first.family_id) == (7, "family-7")
    assert tokens.decode_access_token(settings, token) == first  # from memory

    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 60 + tokens.LEEWAY_S + 1)
    with pytest.raises(Unauthorized) as refused:
        tokens.decode_access_token(settings, token)
    assert refused.value.code == "token_expired"


def test_a_token_remembered_under_one_secret_is_checked_again_under_another() -> None:
    signer = Settings(jwt_secret=SECRET)
    token = tokens.issue_access_token(signer, 8, "family-8")
    assert tokens.decode_access_token(signer, token).user_id == 8
    other = Settings(jwt_secret="another-secret-that-is-long-enough-9876543210")
    with pytest.raises(Unauthorized) as refused:
        tokens.decode_access_token(other, token)
    assert refused.value.code == "invalid_token"

"""`GET /ws` checks `Origin` before accepting: the app's own and configured origins are let in,
a foreign one (or `null`) gets 403 JSON and never an open socket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quart.testing.connections import WebsocketResponseError
from quart.typing import TestClientProtocol

from gamehub.origins import normalise_origin, origin_allowed
from gamehub.settings import Settings, SettingsError, load_settings
from tests.helpers import bearer, register

PARTNER = "https://partner.example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(allowed_origins=(PARTNER,))


async def _opens(client: TestClientProtocol, headers: dict[str, str]) -> bool:
    """True when the socket opens and answers a command; False on the 403 before opening."""
    try:
        async with client.websocket("/ws", headers=headers) as ws:
            await ws.send(json.dumps({"op": "unsubscribe", "room_id": 1, "ref": "r"}))
            assert json.loads(await ws.receive())["ok"] is True
            return True
    except WebsocketResponseError as refused:
        assert refused.response.status_code == 403
        body = json.loads(await refused.response.get_data(as_text=True))
        assert body["error"]["code"] == "origin_not_allowed"
        return False


@pytest.mark.parametrize(
    ("origin", "opens"),
    [
        (None, True),  # not a browser
        ("http://game.test", True),  # the app's own origin (Host: game.test)
        ("https://game.test", True),  # the same, TLS ended at the proxy
        ("http://game.test:80", True),
        (PARTNER, True),
        ("HTTPS://Partner.Example.com:443", True),
        ("https://evil.example", False),
        ("http://game.test:8080", False),  # another port is another origin
        ("https://partner.example.com.evil.example", False),
        ("null", False),
        ("game.test", False),
    ],
)
async def test_origins(client: TestClientProtocol, origin: str | None, opens: bool) -> None:
    user = await register(client)
    headers = {**bearer(user["access_token"]), "Host": "game.test"}
    if origin is not None:
        headers["Origin"] = origin
    assert await _opens(client, headers) is opens


def test_origin_matching_without_an_app() -> None:
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", ())
    assert not origin_allowed("http://127.0.0.1:8001", "127.0.0.1:8000", ())
    assert origin_allowed("http://[::1]:8000", "[::1]:8000", ())
    assert not origin_allowed("http://evil.example", "", ())
    assert normalise_origin("https://A.example:443/") == "https://a.example"


def test_allowed_origins_setting(tmp_path: Path) -> None:
    none = tmp_path / "none"
    assert load_settings({}, dotenv_path=none).allowed_origins == ()
    read = load_settings(
        {"GAMEHUB_ALLOWED_ORIGINS": "https://Play.example.com, http://localhost:3000"}, none
    )
    assert read.allowed_origins == ("https://play.example.com", "http://localhost:3000")
    for bad in ("*", "play.example.com", "https://play.example.com/app", "ftp://x.example"):
        with pytest.raises(SettingsError, match="ALLOWED_ORIGINS"):
            load_settings({"GAMEHUB_ALLOWED_ORIGINS": bad}, none)

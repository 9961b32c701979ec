"""Small helpers shared by tests: registering players and building auth headers."""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import Any

import httpx
from quart.typing import TestClientProtocol

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def registration(username: str | None = None, **fields: Any) -> dict[str, Any]:
    """The body that registers a new adult player (a fresh name unless given)."""
    name = username or f"player{next(_counter)}"
    return {
        "username": name,
        "email": f"{name}@example.com",
        "password": PASSWORD,
        "date_of_birth": "1990-05-17",
        **fields,
    }


async def register(
    client: TestClientProtocol, username: str | None = None, **fields: Any
) -> dict[str, Any]:
    """Register a new adult player and return the response body (user and tokens)."""
    response = await client.post("/register", json=registration(username, **fields))
    assert response.status_code == 201, await response.get_data(as_text=True)
    data: dict[str, Any] = await response.get_json()
    return data


async def register_over_http(http: httpx.AsyncClient, username: str) -> dict[str, Any]:
    """`register` through a real server (`http` is its client)."""
    response = await http.post("/register", json=registration(username))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def place_side_bet(client: TestClientProtocol, room_id: int, token: str) -> dict[str, Any]:
    """A 10.00 elimination bet on the room's next pull, asserted taken; its response body."""
    response = await client.post(
        "/games/place-bet",
        json={"room_id": room_id, "bet_amount": "10", "bet_type": "elimination"},
        headers=bearer(token),
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    data: dict[str, Any] = await response.get_json()
    return data


async def error_of(response: Any) -> dict[str, Any]:
    """The `error` object of a JSON error response (asserts the contract's shape)."""
    assert response.content_type.startswith("application/json"), response.content_type
    body = await response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    error: dict[str, Any] = body["error"]
    return error


def printed_by_fresh_python(*lines: str) -> str:
    """What a script prints in a Python process of its own (for process-wide settings)."""
    script = "".join(f"{line}\n" for line in lines)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()

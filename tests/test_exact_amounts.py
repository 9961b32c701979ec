"""Amounts are read exactly on the real request path: the app's JSON provider (numbers as
Decimal) is the one Quart uses, after quart-schema installed its own. A float parse would round
`10.0099999999999999999` to 10.01 and `99.999999999999999999` to 100; both must be 422s, on
every money field, through HTTP with the bytes a client sends."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from gamehub.jsonio import ExactJSONProvider
from tests.funding import funded_players
from tests.helpers import bearer, error_of

# Each: method, path, the JSON body's text with AMOUNT where the number goes.
MONEY_FIELDS = [
    ("POST", "/deposit", '{"amount": AMOUNT, "phone": "254712345600"}'),
    ("POST", "/withdraw", '{"amount": AMOUNT, "phone": "254712345600"}'),
    ("POST", "/games/spin-and-win/play", '{"bet_amount": AMOUNT}'),
    ("POST", "/games/join", '{"stake": AMOUNT}'),
    (
        "POST",
        "/games/place-bet",
        '{"room_id": 1, "bet_amount": AMOUNT, "bet_type": "survival"}',
    ),
    ("PUT", "/responsible-play/deposit-limits", '{"day": AMOUNT}'),
    ("PUT", "/responsible-play/deposit-limits", '{"week": AMOUNT}'),
    ("PUT", "/responsible-play/deposit-limits", '{"month": AMOUNT}'),
]
# A float reads each of these as a whole or 2-decimal amount; none has at most 2 decimals.
NEAR_MISSES = ["10.0099999999999999999", "99.999999999999999999", "100.000000000000000001"]


def test_the_exact_provider_is_the_one_in_use(app: Quart) -> None:
    assert isinstance(app.json, ExactJSONProvider)


async def send(client: TestClientProtocol, method: str, path: str, body: str, token: str) -> Any:
    # By method name: the typed open() wants json=, and these bytes must go as they are.
    return await getattr(client, method.lower())(
        path,
        data=body.encode(),
        headers={**bearer(token), "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("amount", NEAR_MISSES)
async def test_more_than_two_decimals_is_refused_on_every_money_field(
    app: Quart, client: TestClientProtocol, amount: str
) -> None:
    [player] = await funded_players(app, 1)
    for method, path, template in MONEY_FIELDS:
        response = await send(
            client, method, path, template.replace("AMOUNT", amount), player["access_token"]
        )
        assert response.status_code == 422, (path, template, await response.get_data(as_text=True))
        assert (await error_of(response))["code"] == "validation_error", path
    wallet = await (await client.get("/wallet", headers=bearer(player["access_token"]))).get_json()
    assert wallet["balance"] == "1000.00" and wallet["held"] == "0.00", wallet


async def test_an_exact_amount_with_trailing_zeros_is_accepted(
    app: Quart, client: TestClientProtocol
) -> None:
    """The same path still takes amounts that are exactly at most 2 decimals."""
    [player] = await funded_players(app, 1)
    response = await send(
        client,
        "POST",
        "/games/spin-and-win/play",
        '{"bet_amount": 10.0100000000000000000}',
        player["access_token"],
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["bet_amount"] == "10.01"

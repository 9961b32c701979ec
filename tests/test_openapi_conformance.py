"""The OpenAPI document and the server agree on what is valid (Schemathesis's
`positive_data_acceptance` in tests/test_schemathesis.py generates from the document; these are
the cases it found, settled one by one).

- An id in a body documented as a JSON Schema "integer" takes `7.0`: in JSON Schema 2020-12
  (OpenAPI 3.1) 7.0 is the integer 7 and no keyword can tell them apart, so the server reads it
  as 7; `7.5`, `"7"` and `true` stay 422.
- Fields that may be left out but not cleared (a profile's email and client seed, a login's
  username and email) are not documented as nullable.
- A login names exactly one of username or email: `oneOf` the two required sets.
- An amount is above zero and at most the bound the parser keeps, as a number or a string.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from pydantic import TypeAdapter
from quart.typing import TestClientProtocol

from gamehub.money import Cents, WholeShillingCents
from tests.helpers import bearer, error_of, register


async def _body(client: TestClientProtocol, method: str, path: str) -> dict[str, Any]:
    """The documented JSON body of an operation, its component reference resolved."""
    document = await (await client.get("/openapi.json")).get_json()
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    schema: dict[str, Any] = body["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _valid(schema: dict[str, Any], value: object) -> bool:
    return jsonschema_rs.validator_for(schema).is_valid(value)


async def test_a_login_names_exactly_one_of_username_or_email(client: TestClientProtocol) -> None:
    login = await _body(client, "post", "/login")
    assert _valid(login, {"username": "ann", "password": "x"})
    assert _valid(login, {"email": "ann@example.com", "password": "x"})
    for body in (
        {"password": "x"},
        {"username": "ann", "email": "ann@example.com", "password": "x"},
        {"username": None, "email": "ann@example.com", "password": "x"},
    ):
        assert not _valid(login, body), body
    # The server refuses what the document refuses: neither, or both.
    for body in ({"password": "x"}, {"username": "ann", "email": "a@example.com", "password": "x"}):
        response = await client.post("/login", json=body)
        assert response.status_code == 422, body
        assert (await error_of(response))["code"] == "validation_error"


async def test_only_the_phone_of_a_profile_is_documented_nullable(
    client: TestClientProtocol,
) -> None:
    patch = await _body(client, "patch", "/profile")
    assert _valid(patch, {"phone": None})
    assert not _valid(patch, {"email": None})
    assert not _valid(patch, {"client_seed": None})
    headers = bearer((await register(client))["access_token"])
    for field in ("email", "client_seed"):
        response = await client.patch("/profile", json={field: None}, headers=headers)
        assert response.status_code == 422, field


@pytest.mark.parametrize("raw", ["7.0", "7.00", "7E0"])
async def test_a_whole_number_id_is_that_id(client: TestClientProtocol, raw: str) -> None:
    headers = {
        "Content-Type": "application/json",
        **bearer((await register(client))["access_token"]),
    }
    whole = await client.post("/games/leave", data=f'{{"room_id": {raw}}}', headers=headers)
    plain = await client.post("/games/leave", data='{"room_id": 7}', headers=headers)
    # No room 7 for this player either way: the same answer as for the integer.
    assert whole.status_code == plain.status_code != 422
    assert (await error_of(whole))["code"] == (await error_of(plain))["code"]


@pytest.mark.parametrize(
    "raw", ["7.5", '"7"', "true", "0.0", "1E+999999999", "9223372036854775808.0"]
)
async def test_a_fraction_a_string_or_out_of_range_is_no_id(
    client: TestClientProtocol, raw: str
) -> None:
    headers = {
        "Content-Type": "application/json",
        **bearer((await register(client))["access_token"]),
    }
    response = await client.post("/games/leave", data=f'{{"room_id": {raw}}}', headers=headers)
    assert response.status_code == 422, raw
    assert (await error_of(response))["code"] == "validation_error"


def test_the_documented_amounts_are_the_accepted_ones() -> None:
    amount = TypeAdapter(Cents).json_schema()
    whole = TypeAdapter(WholeShillingCents).json_schema()
    for value in ["0", "0.00", "0.001", 0, 10**13 + 1, "99999999999999", "-1"]:
        assert not _valid(amount, value), value
    for value in ["0", "0.00", 0, "100.5", 10**13 + 1]:
        assert not _valid(whole, value), value
    for schema, adapter, values in (
        (amount, TypeAdapter(Cents), ["0.01", "0.1", "99.50", "9999999999999.99", 10**13, 1]),
        (whole, TypeAdapter(WholeShillingCents), ["1", "250.00", "9999999999999", 10**13, 1]),
    ):
        for value in values:
            assert _valid(schema, value), value
            assert adapter.validate_python(value) > 0, value

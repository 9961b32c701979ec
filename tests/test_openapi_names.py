"""Every request and response model has a name of its own: the OpenAPI document names its
components after the models' class names, so two models of one name would describe each other's
bodies (an operator's view of a player once replaced a room's seat in /games/rooms)."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

from pydantic import BaseModel
from quart.typing import TestClientProtocol

import gamehub


def _models() -> dict[str, set[str]]:
    for module in pkgutil.walk_packages(gamehub.__path__, "gamehub."):
        importlib.import_module(module.name)
    found: defaultdict[str, set[str]] = defaultdict(set)
    pending = list(BaseModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.__module__.startswith("gamehub.") and model.model_fields:
            found[model.__name__].add(f"{model.__module__}.{model.__qualname__}")
    return found


def test_no_two_models_share_a_name() -> None:
    shared = {name: where for name, where in _models().items() if len(where) > 1}
    assert shared == {}


async def test_the_document_describes_a_rooms_seats_as_seats(client: TestClientProtocol) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    seat = spec["components"]["schemas"]["PlayerOut"]
    assert set(seat["required"]) == {"user_id", "username", "seat", "alive"}

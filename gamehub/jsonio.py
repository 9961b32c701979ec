"""JSON in and out: numbers parse as Decimal (floats never touch money), bodies parse regardless
of Content-Type, and a malformed body is a 400 `malformed_json`."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

from quart.json.provider import DefaultJSONProvider
from quart.wrappers import Request

from gamehub.db import iso_utc
from gamehub.errors import ApiError


class MalformedJson(ApiError):
    status, code, message = 400, "malformed_json", "The request body is not valid JSON."


class ExactJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # NaN / Infinity literals become Decimal NaN / Infinity so validation can answer 422.
        return json.loads(s, parse_float=Decimal, parse_constant=Decimal, **kwargs)

    @staticmethod
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return iso_utc(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return DefaultJSONProvider.default(value)


class ApiRequest(Request):
    async def get_json(self, force: bool = True, silent: bool = False, cache: bool = True) -> Any:
        return await super().get_json(force=force, silent=silent, cache=cache)

    def on_json_loading_failed(self, error: Exception) -> NoReturn:
        raise MalformedJson(details={"reason": str(error)[:200]})

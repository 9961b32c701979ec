"""JSON in and out: numbers parse as Decimal (floats never touch money), and `client_json`, the one
way a client's JSON is read (HTTP bodies and WebSocket frames), refuses hostile bodies early."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic_core import to_jsonable_python
from quart.json.provider import DefaultJSONProvider
from quart.wrappers import Request

from gamehub.db import iso_utc
from gamehub.errors import ApiError

# No body of this API nests deeper than 6 (Daraja's callbacks) or holds more than about 60
# values (a B2C result); a 1 MiB body of 100 000 keys cost validation a second of CPU.
MAX_DEPTH = 32
MAX_VALUES = 1000  # object members plus array items, over the whole body


class MalformedJson(ApiError):
    status, code, message = 400, "malformed_json", "The request body is not valid JSON."


class TooManyValues(ApiError):
    status, code = 413, "payload_too_large"
    message = f"The request body holds more than {MAX_VALUES} values."


def exact_loads(text: str | bytes, **kwargs: Any) -> Any:
    """JSON with every non-integer number a Decimal (NaN / Infinity too, for a 422 later)."""
    return json.loads(text, parse_float=Decimal, parse_constant=Decimal, **kwargs)


def client_json(data: str | bytes, loads: Callable[[str], Any] = exact_loads) -> Any:
    """A client's JSON parsed with `loads`: MalformedJson if it is not UTF-8 JSON or nests
    deeper than MAX_DEPTH, TooManyValues past MAX_VALUES."""
    try:
        text = data if isinstance(data, str) else data.decode("utf-8")
        value = loads(text)
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MalformedJson(details={"reason": str(error)[:200]}) from None
    except RecursionError:  # the C parser's, about 1000 brackets deep
        raise _too_deep() from None
    if isinstance(value, dict | list):
        # Every value but a container's first follows a comma: with fewer commas and brackets
        # than the bounds, most bodies skip the walk.
        brackets = text.count("[") + text.count("{")
        if brackets > MAX_DEPTH or brackets + text.count(",") > MAX_VALUES:
            _check_shape(value)
    # Only an escape can put a NUL or a lone surrogate in a string.
    if _SUSPECT_ESCAPE.search(text) and not _clean_strings(value):
        raise MalformedJson(details={"reason": "a string holds NUL or an unpaired surrogate"})
    return value


# `\u0000` and `\uD800`-`\uDFFF`: JSON may escape them, but a NUL cannot be stored as text
# (PostgreSQL refuses it) and a surrogate alone is no character (it cannot be encoded).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])")


def _clean_strings(value: Any) -> bool:
    """Whether every string (keys too) is NUL-free, encodable text."""
    level = [value]
    while level:
        deeper: list[Any] = []
        for node in level:
            if isinstance(node, str):
                if "\x00" in node:
                    return False
                try:
                    node.encode("utf-8")
                except UnicodeEncodeError:
                    return False
            elif type(node) is dict:
                deeper.extend(node.keys())
                deeper.extend(node.values())
            elif type(node) is list:
                deeper.extend(node)
        level = deeper
    return True


def _too_deep() -> MalformedJson:
    return MalformedJson(details={"reason": f"nested deeper than {MAX_DEPTH} levels"})


def _check_shape(value: dict[str, Any] | list[Any]) -> None:
    """MalformedJson past MAX_DEPTH, TooManyValues past MAX_VALUES: a level at a time (no
    recursion), its size counted before its members are read (a huge object costs a len())."""
    level: list[Any] = [value]
    values = 0
    for _ in range(MAX_DEPTH):
        values += sum(len(node) for node in level)
        if values > MAX_VALUES:
            raise TooManyValues(details={"max_values": MAX_VALUES})
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) is dict or type(child) is list
        ]
        if not level:
            return
    raise _too_deep()


class ExactJSONProvider(DefaultJSONProvider):
    """The app's JSON provider: numbers parse as Decimal; renders pydantic models as
    quart-schema's does (create_app installs it after QuartSchema, which replaces providers)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return exact_loads(s, **kwargs)

    @staticmethod
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return iso_utc(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        try:
            return DefaultJSONProvider.default(value)
        except TypeError:
            return to_jsonable_python(value)


class ApiRequest(Request):
    async def get_json(self, force: bool = True, silent: bool = False, cache: bool = True) -> Any:
        """The body (whatever its Content-Type) through `client_json`; None if refused and
        `silent`."""
        if cache and self._cached_json[silent] is not Ellipsis:
            return self._cached_json[silent]
        if not (force or self.is_json):
            return None
        # Bytes, not text: werkzeug would decode outside its own error handling.
        data = await self.get_data(cache=cache, as_text=False)
        try:
            result = client_json(data, self.json_module.loads)
        except (MalformedJson, TooManyValues):
            if not silent:
                raise
            result = None
        if cache:
            self._cached_json[silent] = result
        return result

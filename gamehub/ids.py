"""The one bound on ids: every id the API takes fits PostgreSQL's bigint, checked where it comes in
(paths, bodies, query strings, token claims), so a larger one is a 4xx, never an overflow 500."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**63 - 1


def _whole_json_number(value: object) -> object:
    """`7.0` read as 7 (JSON Schema 2020-12 calls it an integer). Only an in-range whole number
    is converted (checked first: `1E+999999999` costs nothing); the strict check refuses others."""
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.copy_abs() <= MAX_ID
        and value == value.to_integral_value()
    ):
        return int(value)
    return value


# An id in a body: a JSON integer (strict: no "7", no 7.5, no true; 7.0 is the integer 7) in
# PostgreSQL's range. The Field first, so the document shows JSON Schema's bounds.
Id = Annotated[int, Field(ge=1, le=MAX_ID, strict=True), BeforeValidator(_whole_json_number)]


_DIGITS = re.compile(r"[0-9]{1,19}")


def _ascii_digits(value: object) -> object:
    """A query string's integer is ASCII digits, as a path's is: no sign, space, `_`, `1.0`
    or `²`, which Python's int() would take."""
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number in ASCII digits")
    return value


# For integers in query strings: `Annotated[int, Field(ge=..., le=...), QUERY_DIGITS]` (the
# Field first, or the document would show pydantic's `ge` instead of JSON Schema's `minimum`).
QUERY_DIGITS = BeforeValidator(_ascii_digits)
# An id in a query string (a page's `before`).
QueryId = Annotated[int, Field(ge=1, le=MAX_ID), QUERY_DIGITS]


def is_id(value: object) -> bool:
    """Whether `value` is an int (not a bool) that can name a row."""
    return type(value) is int and 1 <= value <= MAX_ID


class IdConverter(IntegerConverter):
    """`<int:...>` in this app's paths: ASCII digits naming a row, else the path matches nothing
    (404). werkzeug's own takes any Unicode digit and any size."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

"""Daraja's field validation: each bad field is a 400.002.02 "Bad Request - Invalid <Field>"."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

BAD_REQUEST = "400.002.02"
INVALID_TOKEN = "404.001.03"
INVALID_AUTH_HEADER = "404.001.04"
INVALID_CLIENT = "400.008.01"
INVALID_GRANT = "400.008.02"
INTERNAL = "500.001.1001"
DUPLICATE = "500.002.1001"

_MSISDN = re.compile(r"^254[17][0-9]{8}$")
_SHORTCODE = re.compile(r"^[0-9]{5,7}$")


class DarajaFault(Exception):
    """Answered as Daraja's error body `{requestId, errorCode, errorMessage}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.status, self.code, self.message = status, code, message


def invalid(field: str) -> DarajaFault:
    return DarajaFault(400, BAD_REQUEST, f"Bad Request - Invalid {field}")


def parse_body(raw: str | bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or "null", parse_float=Decimal)
    except (ValueError, RecursionError):  # not JSON, not text, or nested past the parser's limit
        raise invalid("JSON") from None
    if not isinstance(body, dict):
        raise invalid("JSON")
    return body


def text(body: dict[str, Any], field: str, *, required: bool = True, limit: int = 100) -> str:
    """A string field; Daraja's own samples send numbers for some, so numbers are welcome."""
    value = body.get(field)
    if value is None or isinstance(value, bool | dict | list):
        if required:
            raise invalid(field)
        return ""
    result = str(value).strip()
    if (required and not result) or len(result) > limit:
        raise invalid(field)
    return result


def amount(body: dict[str, Any], field: str = "Amount") -> int:
    """Whole shillings, at least 1, as a number or a numeric string."""
    value = body.get(field)
    if value is None or isinstance(value, bool | dict | list):
        raise invalid(field)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid(field) from None
    if not number.is_finite() or number != number.to_integral_value() or number < 1:
        raise invalid(field)
    return int(number)


def msisdn(body: dict[str, Any], field: str) -> str:
    value = text(body, field, limit=12)
    if not _MSISDN.match(value):
        raise invalid(field)
    return value


def shortcode(body: dict[str, Any], field: str) -> str:
    value = text(body, field, limit=7)
    if not _SHORTCODE.match(value):
        raise invalid(field)
    return value


def url(body: dict[str, Any], field: str) -> str:
    value = text(body, field, limit=1000)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(field)
    return value


def timestamp(body: dict[str, Any], field: str = "Timestamp") -> str:
    value = text(body, field, limit=14)
    try:
        datetime.strptime(value, "%Y%m%d%H%M%S")  # a shape check, not a moment
    except ValueError:
        raise invalid(field) from None
    if len(value) != 14:
        raise invalid(field)
    return value


def one_of(body: dict[str, Any], field: str, allowed: frozenset[str]) -> str:
    value = text(body, field)
    if value not in allowed:
        raise invalid(field)
    return value

"""Kenyan mobile numbers as M-Pesa wants them: 2547XXXXXXXX or 2541XXXXXXXX."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

_PHONE = re.compile(r"^(?:\+?254|0)([17][0-9]{8})$")


def normalise_phone(value: object) -> str:
    """Accept 07…/01…, +254… and 254… (spaces and dashes ignored) and return 254XXXXXXXXX."""
    if not isinstance(value, str):
        raise ValueError("phone must be a string such as 0712345678 or 254712345678")
    match = _PHONE.match(re.sub(r"[\s-]", "", value))
    if match is None:
        raise ValueError("phone must be a Kenyan mobile number: 07XXXXXXXX, 01XXXXXXXX or 254…")
    return "254" + match.group(1)


Phone = Annotated[
    str,
    BeforeValidator(normalise_phone),
    WithJsonSchema(
        {
            "type": "string",
            # What `_PHONE` takes, less the spaces and dashes it also forgives.
            "pattern": r"^(\+?254|0)[17][0-9]{8}$",
            "description": "Kenyan mobile number; 07…, 01…, +254… and 254… are accepted",
            "examples": ["254712345678", "0712345678"],
        }
    ),
]

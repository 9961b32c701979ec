"""Request and response bodies of the auth and profile endpoints."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from gamehub.db import utcnow
from gamehub.errors import CodedValueError
from gamehub.phone import Phone

MINIMUM_AGE = 18
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CLIENT_SEED_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def _email(value: object) -> str:
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.match(value.strip()):
        raise ValueError("email must be a valid address")
    return value.strip().lower()


def _calendar_date(value: object) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("date must be a string YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("date must be a real calendar date YYYY-MM-DD") from None


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _adult(born: date) -> date:
    today = utcnow().date()
    if born > today or born.year < 1900:
        raise ValueError("date_of_birth must be a past date after 1900")
    if age_on(born, today) < MINIMUM_AGE:
        raise CodedValueError("underage", f"Players must be at least {MINIMUM_AGE} years old.")
    return born


Email = Annotated[
    str,
    BeforeValidator(_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]
BirthDate = Annotated[
    date,
    BeforeValidator(_calendar_date),
    AfterValidator(_adult),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["1990-05-17"]}),
]
Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{3,32}$", strict=True)]
LoginName = Annotated[str, Field(min_length=1, max_length=254, strict=True)]
LoginPassword = Annotated[str, Field(min_length=1, max_length=1024, strict=True)]
Password = Annotated[str, Field(min_length=8, max_length=1024, strict=True)]
ClientSeed = Annotated[str, Field(pattern=CLIENT_SEED_PATTERN, strict=True)]


def _absent_by_default(schema: dict[str, Any]) -> None:
    """A field that may be left out but not sent as null: no `default: null` in the document."""
    schema.pop("default", None)


NOT_NULL = Field(default=None, json_schema_extra=_absent_by_default)


class Strict(BaseModel):
    """Request bodies reject unknown fields: a typo or a smuggled `balance` is a 422."""

    model_config = ConfigDict(extra="forbid")


class RegisterIn(Strict):
    username: Username
    email: Email
    password: Password
    date_of_birth: BirthDate
    phone: Phone | None = None


class LoginIn(Strict):
    """Exactly one of `username` or `email`, with the password. The document says so (`oneOf`
    the two required sets) and shows neither as nullable: null is read as absent."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["username"]}, {"required": ["email"]}]}
    )

    username: LoginName | SkipJsonSchema[None] = NOT_NULL
    email: LoginName | SkipJsonSchema[None] = NOT_NULL
    password: LoginPassword

    @model_validator(mode="after")
    def _one_identifier(self) -> LoginIn:
        if (self.username is None) == (self.email is None):
            raise ValueError("give exactly one of username or email")
        return self


class RefreshIn(Strict):
    refresh_token: Annotated[str, Field(min_length=1, max_length=256, strict=True)]


class ProfilePatch(Strict):
    """Only `phone` can be cleared (null); email and client seed can be changed, never cleared,
    so the document does not show them nullable (the service refuses a null one, 422)."""

    email: Email | SkipJsonSchema[None] = NOT_NULL
    phone: Phone | None = None
    client_seed: ClientSeed | SkipJsonSchema[None] = NOT_NULL


class UserOut(BaseModel):
    id: int
    username: str
    email: str
    phone: str | None
    date_of_birth: str
    balance: str
    held: str
    created_at: str
    client_seed: str


class TokensOut(BaseModel):
    user: UserOut
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int


class StreamTicketOut(BaseModel):
    ticket: str
    expires_in: int

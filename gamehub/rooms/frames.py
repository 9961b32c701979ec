"""A WebSocket command's envelope: its `op` and the `ref` its reply echoes, checked before the
command is read, so that no frame a client can send costs the socket (an `op` that is a list
cannot be looked up, a `ref` of `-1e400` has no JSON to echo it with)."""

from __future__ import annotations

from typing import Any

from gamehub.errors import ApiError

MAX_REF_LENGTH = 255
# Integers a JavaScript client can hold exactly.
MAX_REF_INT = 2**53 - 1

Ref = str | int | None


def _invalid(message: str) -> ApiError:
    return ApiError(message, status=422, code="validation_error")


def envelope(message: dict[str, Any]) -> tuple[Any, Ref]:
    """Pop `op` and `ref` off a command; `ref` is checked (422 otherwise), `op` is returned as
    sent for the caller to look up (it may be anything)."""
    ref = message.pop("ref", None)
    if ref is not None and not (
        (type(ref) is str and 1 <= len(ref) <= MAX_REF_LENGTH)
        or (type(ref) is int and -MAX_REF_INT <= ref <= MAX_REF_INT)
    ):
        raise _invalid(
            f"ref is a string of 1-{MAX_REF_LENGTH} characters or an integer of at most 2**53 - 1."
        )
    return message.pop("op", None), ref


def unknown_op(op: Any) -> ApiError:
    shown = op[:64] if isinstance(op, str) else type(op).__name__
    return ApiError(f"Unknown op {shown!r}.", status=422, code="unknown_op")

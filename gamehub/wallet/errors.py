"""The wallet's refusals, each with its stable code and status."""

from __future__ import annotations

from gamehub.errors import ApiError, Conflict


class AmountOutOfRange(ApiError):
    status, code, message = 422, "amount_out_of_range", "The amount is outside the allowed range."


class PhoneRequired(ApiError):
    status, code = 422, "phone_required"
    message = "Give a phone, or add one to your profile, to withdraw to."


class DailyDepositLimit(Conflict):
    code, message = "daily_deposit_limit", "This deposit would exceed the 24-hour deposit limit."


class MpesaRefused(ApiError):
    """Daraja answered the request with a refusal: nothing happened, the transaction failed."""

    status, code, message = 502, "mpesa_refused", "M-Pesa refused the payment request."
    ends_request = True  # the transaction is failed for good; a new attempt takes a new key


class MpesaUnavailable(ApiError):
    """Daraja could not be reached and the request never left: nothing happened."""

    status, code, message = 503, "mpesa_unavailable", "M-Pesa cannot be reached; try again later."
    ends_request = True  # the transaction is failed for good; a new attempt takes a new key

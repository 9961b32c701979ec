"""What the Daraja sandbox knows: its configuration, tokens, STK prompts, B2C payments, queries."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

# Safaricom's public sandbox test data, so that Daraja's documented samples work verbatim.
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
SANDBOX_B2C_SHORTCODE = "600000"
SANDBOX_INITIATOR = "testapi"
SANDBOX_INITIATOR_PASSWORD = "Safaricom999!*!"

PromptStatus = Literal["open", "completed", "failed"]
PaymentStatus = Literal["processing", "completed", "failed"]


@dataclass(frozen=True)
class SandboxTimings:
    """How long things take; tests scale them down (e.g. `SandboxTimings.scaled(0.01)`)."""

    result_delay_s: float = 0.5  # a prompt or payment settles "within 1 s"
    slow_delay_s: float = 30.0  # scenario 07
    repeat_interval_s: float = 0.5  # scenario 05
    repeat_count: int = 3
    prompt_timeout_s: float = 60.0  # an unanswered manual prompt then fails with 1037
    callback_timeout_s: float = 10.0

    @classmethod
    def scaled(cls, factor: float, **overrides: Any) -> SandboxTimings:
        base = cls()
        scaled = {
            name: getattr(base, name) * factor
            for name in ("result_delay_s", "slow_delay_s", "repeat_interval_s", "prompt_timeout_s")
        }
        return replace(base, **{**scaled, **overrides})


@dataclass(frozen=True)
class SandboxConfig:
    consumer_key: str = "sandbox-key"
    consumer_secret: str = "sandbox-secret"
    token_ttl_s: float = 3599.0
    passkeys: dict[str, str] = field(default_factory=lambda: {SANDBOX_SHORTCODE: SANDBOX_PASSKEY})
    initiators: dict[str, str] = field(
        default_factory=lambda: {SANDBOX_INITIATOR: SANDBOX_INITIATOR_PASSWORD}
    )
    timings: SandboxTimings = field(default_factory=SandboxTimings)
    manual_prompts: bool = False  # other phones' prompts wait for /sandbox/phone
    callback_hosts: frozenset[str] | None = None  # None: deliver to any host, as Daraja does


@dataclass
class CallbackAttempt:
    url: str
    kind: str  # stk | result | timeout
    body: dict[str, Any]
    at: str
    status_code: int | None = None
    error: str | None = None


@dataclass
class StkPrompt:
    merchant_request_id: str
    checkout_request_id: str
    business_shortcode: str
    phone: str
    amount: int
    account_reference: str
    description: str
    callback_url: str
    created_at: str
    status: PromptStatus = "open"
    result_code: int | None = None
    result_desc: str | None = None
    receipt: str | None = None
    transaction_date: int | None = None
    callbacks: list[CallbackAttempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class B2CPayment:
    originator_conversation_id: str
    conversation_id: str
    request: dict[str, Any]  # as received, to tell a repeat from a clash
    phone: str
    amount: int
    result_url: str
    timeout_url: str
    created_at: str
    credential_valid: bool
    status: PaymentStatus = "processing"
    result_code: int | None = None
    result_desc: str | None = None
    transaction_id: str | None = None
    completed_at: datetime | None = None
    callbacks: list[CallbackAttempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("request")
        data["completed_at"] = self.completed_at.isoformat() if self.completed_at else None
        return data


@dataclass
class StatusQuery:
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str
    original_conversation_id: str
    result_url: str
    occasion: str
    created_at: str
    callbacks: list[CallbackAttempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def new_receipt() -> str:
    """Ten upper-case letters and digits, like an M-Pesa receipt (e.g. NLJ7RT61SV)."""
    alphabet = string.ascii_uppercase + string.digits
    return secrets.choice(string.ascii_uppercase) + "".join(
        secrets.choice(alphabet) for _ in range(9)
    )


class SandboxState:
    """All records of one sandbox; touched only from its event loop."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.tokens: dict[str, float] = {}  # token -> monotonic expiry
        self.prompts: dict[str, StkPrompt] = {}
        self.payments: dict[str, B2CPayment] = {}
        self.status_queries: list[StatusQuery] = []
        self._sequence = 0

    def reset(self) -> None:
        self.tokens.clear()
        self.prompts.clear()
        self.payments.clear()
        self.status_queries.clear()

    def issue_token(self) -> str:
        alphabet = string.ascii_letters + string.digits
        token = "".join(secrets.choice(alphabet) for _ in range(28))
        self.tokens[token] = time.monotonic() + self.config.token_ttl_s
        return token

    def token_valid(self, token: str) -> bool:
        expiry = self.tokens.get(token)
        if expiry is None:
            return False
        if time.monotonic() >= expiry:
            del self.tokens[token]
            return False
        return True

    def merchant_request_id(self) -> str:
        """Daraja's shape of a MerchantRequestID, also that of its requestId."""
        self._sequence += 1
        return f"{_digits(5)}-{_digits(8)}-{self._sequence}"

    def checkout_request_id(self, phone: str) -> str:
        """Daraja's shape (time to the second, three digits, the phone), unique like Daraja's:
        a phone's prompts within one second would otherwise collide one time in a thousand."""
        while True:
            stamp = datetime.now(UTC).strftime("%d%m%Y%H%M%S")
            candidate = f"ws_CO_{stamp}{_digits(3)}{phone}"
            if candidate not in self.prompts:
                return candidate

    def conversation_id(self) -> str:
        return f"AG_{datetime.now(UTC):%Y%m%d}_{secrets.token_hex(10)}"

    def payment_by_transaction(self, transaction_id: str) -> B2CPayment | None:
        for payment in self.payments.values():
            if payment.transaction_id == transaction_id:
                return payment
        return None

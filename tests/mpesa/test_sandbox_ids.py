"""The sandbox's CheckoutRequestIDs are unique, as Daraja's are, even within one second."""

from __future__ import annotations

from gamehub.mpesa.sandbox_state import SandboxConfig, SandboxState, StkPrompt


def test_one_phones_prompts_within_a_second_never_share_an_id() -> None:
    state = SandboxState(SandboxConfig())
    phone = "254708374149"
    for _ in range(3000):  # far past the 1 000 three-digit suffixes a second offers
        checkout_id = state.checkout_request_id(phone)
        assert checkout_id.startswith("ws_CO_") and checkout_id.endswith(phone)
        assert checkout_id not in state.prompts
        state.prompts[checkout_id] = StkPrompt(
            merchant_request_id=state.merchant_request_id(),
            checkout_request_id=checkout_id,
            business_shortcode="174379",
            phone=phone,
            amount=1,
            account_reference="test",
            description="test",
            callback_url="https://example.com/callback",
            created_at="2026-11-27T00:00:00Z",
        )
    assert len(state.prompts) == 3000

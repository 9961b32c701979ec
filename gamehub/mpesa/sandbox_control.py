"""The sandbox's inspect/control API for tests and its /sandbox/phone page for people."""

from __future__ import annotations

from quart import Blueprint, Response, request

from gamehub.mpesa.sandbox_flows import DarajaSandbox
from gamehub.mpesa.sandbox_phone import PHONE_PAGE
from gamehub.mpesa.sandbox_routes import json_response


def control_blueprint(sandbox: DarajaSandbox) -> Blueprint:
    control = Blueprint("daraja_sandbox_control", __name__)
    state = sandbox.state

    def missing(what: str) -> Response:
        return json_response({"error": f"no such {what}"}, 404)

    @control.get("/sandbox/phone")
    async def phone() -> Response:
        return Response(PHONE_PAGE, content_type="text/html; charset=utf-8")

    @control.get("/sandbox/api/certificate")
    async def certificate() -> Response:
        """The certificate to encrypt SecurityCredential with (its private key never leaves)."""
        return Response(sandbox.keys.certificate_pem, content_type="application/x-pem-file")

    @control.get("/sandbox/api/stk")
    async def prompts() -> Response:
        wanted = request.args.get("status")
        found = [p.to_json() for p in state.prompts.values() if wanted in (None, p.status)]
        # Whether prompts wait for the phone page, so that the page can say what it does.
        return json_response({"prompts": found, "manual_prompts": sandbox.config.manual_prompts})

    @control.get("/sandbox/api/stk/<checkout_request_id>")
    async def prompt(checkout_request_id: str) -> Response:
        found = state.prompts.get(checkout_request_id)
        return json_response(found.to_json()) if found else missing("prompt")

    async def answer(checkout_request_id: str, *, approve: bool) -> Response:
        if checkout_request_id not in state.prompts:
            return missing("prompt")
        if not sandbox.answer_prompt(checkout_request_id, approve=approve):
            return json_response({"error": "the prompt is no longer open"}, 409)
        return json_response({"checkout_request_id": checkout_request_id, "accepted": True})

    @control.post("/sandbox/api/stk/<checkout_request_id>/approve")
    async def approve(checkout_request_id: str) -> Response:
        return await answer(checkout_request_id, approve=True)

    @control.post("/sandbox/api/stk/<checkout_request_id>/cancel")
    async def cancel(checkout_request_id: str) -> Response:
        return await answer(checkout_request_id, approve=False)

    @control.get("/sandbox/api/b2c")
    async def payments() -> Response:
        return json_response({"payments": [p.to_json() for p in state.payments.values()]})

    @control.get("/sandbox/api/b2c/<originator_conversation_id>")
    async def payment(originator_conversation_id: str) -> Response:
        found = state.payments.get(originator_conversation_id)
        return json_response(found.to_json()) if found else missing("payment")

    @control.get("/sandbox/api/status-queries")
    async def status_queries() -> Response:
        return json_response({"queries": [q.to_json() for q in state.status_queries]})

    @control.post("/sandbox/api/tokens/revoke")
    async def revoke_tokens() -> Response:
        """Make every issued token invalid, as if they had all expired."""
        revoked = len(state.tokens)
        state.tokens.clear()
        return json_response({"revoked": revoked})

    @control.post("/sandbox/api/reset")
    async def reset() -> Response:
        await sandbox.reset()
        return json_response({"reset": True})

    return control

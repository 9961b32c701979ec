"""The Daraja sandbox: a faithful M-Pesa emulator as a Quart app or a blueprint to mount in-process.

It speaks Daraja's contract on Daraja's paths (OAuth, STK Push and query, B2C v3, Transaction
Status), validates fields with Daraja's error body and codes, checks the STK password and the B2C
SecurityCredential, knows Safaricom's public test data (shortcode 174379 with its passkey, B2C
shortcode 600000, initiator `testapi` / `Safaricom999!*!`), and POSTs Daraja's callback bodies.

Scenarios, by the last two digits of the phone (PhoneNumber for STK, PartyB for B2C):
    00 success within 1 s            05 success, the same callback 3 times 0.5 s apart
    01 STK cancelled (1032)          06 STK phone unreachable (1037)
    02 STK insufficient funds (1)    07 success after 30 s
    03 STK wrong PIN (2001)          08 B2C: QueueTimeOutURL callback; Transaction Status
    04 success, no callback ever        then shows the payment completed
       (queries tell the truth)      09 B2C fails (2001)
Any other ending succeeds. STK-only outcomes (01, 02, 03, 06) pay normally over B2C, and B2C-only
ones (08, 09) are plain successes over STK. A B2C whose SecurityCredential does not decrypt to the
initiator's password fails with 2001, as Daraja does (its documented sample credential was made
with Safaricom's key, so over here it fails that way). All delays live in SandboxTimings.

Manual prompts (the /sandbox/phone page): with `SandboxConfig(manual_prompts=True)` (CLI
`--manual-prompts`), prompts to phones whose last two digits are not a scenario (00-09) stay open
until someone presses Approve (pays) or Cancel (1032) on /sandbox/phone, or until
`prompt_timeout_s` (60 s) passes (1037, unreachable). Scenario phones keep their scripted outcome,
so tests stay deterministic; any prompt that is still open, scripted or not, can be answered early
from the page or with POST /sandbox/api/stk/<CheckoutRequestID>/approve|cancel.

Inspect/control API: GET /sandbox/api/stk[?status=open], GET /sandbox/api/stk/<id>, POST
/sandbox/api/stk/<id>/approve|cancel, GET /sandbox/api/b2c[/<OriginatorConversationID>],
GET /sandbox/api/status-queries, GET /sandbox/api/certificate (PEM to encrypt the
SecurityCredential with), POST /sandbox/api/tokens/revoke, POST /sandbox/api/reset.

Mounting in-process, under a prefix of the main app (nothing else changes; the paths above then
start with the prefix, and the client's base URL is the prefix):

    sandbox = DarajaSandbox(SandboxConfig(consumer_key=..., consumer_secret=...))
    app.register_blueprint(sandbox_blueprint(sandbox), url_prefix="/sandbox/daraja")
    config = DarajaConfig.from_settings(settings, base_url=f"{own_url}/sandbox/daraja",
                                        certificate=sandbox.keys.certificate_pem)

The blueprint starts and stops the sandbox's callback client with the app (before/after
serving). Key generation takes tens of milliseconds of CPU: build the sandbox at start-up.
"""

from __future__ import annotations

from quart import Blueprint, Quart

from gamehub import observability
from gamehub.mpesa.sandbox_control import control_blueprint
from gamehub.mpesa.sandbox_flows import DarajaSandbox
from gamehub.mpesa.sandbox_keys import SandboxKeys
from gamehub.mpesa.sandbox_routes import daraja_api_blueprint
from gamehub.mpesa.sandbox_state import SandboxConfig, SandboxTimings

__all__ = [
    "DarajaSandbox",
    "SandboxConfig",
    "SandboxKeys",
    "SandboxTimings",
    "create_sandbox_app",
    "sandbox_blueprint",
]


def sandbox_blueprint(sandbox: DarajaSandbox) -> Blueprint:
    """Daraja's API and the sandbox's control API, tied to the host app's serving lifecycle."""
    blueprint = Blueprint("daraja_sandbox", __name__)
    blueprint.register_blueprint(daraja_api_blueprint(sandbox))
    blueprint.register_blueprint(control_blueprint(sandbox))

    @blueprint.before_app_serving
    async def _start() -> None:
        await sandbox.start()

    @blueprint.after_app_serving
    async def _stop() -> None:
        await sandbox.stop()

    return blueprint


def create_sandbox_app(
    config: SandboxConfig | None = None,
    *,
    keys: SandboxKeys | None = None,
    sandbox: DarajaSandbox | None = None,
) -> Quart:
    """The sandbox on its own, on Daraja's paths at the root; `app.extensions["daraja_sandbox"]`."""
    sandbox = sandbox or DarajaSandbox(config, keys)
    observability.redact_url_loggers()  # its callback URLs carry the caller's secrets
    app = Quart("daraja_sandbox")
    app.extensions["daraja_sandbox"] = sandbox
    app.register_blueprint(sandbox_blueprint(sandbox))
    return app

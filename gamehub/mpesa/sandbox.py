"""The Daraja sandbox: an M-Pesa emulator as a Quart app or a blueprint to mount in-process.
Its phone-number scenarios and manual prompts: docs/OPERATIONS.md (M-Pesa)."""

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


def create_sandbox_app(sandbox: DarajaSandbox) -> Quart:
    """The sandbox on its own, on Daraja's paths at the root; `app.extensions["daraja_sandbox"]`."""
    observability.redact_url_loggers()  # its callback URLs carry the caller's secrets
    app = Quart("daraja_sandbox")
    app.extensions["daraja_sandbox"] = sandbox
    app.register_blueprint(sandbox_blueprint(sandbox))
    return app

"""The `gamehub` command: serve, migrate, daraja-sandbox, admin, audit."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from hypercorn.config import Config

from gamehub import serving
from gamehub.settings import Settings, SettingsError, gamehub_environment, load_settings

HYPERCORN_TOML = Path("hypercorn.toml")


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        print(f"gamehub: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _install_event_loop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is absent only on Windows
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _hypercorn_config(host: str, port: int) -> Config:
    config = Config.from_toml(str(HYPERCORN_TOML)) if HYPERCORN_TOML.is_file() else Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None  # the app logs each request itself, with its request id
    return config


def _local_url(host: str, port: int | str) -> str:
    """How this machine reaches a server bound to `host`:`port`."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


async def _serve(settings: Settings, config: Config) -> None:
    from hypercorn.asyncio import serve

    from gamehub.app import create_app

    app = create_app(settings)
    serving.prepare_process()
    stop = asyncio.Event()

    def drain_and_stop() -> None:  # then Hypercorn lets the requests in flight finish
        serving.drain(app)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, drain_and_stop)
    host, _, port = config.bind[0].rpartition(":")
    print(f"Game Hub is running at {_local_url(host, port)}/  (API docs: /docs)", flush=True)
    # The ASGI entry point, not the Quart object that forwards to it: a frame less per stream.
    await serve(app.asgi_app, config, shutdown_trigger=stop.wait, mode="asgi")


def cmd_serve(args: argparse.Namespace) -> None:
    from gamehub.observability import configure_logging

    settings = _settings_or_exit()
    configure_logging(settings.log_json)
    if settings.mpesa_callback_base_url is None:
        # M-Pesa calls back (and the built-in sandbox is reached) at the address we listen on.
        settings = settings.with_overrides(mpesa_callback_base_url=_local_url(args.host, args.port))
    from gamehub.migrate import ensure_database  # the embedded default starts its PostgreSQL

    settings = ensure_database(settings)
    _install_event_loop()
    asyncio.run(_serve(settings, _hypercorn_config(args.host, args.port)))


def cmd_migrate(_args: argparse.Namespace) -> None:
    from gamehub.migrate import ensure_database, upgrade

    settings = ensure_database(_settings_or_exit())
    upgrade(settings.database_url)
    print("gamehub: database is at the latest revision", flush=True)


async def _serve_sandbox(args: argparse.Namespace) -> None:
    from hypercorn.asyncio import serve

    from gamehub.mpesa.sandbox import DarajaSandbox, SandboxConfig, SandboxKeys, create_sandbox_app

    env = gamehub_environment()  # without the app's checks
    defaults = SandboxConfig()
    passkeys = dict(defaults.passkeys)
    if "MPESA_SHORTCODE" in env and "MPESA_PASSKEY" in env:
        passkeys[env["MPESA_SHORTCODE"]] = env["MPESA_PASSKEY"]
    initiators = dict(defaults.initiators)
    if "MPESA_INITIATOR_NAME" in env and "MPESA_INITIATOR_PASSWORD" in env:
        initiators[env["MPESA_INITIATOR_NAME"]] = env["MPESA_INITIATOR_PASSWORD"]
    config = SandboxConfig(
        consumer_key=env.get("MPESA_CONSUMER_KEY", defaults.consumer_key),
        consumer_secret=env.get("MPESA_CONSUMER_SECRET", defaults.consumer_secret),
        passkeys=passkeys,
        initiators=initiators,
        manual_prompts=args.manual_prompts,
    )
    keys = await asyncio.to_thread(SandboxKeys.generate)
    app = create_sandbox_app(sandbox=DarajaSandbox(config, keys))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hypercorn_config = Config()
    hypercorn_config.bind = [f"{args.host}:{args.port}"]
    base = f"http://{args.host}:{args.port}"
    print(f"Daraja sandbox is running at {base}/  (phone: {base}/sandbox/phone)", flush=True)
    await serve(app, hypercorn_config, shutdown_trigger=stop.wait)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gamehub", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the app under Hypercorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=cmd_serve)
    migrate = commands.add_parser("migrate", help="alembic upgrade head on the configured database")
    migrate.set_defaults(handler=cmd_migrate)
    sandbox = commands.add_parser("daraja-sandbox", help="run the M-Pesa (Daraja) emulator alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8001)
    sandbox.add_argument(
        "--manual-prompts",
        action="store_true",
        help="prompts to non-scenario phones wait for Approve/Cancel on /sandbox/phone",
    )
    sandbox.set_defaults(handler=lambda args: asyncio.run(_serve_sandbox(args)))
    from gamehub.admin.cli import add_commands

    add_commands(commands, _settings_or_exit)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()

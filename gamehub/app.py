"""create_app(settings): extensions, blueprints and lifecycle; nothing else."""

from __future__ import annotations

from quart import Quart
from quart_schema import QuartSchema

from gamehub import errors, health, observability, userstream
from gamehub.admin.blueprints import admin_blueprints
from gamehub.admin.money_trail import MoneyTrail
from gamehub.auth.routes import blueprint as auth_blueprint
from gamehub.connections import Connections
from gamehub.db import create_engine, reader_factory, session_factory
from gamehub.games.routes import blueprint as games_blueprint
from gamehub.idempotency import Housekeeping
from gamehub.ids import IdConverter
from gamehub.jsonio import ApiRequest, ExactJSONProvider
from gamehub.openapi import ApiOpenAPIProvider, install_docs
from gamehub.pg import RawPool
from gamehub.proxies import behind_proxies
from gamehub.ratelimit import create_limiter
from gamehub.responsible.routes import blueprint as responsible_blueprint
from gamehub.rooms.broker import create_broker
from gamehub.rooms.handoff import StreamHandoff
from gamehub.rooms.registry import Registry
from gamehub.rooms.roulette_game import GAME as ROULETTE
from gamehub.rooms.routes import blueprint as rooms_blueprint
from gamehub.rooms.service import Rooms
from gamehub.rooms.ws import blueprint as ws_blueprint
from gamehub.runtime import EXTENSION, Runtime
from gamehub.settings import Settings, ensure_secrets, load_settings
from gamehub.wallet.gateway import build_gateway
from gamehub.wallet.reconciler import Reconciler
from gamehub.wallet.routes import blueprint as wallet_blueprint
from gamehub.webapp import web_blueprint
from gamehub.workarounds import check_versions
from gamehub.workarounds.asgi_http import InlineHTTPConnection
from gamehub.workarounds.routing import RememberingQuart

API_DESCRIPTION = (
    "Real-money Spin and Win and Russian Roulette paid through M-Pesa. Amounts are KES strings "
    "with 2 decimals; errors are `{error: {code, message, details}}`."
)


def create_app(settings: Settings | None = None) -> Quart:
    settings = ensure_secrets(settings or load_settings())
    check_versions()  # refuse to serve with a work-around outside its fence
    observability.redact_url_loggers()
    app = RememberingQuart("gamehub")
    app.request_class = ApiRequest
    app.url_map.converters["int"] = IdConverter  # a row id: out of bigint's range, a 404
    app.asgi_http_class = InlineHTTPConnection
    # Streams are written by middleware once Quart has answered (rooms/handoff.py); outermost,
    # the client's address from trusted proxies' headers, before anything reads it.
    app.asgi_app = behind_proxies(  # type: ignore[method-assign,assignment]
        StreamHandoff(app.asgi_app), settings.trusted_proxies
    )
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["QUART_SCHEMA_CONVERSION_PREFERENCE"] = "pydantic"

    QuartSchema(
        app,
        info={"title": "Game Hub API", "version": "0.1.0", "description": API_DESCRIPTION},
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
        redoc_ui_path=None,
        scalar_ui_path=None,
        openapi_provider_class=ApiOpenAPIProvider,
    )
    install_docs(app)
    # After QuartSchema, whose own provider (floats) would round `10.0099999999999999999` to 10.01.
    app.json_provider_class = ExactJSONProvider
    app.json = ExactJSONProvider(app)
    metrics = observability.Metrics()
    app.extensions["gamehub_metrics"] = metrics
    observability.install(app, metrics)
    errors.register_error_handlers(app)

    engine = create_engine(
        settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size
    )
    gateway, gateway_blueprints = build_gateway(settings)
    connections = Connections(settings.max_streams_per_user)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        readers=reader_factory(engine),
        broker=create_broker(settings.redis_url),
        gateway=gateway,
        pg=RawPool(settings.database_url, settings.db_raw_pool_size),
        limiter=create_limiter(settings.redis_url),
        connections=connections,
    )
    app.extensions[EXTENSION] = runtime
    reconciler = Reconciler(runtime)
    registry = Registry(
        runtime.sessions,
        runtime.broker,
        config_overrides=settings.roulette_overrides(),
        sweep_interval_s=settings.rooms_sweep_interval_s,
        readers=runtime.readers,
        pg=runtime.pg,
        game=ROULETTE,
        faults=settings.faults,
    )
    app.extensions["gamehub_rooms"] = Rooms(registry, settings.tax_winnings_withholding)
    housekeeping = Housekeeping(runtime.sessions)
    money_trail = MoneyTrail(runtime.sessions)

    @app.before_serving
    async def _start() -> None:
        await runtime.broker.start()
        await registry.start()
        connections.start(runtime.broker, runtime.readers)
        housekeeping.start()
        reconciler.start()
        money_trail.start()

    @app.after_serving
    async def _stop() -> None:
        await housekeeping.stop()
        await connections.stop()
        await registry.stop()
        await reconciler.stop()
        await money_trail.stop()
        await gateway.close()
        await runtime.broker.close()
        await runtime.limiter.close()
        await runtime.pg.close()
        await engine.dispose()

    app.register_blueprint(health.blueprint)
    app.register_blueprint(auth_blueprint)
    app.register_blueprint(games_blueprint)
    if settings.bench_endpoints:  # refused in production
        from gamehub import benchprobe

        benchprobe.install(app)
    app.register_blueprint(rooms_blueprint)
    app.register_blueprint(ws_blueprint)
    app.register_blueprint(userstream.blueprint)
    app.register_blueprint(wallet_blueprint)
    app.register_blueprint(responsible_blueprint)
    for blueprint in admin_blueprints():  # the back office: /admin
        app.register_blueprint(blueprint)
    app.register_blueprint(web_blueprint())  # the browser client at /
    for blueprint, prefix in gateway_blueprints:  # the built-in Daraja sandbox, if in use
        app.register_blueprint(blueprint, url_prefix=prefix)
    return app

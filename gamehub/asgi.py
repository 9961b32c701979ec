"""The ASGI application for ASGI tools and development (`hypercorn gamehub.asgi:app`). Production
runs `gamehub serve`, which drains on SIGTERM; Hypercorn's own workers do not (see
docs/OPERATIONS.md, "Deploying several instances")."""

from gamehub import serving
from gamehub.app import create_app
from gamehub.migrate import ensure_database
from gamehub.observability import configure_logging
from gamehub.settings import load_settings

# Production names its database (the embedded one is refused there); in development each worker
# finds the data folder's server running, or the first starts it.
settings = ensure_database(load_settings())
configure_logging(settings.log_json)
quart_app = create_app(settings)
serving.prepare_process()
# Hypercorn calls the ASGI entry point itself rather than the Quart object, whose __call__ only
# forwards to it: one coroutine frame less for each open stream (see handoff.py).
app = quart_app.asgi_app

"""The ASGI application for ASGI tools and development (`hypercorn gamehub.asgi:app`); production
runs `gamehub serve`, which drains on SIGTERM (docs/OPERATIONS.md)."""

from gamehub import serving
from gamehub.app import create_app
from gamehub.migrate import ensure_database
from gamehub.observability import configure_logging
from gamehub.settings import load_settings

# In development each worker finds the data folder's server running, or the first starts it.
settings = ensure_database(load_settings())
configure_logging(settings.log_json)
quart_app = create_app(settings)
serving.prepare_process()
# The ASGI entry point, not the Quart object that forwards to it: a frame less per stream.
app = quart_app.asgi_app

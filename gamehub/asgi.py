"""The ASGI application for Hypercorn workers (`hypercorn gamehub.asgi:app`)."""

from gamehub.app import create_app
from gamehub.observability import configure_logging
from gamehub.settings import load_settings

settings = load_settings()
configure_logging(settings.log_json)
app = create_app(settings)

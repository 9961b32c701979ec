"""The interactive API docs (`/docs`, quart-schema's Swagger UI page) with their script and
style served by the app, from the swagger-ui-py package, instead of a CDN: the docs work offline,
behind a firewall and on a developer's laptop on a plane, and the page loads no third party's
code next to a login form."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from quart import Blueprint, Quart, Response
from quart_schema import hide

from gamehub.webapp import CONTENT_TYPES, Asset, asset_of, asset_response

ASSETS = "/docs/assets"
FILES = ("swagger-ui-bundle.js", "swagger-ui.css")


def _static() -> Path:
    return Path(str(files("swagger_ui") / "static"))


def install(app: Quart) -> None:
    """Point quart-schema's page at our copies and serve them (read once, at start-up)."""
    static = _static()
    assets: dict[str, Asset] = {
        name: asset_of(static / name, CONTENT_TYPES[Path(name).suffix]) for name in FILES
    }
    app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = f"{ASSETS}/swagger-ui-bundle.js"
    app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = f"{ASSETS}/swagger-ui.css"
    blueprint = Blueprint("apidocs", __name__)

    @blueprint.get(f"{ASSETS}/<name>")
    @hide
    async def docs_asset(name: str) -> Response:
        """Swagger UI's script and style for `/docs`."""
        return asset_response(assets.get(name))

    app.register_blueprint(blueprint)

"""The OpenAPI document says what the API answers (the JSON error as `default`, bigint path ids,
required bodies and query parameters), and `/docs` serves Swagger UI's files itself, not a CDN's
(offline, and no third party's code next to a login form)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from quart import Blueprint, Quart, Response
from quart_schema import OpenAPIProvider, hide
from werkzeug.routing import BaseConverter, IntegerConverter, Rule

from gamehub.webapp import CONTENT_TYPES, Asset, asset_of, asset_response

DOCS_ASSETS = "/docs/assets"
DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    """An error: 400 malformed JSON, 401, 403, 404, 405, 409 state, 413 too large, 422
    validation, 429 rate limited (with Retry-After), 503 unavailable (with Retry-After)."""

    error: ErrorDetail


class ApiOpenAPIProvider(OpenAPIProvider):
    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        error, error_components = self.build_response_object(ErrorOut, None)
        for operations in paths.values():
            for operation in operations.values():
                # Status keys as text, as OpenAPI writes them (quart-schema's are ints, which
                # cannot be sorted next to "default" when the document is rendered).
                declared = {str(status): body for status, body in operation["responses"].items()}
                operation["responses"] = {**declared, "default": error}
                if "requestBody" in operation:  # a JSON body is always expected (else 400)
                    operation["requestBody"] = {**operation["requestBody"], "required": True}
        return paths, {**components, **error_components}

    def build_querystring_parameters(
        self, model: type[Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """quart-schema's, with `required` set for the model's required fields."""
        parameters, components = super().build_querystring_parameters(model)
        fields = getattr(model, "model_fields", {})
        for parameter in parameters:
            field = fields.get(parameter["name"])
            if field is not None and field.is_required():
                parameter["required"] = True
        return parameters, components

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, IntegerConverter):
            bounds = {"minimum": converter.min, "maximum": converter.max}
            parameter["schema"].update({k: v for k, v in bounds.items() if v is not None})
        return parameter


def install_docs(app: Quart) -> None:
    """Point quart-schema's `/docs` page at our copies and serve them (read once, at start-up)."""
    static = Path(str(files("swagger_ui") / "static"))
    assets: dict[str, Asset] = {
        name: asset_of(static / name, CONTENT_TYPES[Path(name).suffix]) for name in DOCS_FILES
    }
    app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = f"{DOCS_ASSETS}/swagger-ui-bundle.js"
    app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = f"{DOCS_ASSETS}/swagger-ui.css"
    blueprint = Blueprint("apidocs", __name__)

    @blueprint.get(f"{DOCS_ASSETS}/<name>")
    @hide
    async def docs_asset(name: str) -> Response:
        """Swagger UI's script and style for `/docs`."""
        return asset_response(assets.get(name))

    app.register_blueprint(blueprint)

"""The OpenAPI document says what the API answers: every operation may answer the contract's
JSON error (`default`, with its schema), an id in a path is an integer in bigint's range, a
JSON body and a required query parameter are marked required.
Built through quart-schema's documented extension point (an `OpenAPIProvider` subclass)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart_schema import OpenAPIProvider
from werkzeug.routing import BaseConverter, IntegerConverter, Rule


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

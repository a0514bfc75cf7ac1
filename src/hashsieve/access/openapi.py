"""The OpenAPI document with every answer a route can give.

FastAPI documents 200 and 422 (request validation) only. A route also answers 401 (no session
or token), 403 (CSRF, origin or role refused), 404 (an unknown case, file, alert or feed named
in the path), 400 (a body that is not JSON) and 422 with a message (a library error): this adds
those answers to every operation (404 where the path names something, 400 where it takes a
body), so a route added later is documented the same way and a client (or schemathesis'
status-code and response-schema checks) can rely on the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

#: ``{"detail": "..."}``: every refusal of the app, and the 422 of a library error.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "string"}},
    "required": ["detail"],
}

_REASONS = {
    400: "The body could not be parsed",
    401: "No valid session (log in) or no valid bearer token",
    403: "Refused: CSRF token, origin or role",
    404: "Not found (or not visible to this user)",
    409: "Conflict with the current state",
    429: "Too many attempts; see Retry-After",
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Every API route of ``app`` with the path it is served at, through included routers too
    (FastAPI keeps an included router as one entry of ``app.routes``)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            yield context.path_format or route.path_format, route


def document_errors(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    """Add the refusals each route can give to ``document`` (the app's OpenAPI), in place."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for path, route in api_routes(app):
        if not route.include_in_schema:
            continue
        codes = {401, 403}  # every route is behind a session, a token or the login's own checks
        if "{" in path:
            codes.add(404)
        if route.body_field is not None:
            codes.add(400)  # a body that is not JSON at all
        for method in route.methods or ():
            operation = document["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(str(code), _error(_REASONS[code]))
            for code, answer in responses.items():
                if code in ("400", "401", "403", "404", "409", "429") and "content" not in answer:
                    answer.update(_error(answer.get("description") or _REASONS[int(code)]))
            invalid = responses.get("422")
            if invalid is not None:
                invalid["content"] = {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/HTTPValidationError"},
                                {"$ref": "#/components/schemas/Error"},
                            ]
                        }
                    }
                }
            else:
                responses["422"] = _error("The request was refused as invalid")
    return document


def install(app: FastAPI) -> None:
    """Serve ``app.openapi()`` with the documented refusals (built once, on first use)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None or "Error" not in app.openapi_schema.get(
            "components", {}
        ).get("schemas", {}):
            app.openapi_schema = document_errors(app, plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

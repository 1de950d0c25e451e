"""The OpenAPI description, completed once: every operation documents its error answers.

Errors come from one place (errors.py, security.py) and look alike everywhere: a problem
document (RFC 9457) as application/problem+json. Rather than a `responses=` on each route,
the generated description gets them here, for every operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from skyforge.api.errors import PROBLEM

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An error (RFC 9457)",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "input errors, one per field",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
# What any operation may answer, whatever it is: the middlewares' and the typed errors' codes.
ERRORS = {
    400: "Bad request: the body could not be read",
    401: "No valid bearer token (or credentials)",
    403: "The token's role or scope does not allow it",
    404: "No such resource, or not a member of its project",
    409: "Conflicts with the current state (taken, still running, nothing to roll back to...)",
    413: "The request body is over the limit",
    422: "Invalid input (fields, JSON nesting, Idempotency-Key reused with another request)",
    429: "Rate limited: retry after the Retry-After header's seconds",
}
_REF = {"$ref": "#/components/schemas/Problem"}


def install(app: FastAPI) -> None:
    """Complete app.openapi() with the errors of every operation (computed once)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = PROBLEM_SCHEMA
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                _complete(operation.setdefault("responses", {}))
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(responses: dict[str, Any]) -> None:
    for code, description in ERRORS.items():
        responses.setdefault(str(code), {"description": description})
    for status, response in responses.items():
        if status.isdigit() and 400 <= int(status) < 500:
            response["content"] = {PROBLEM: {"schema": _REF}}
            if status == "422":
                response["description"] = ERRORS[422]
            if status == "429":
                response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}

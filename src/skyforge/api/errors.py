"""Typed errors -> application/problem+json, in one place."""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

from skyforge.kernel.errors import SkyforgeError, TooManyRequests

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
_STATUSES = {s.value for s in HTTPStatus}


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _where(loc: Any) -> str:
    return ".".join(str(p) for p in loc if p not in ("body",)) or "body"


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed(request: Request) -> str:
    """Every method some route of this path takes (Starlette names the first route's only)."""
    routes: list[BaseRoute] = request.app.router.routes

    def taken(method: str) -> bool:
        scope = {**request.scope, "method": method}
        return any(route.matches(scope)[0] is Match.FULL for route in routes)

    return ", ".join(method for method in _METHODS if taken(method))


def install(app: FastAPI) -> None:
    @app.exception_handler(SkyforgeError)
    async def _typed(_req: Request, exc: SkyforgeError) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _where(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Invalid input", detail, errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(req: Request, exc: HTTPException) -> JSONResponse:
        title = HTTPStatus(exc.status_code).phrase if exc.status_code in _STATUSES else "Error"
        response = problem(exc.status_code, title, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = _allowed(req)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        return problem(500, "Internal error", "an unexpected error occurred; see the server log")

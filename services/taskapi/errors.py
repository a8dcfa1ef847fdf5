"""Exception handlers that give every error the JSON shape docs/api.md promises."""

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route

from taskapi.cursor import InvalidCursorError
from taskapi.db import DatabaseUnavailableError

_JSON_INVALID = {"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}


def _trimmed(error: Any) -> dict[str, Any]:
    # `input` and `ctx` echo the request back (and may hold values that are not even
    # valid JSON, such as lone surrogates); the contract keeps type, loc and msg only.
    if error["type"] == "json_invalid":
        return _JSON_INVALID
    return {"type": error["type"], "loc": list(error["loc"]), "msg": error["msg"]}


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": [_trimmed(e) for e in exc.errors()]}, status_code=422)


def allowed_methods_by_path(routes: Iterable[BaseRoute]) -> dict[str, str]:
    """The Allow header for each path, from every route registered on it (/openapi.json too)."""
    methods: dict[str, set[str]] = {}
    for route in routes:
        if isinstance(route, Route):
            methods.setdefault(route.path, set()).update((route.methods or set()) - {"HEAD"})
    return {path: ", ".join(sorted(names)) for path, names in methods.items()}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, (ValueError, RecursionError)):
        # FastAPI answers a body json.loads cannot take with a bare 400 unless the error is
        # a JSONDecodeError: not UTF-8 (UnicodeDecodeError), an integer over 4,300 digits
        # (ValueError), nesting past the recursion limit (RecursionError). For the contract
        # it is JSON that failed to decode, like any other.
        return JSONResponse({"detail": [_JSON_INVALID]}, status_code=422)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette lists only the first matching route's methods; /tasks/ has two.
        headers["Allow"] = request.app.state.allowed_methods.get(request.scope["path"], "")
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def _invalid_cursor(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "invalid cursor"}, status_code=400)


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DatabaseUnavailableError)
    return JSONResponse(
        {"detail": f"database unavailable: {exc.cause}"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(InvalidCursorError, _invalid_cursor)
    app.add_exception_handler(DatabaseUnavailableError, _database_unavailable)

"""The middleware habits (APP_MIDDLEWARE): the same small work as pure ASGI or as
`@app.middleware("http")` (Starlette's BaseHTTPMiddleware), in one layer or three.

The work is what almost every production app adds: an `X-Request-ID` header (a fresh uuid4),
a `Server-Timing: app;dur=<ms>` header, and a count of responses by status. Each variant does
all three, so the variants differ only in how many layers carry it and of which kind:

- `asgi-1`: one pure ASGI middleware doing the three jobs in its `send` wrapper;
- `asgi-3`: three pure ASGI middlewares, one job each;
- `http-1`: one `@app.middleware("http")` function doing the three jobs after `call_next`;
- `http-3`: three such functions, one job each.

The headers are additions docs/api.md allows (it fixes bodies, statuses, Content-Type, Allow
and Retry-After only).
"""

import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskapi.settings import MiddlewareMode

REQUEST_ID = "x-request-id"
SERVER_TIMING = "server-timing"
CallNext = Callable[[Request], Awaitable[Response]]


def request_id() -> str:
    return uuid.uuid4().hex


def server_timing(started: float) -> str:
    return f"app;dur={(time.perf_counter() - started) * 1000:.3f}"


class ResponseCounter:
    """Responses by status, as a metrics middleware keeps them (app.state.response_counts)."""

    def __init__(self) -> None:
        self.by_status: Counter[int] = Counter()

    def add(self, status: int) -> None:
        self.by_status[status] += 1


def _with_header(message: Message, name: str, value: str) -> Message:
    # A new list: the response may hand the same header list to every send.
    return {**message, "headers": [*message.get("headers", ()), (name.encode(), value.encode())]}


class _PureAsgi:
    """A pure ASGI middleware that changes the response start message; subclasses say how."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = self.starting(message, started)
            await send(message)

        await self.app(scope, receive, wrapped)

    def starting(self, message: Message, started: float) -> Message:
        raise NotImplementedError


class RequestIdMiddleware(_PureAsgi):
    def starting(self, message: Message, started: float) -> Message:
        return _with_header(message, REQUEST_ID, request_id())


class TimingMiddleware(_PureAsgi):
    def starting(self, message: Message, started: float) -> Message:
        return _with_header(message, SERVER_TIMING, server_timing(started))


class CountingMiddleware(_PureAsgi):
    def __init__(self, app: ASGIApp, counter: ResponseCounter) -> None:
        super().__init__(app)
        self.counter = counter

    def starting(self, message: Message, started: float) -> Message:
        self.counter.add(message["status"])
        return message


class AllInOneMiddleware(CountingMiddleware):
    def starting(self, message: Message, started: float) -> Message:
        self.counter.add(message["status"])
        message = _with_header(message, REQUEST_ID, request_id())
        return _with_header(message, SERVER_TIMING, server_timing(started))


def _http_all_in_one(counter: ResponseCounter) -> Callable[[Request, CallNext], Awaitable[Response]]:
    async def all_in_one(request: Request, call_next: CallNext) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        counter.add(response.status_code)
        response.headers[REQUEST_ID] = request_id()
        response.headers[SERVER_TIMING] = server_timing(started)
        return response

    return all_in_one


async def _http_request_id(request: Request, call_next: CallNext) -> Response:
    response = await call_next(request)
    response.headers[REQUEST_ID] = request_id()
    return response


async def _http_timing(request: Request, call_next: CallNext) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    response.headers[SERVER_TIMING] = server_timing(started)
    return response


def _http_counting(counter: ResponseCounter) -> Callable[[Request, CallNext], Awaitable[Response]]:
    async def counting(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        counter.add(response.status_code)
        return response

    return counting


def install_middleware(app: FastAPI, mode: MiddlewareMode) -> ResponseCounter | None:
    """Adds the mode's layers outside everything the app already has; returns their counter."""
    if mode == "none":
        return None
    counter = ResponseCounter()
    if mode == "asgi-1":
        app.add_middleware(AllInOneMiddleware, counter=counter)
    elif mode == "asgi-3":
        app.add_middleware(CountingMiddleware, counter=counter)
        app.add_middleware(TimingMiddleware)
        app.add_middleware(RequestIdMiddleware)
    elif mode == "http-1":
        app.middleware("http")(_http_all_in_one(counter))
    else:
        app.middleware("http")(_http_counting(counter))
        app.middleware("http")(_http_timing)
        app.middleware("http")(_http_request_id)
    return counter

"""Pure ASGI middleware that answers 413 for request bodies over a byte limit.

Starlette's own limiter answers in plain text; the contract wants the JSON error every
other status uses. A declared Content-Length is refused before any byte is read; a
chunked body is counted as it streams, so a 10 MB upload never sits in memory.
"""

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODY = json.dumps({"detail": "Request Entity Too Large"}).encode()


class BodyTooLargeError(HTTPException):
    """Raised from receive(); an HTTPException so FastAPI's body parsing passes it through
    to the JSON error handler instead of calling it a parse error (400). Connection: close,
    as for a declared length: otherwise uvicorn keeps the connection and reads the rest of
    the body, however long, only to discard it."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="Request Entity Too Large", headers={"Connection": "close"})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_413(send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if started:
                raise
            await _send_413(send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects a malformed header before we run
    return None


async def _send_413(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_BODY)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _BODY})

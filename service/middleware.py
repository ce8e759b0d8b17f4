"""ASGI middleware: a request id for every request, and limits on the request body.

The request id comes from the client's `X-Request-ID` (when it is a plain token) or is made
here; it is echoed in the response and set in `request_id`, which every log record of the
request carries. A body larger than the route's limit is refused with 413: at once when its
`Content-Length` says so, else when the bytes received pass it (chunked uploads). A client that
announces a body and then sends it slowly, or not at all, gets a 408 after `body_timeout`
seconds instead of holding a worker.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str] = ContextVar("request_id", default="-")
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class BodyTimeout(HTTPException):
    """The request body did not arrive in time: 408 (FastAPI passes HTTPExceptions through)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            status_code=408,
            detail=f"the request body did not arrive within {seconds:g} s; send it in one go",
            headers={"Connection": "close"},
        )


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(
            status_code=413,
            detail=f"the request body is larger than this server accepts ({limit:,} bytes, {setting})",
            headers={"Connection": "close"},
        )


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        body_timeout: float,
        max_body: int,
        route_limits: Mapping[tuple[str, str], tuple[int, str]] | None = None,
    ) -> None:
        self.app, self.body_timeout, self.max_body = app, body_timeout, max_body
        self.route_limits = route_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        sent = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = sent if _TOKEN.fullmatch(sent) else uuid.uuid4().hex
        request_id.set(rid)  # task-local: each request runs in its own task
        limit, setting = self.route_limits.get(
            (scope["method"], scope["path"]), (self.max_body, "KMED_SERVER__MAX_BODY_BYTES")
        )
        announced = headers.get(b"content-length", b"")
        if announced.isdigit() and int(announced) > limit:
            await _send_error(send, BodyTooLarge(limit, setting), rid)
            return
        body_done, received = False, 0

        async def limited_receive() -> Message:
            nonlocal body_done, received
            if body_done:  # after the body, receive() waits for a disconnect: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                raise BodyTimeout(self.body_timeout) from None
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit, setting)
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        await self.app(scope, limited_receive, send_with_id)


async def _send_error(send: Send, error: HTTPException, rid: str) -> None:
    body = json.dumps({"detail": error.detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"x-request-id", rid.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

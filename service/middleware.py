"""ASGI middleware: a request id for every request, and a deadline for sending the body.

The request id comes from the client's `X-Request-ID` (when it is a plain token) or is made
here; it is echoed in the response and set in `request_id`, which every log record of the
request carries. A client that announces a body and then sends it slowly, or not at all, gets a
408 after `body_timeout` seconds instead of holding a worker. The body's size is limited by
FastAPI's own `max_body_size` (413).
"""

from __future__ import annotations

import asyncio
import re
import uuid
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


class RequestContext:
    def __init__(self, app: ASGIApp, body_timeout: float) -> None:
        self.app, self.body_timeout = app, body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        rid = sent if _TOKEN.fullmatch(sent) else uuid.uuid4().hex
        request_id.set(rid)  # task-local: each request runs in its own task
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # after the body, receive() waits for a disconnect: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                raise BodyTimeout(self.body_timeout) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        await self.app(scope, timed_receive, send_with_id)

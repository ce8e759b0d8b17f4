"""Keys, roles and rate limits for every route but health, the widget and the docs.

A key is sent as `X-API-Key` (or `Authorization: Bearer …`; `X-Admin-Key` still works) and
looked up by its SHA-256 among `KMED_API_KEYS`, comparing every stored hash in constant time.
Roles are ordered: read < ingest < admin. Read routes need a key only when
`KMED_AUTH__READ_REQUIRES_KEY`; write routes always. A key that is sent but unknown is a 401
even on an open route: a client that thinks it is authenticated should hear that it is not.
Rate limits (the `limits` library, a moving window in memory) are per key name, or per client
address for requests without a key: 429 with `Retry-After`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Header, HTTPException, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse, storage, strategies
from starlette.types import ASGIApp, Receive, Scope, Send

from retrieval.settings import ApiKey, Settings

Role = Literal["read", "ingest", "admin"]
RANK: dict[str, int] = {"read": 0, "ingest": 1, "admin": 2}
HEADER = "X-API-Key"


def key_hash(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Auth:
    keys: list[tuple[bytes, ApiKey]]
    read_requires_key: bool
    limiter: strategies.MovingWindowRateLimiter
    per_key: RateLimitItem
    anonymous: RateLimitItem

    @classmethod
    def of(cls, settings: Settings) -> Auth:
        keys = [(bytes.fromhex(k.hash.removeprefix("sha256:")), k) for k in settings.api_keys]
        if settings.admin_key:
            legacy = ApiKey(name="admin", hash=key_hash(settings.admin_key), role="admin")
            keys.append((bytes.fromhex(legacy.hash.removeprefix("sha256:")), legacy))
        return cls(
            keys,
            settings.auth.read_requires_key,
            strategies.MovingWindowRateLimiter(storage.MemoryStorage()),
            parse(settings.auth.rate_limit),
            parse(settings.auth.anonymous_rate_limit),
        )

    def find(self, presented: str) -> ApiKey | None:
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found = None
        for stored, key in self.keys:  # every hash compared, so timing says nothing
            if hmac.compare_digest(stored, digest):
                found = key
        return found

    def throttle(self, who: str, *, anonymous: bool) -> None:
        item = self.anonymous if anonymous else self.per_key
        if self.limiter.hit(item, who):
            return
        reset = self.limiter.get_window_stats(item, who).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        raise HTTPException(429, f"too many requests; retry in {wait} s", headers={"Retry-After": str(wait)})


def _presented(x_api_key: str | None, authorization: str | None, x_admin_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return x_admin_key or None


def authorize(
    auth: Auth, role: Role | Literal["read-if-required"], presented: str | None, client: str
) -> str | None:
    """The name of the caller's key when it has at least `role` (None for an anonymous read),
    after counting the request against its rate; raises the 401, 403 or 429 that says why not."""
    needed: Role | None = role if role != "read-if-required" else "read" if auth.read_requires_key else None
    if not auth.keys and needed in ("ingest", "admin"):
        raise HTTPException(
            403, f"this route needs a key with role {needed}, and the server has none: set KMED_API_KEYS"
        )
    if presented is None:
        if needed is None:
            auth.throttle(client, anonymous=True)
            return None
        raise HTTPException(
            401,
            f"this route needs a key with role {needed}: send it in the {HEADER} header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = auth.find(presented)
    if key is None:
        raise HTTPException(
            401, f"unknown key in the {HEADER} header", headers={"WWW-Authenticate": "Bearer"}
        )
    if needed and RANK[key.role] < RANK[needed]:
        raise HTTPException(403, f"the key {key.name!r} has role {key.role}; this route needs {needed}")
    auth.throttle(f"key:{key.name}", anonymous=False)
    return key.name


def require(role: Role | Literal["read-if-required"]) -> Callable[..., None]:
    """A route dependency: the caller's key has at least `role` (and is within its rate)."""

    def dependency(
        request: Request,
        x_api_key: Annotated[str | None, Header(description="Your API key.")] = None,
        authorization: Annotated[str | None, Header(description="Bearer <API key>.")] = None,
        x_admin_key: Annotated[str | None, Header(description="Older name of X-API-Key.")] = None,
    ) -> None:
        presented = _presented(x_api_key, authorization, x_admin_key)
        client = request.client.host if request.client else "-"
        name = authorize(request.app.state.auth, role, presented, client)
        if name:
            request.state.key_name = name

    return dependency


class ReadKeyed:
    """An ASGI app behind the read key (for the mounted MCP transport, which has no FastAPI
    dependencies): the same keys, roles, rate limits and error bodies as the routes."""

    def __init__(self, app: ASGIApp, auth: Auth, on_key: Callable[[str], object]) -> None:
        self.app, self.auth, self.on_key = app, auth, on_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            h = request.headers
            presented = _presented(h.get("x-api-key"), h.get("authorization"), h.get("x-admin-key"))
            client = request.client.host if request.client else "-"
            try:
                name = authorize(self.auth, "read-if-required", presented, client)
            except HTTPException as exc:
                body = JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
                await body(scope, receive, send)
                return
            self.on_key(name or "anonymous")
        await self.app(scope, receive, send)


read = require("read-if-required")
ingest = require("ingest")
admin = require("admin")

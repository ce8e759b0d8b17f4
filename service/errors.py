"""Errors to HTTP: one table maps the project's errors to status codes and OpenAPI descriptions.

Whatever a client sends ends in a JSON error with a clear `detail`, never in a 500 that carries
its input: request-validation errors are returned without the values that failed (a question
may hold patient details, and `NaN` cannot be written as JSON), and an unexpected error is
answered with the request id to quote, its message left out of the response.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from retrieval.errors import (
    ConfigurationError,
    IndexUnavailable,
    InvalidQuery,
    KmedError,
    NotFound,
    SourceChanged,
)
from service.middleware import request_id

log = logging.getLogger(__name__)

STATUS: dict[type[KmedError], int] = {
    InvalidQuery: 422,
    NotFound: 404,
    SourceChanged: 409,
    IndexUnavailable: 503,
    ConfigurationError: 500,
}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where in the request, e.g. ['body', 'k'].")
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="pydantic's error type, e.g. finite_number.")


class ErrorOut(BaseModel):
    detail: str = Field(examples=["the question is empty: type a question in Korean"])
    errors: list[FieldError] = Field(default_factory=list, description="For a 422: each invalid field.")
    request_id: str | None = Field(default=None, description="Quote it when reporting a 500.")


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these status codes, described from the table."""
    what = {
        400: "The request is malformed.",
        401: "No key, or an unknown key: send it in the X-API-Key header.",
        403: "The key's role does not allow this route.",
        404: "No such clause, document or job (or the law is not indexed).",
        408: "The request body did not arrive in time.",
        409: "A source file changed since it was ingested: ingest it again.",
        413: "The request body is larger than the server accepts.",
        415: "The file type is not one the service ingests.",
        422: "Empty, too long or invalid question, or a bad parameter.",
        429: "Too many requests: wait for Retry-After seconds.",
        503: "No index yet (run `kmed ingest`) or the index is unavailable.",
    }
    return {code: {"model": ErrorOut, "description": what[code]} for code in codes}


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(
            loc=[p if isinstance(p, int) else str(p) for p in e.get("loc", ())], msg=e["msg"], type=e["type"]
        )
        for e in exc.errors()
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(KmedError)
    async def kmed_error(_: Request, exc: KmedError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
        return JSONResponse(
            status_code=status, content=ErrorOut(detail=str(exc)).model_dump(exclude_defaults=True)
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        where = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors[:5])
        body = ErrorOut(detail=f"invalid request: {where}", errors=errors)
        return JSONResponse(status_code=422, content=body.model_dump(exclude_defaults=True))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        rid = request_id.get()
        log.error("unexpected %s", type(exc).__name__, exc_info=exc)
        body = ErrorOut(
            detail=f"internal error ({type(exc).__name__}); quote request id {rid}", request_id=rid
        )
        return JSONResponse(status_code=500, content=body.model_dump(exclude_defaults=True))

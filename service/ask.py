"""POST /v1/ask: a grounded Korean answer whose every sentence cites a verified clause.

With `stream: true` the response is server-sent events: `retrieval` (the hits), `delta` (answer
text as it is written), then `answer` (the verified answer; only its sentences count).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from retrieval.answer import Answer, Answerer, Delta, Retrieved, answer, answer_events
from retrieval.errors import KmedError
from retrieval.models import SearchFilters
from retrieval.search import validate_question
from service import auth
from service.audit import audit
from service.errors import responses
from service.middleware import request_id

log = logging.getLogger(__name__)
router = APIRouter(tags=["answers"])


class AskRequest(BaseModel):
    question: str = Field(
        description="질문 (Korean). Personal identifiers are redacted before use.",
        examples=["처방전 대리수령 신청서는 얼마나 보관해야 하나요?"],
    )
    filters: SearchFilters | None = Field(
        default=None, description="Restrict the evidence (law, level, as_of…)."
    )
    k: int | None = Field(default=None, ge=1, le=20, description="Clauses retrieved as context.")
    stream: bool = Field(default=False, description="Server-sent events instead of one JSON body.")


def get_answerer(request: Request) -> Answerer:
    return request.app.state.holder.answerer()  # type: ignore[no-any-return]


@router.post(
    "/v1/ask",
    response_model=Answer,
    dependencies=[Depends(auth.read)],
    responses={
        **responses(401, 403, 404, 408, 413, 422, 429, 503),
        200: {"content": {"text/event-stream": {}}, "description": "Answer, or SSE."},
    },
)
def ask(
    request: Request, body: AskRequest, answerer: Annotated[Answerer, Depends(get_answerer)]
) -> Answer | EventSourceResponse:
    """질의응답: a short Korean answer, each sentence with [n] citations checked against the clause
    text, or 근거를 찾지 못했습니다 with the nearest clauses as 참고."""
    validate_question(body.question, answerer.searcher.max_question_chars)
    if not body.stream:
        result = answer(answerer, body.question, filters=body.filters, k=body.k)
        audit_answer(request, result)
        return result
    # keep-alive comments hold proxies open while a slow model thinks
    ping = request.app.state.settings.server.sse_ping_s
    return EventSourceResponse(_events(request, answerer, body), ping=ping, sep="\n")


def _events(request: Request, answerer: Answerer, body: AskRequest) -> Iterator[dict[str, str]]:
    """The answer's events; whatever fails ends the stream with an `error` event, never a cut."""
    events = answer_events(answerer, body.question, filters=body.filters, k=body.k, stream=True)
    try:
        for event in events:
            if isinstance(event, Retrieved):
                data = json.dumps([h.model_dump(mode="json") for h in event.hits], ensure_ascii=False)
            elif isinstance(event, Delta):
                data = json.dumps({"text": event.text}, ensure_ascii=False)
            else:
                audit_answer(request, event.answer)
                data = event.answer.model_dump_json()
            yield {"event": event.kind, "data": data}
    except KmedError as exc:
        yield {"event": "error", "data": json.dumps({"detail": str(exc)}, ensure_ascii=False)}
    except Exception as exc:  # the stream has started: a status code can no longer say it
        rid = request_id.get()
        log.error("answer stream failed: %s", type(exc).__name__, exc_info=exc)
        detail = f"internal error ({type(exc).__name__}); quote request id {rid}"
        yield {"event": "error", "data": json.dumps({"detail": detail, "request_id": rid})}
    finally:
        events.close()  # a client that went away stops the generation (and the model's stream)


def audit_answer(request: Request, result: Answer) -> None:
    """The audit record of one answered question (when the audit log is on)."""
    audit(
        request,
        "ask",
        question=result.question,
        abstained=result.abstained,
        abstain_stage=result.abstain_stage,
        cited=[c.clause_id for c in result.citations],
        latency_ms=result.timings_ms.get("total"),
    )

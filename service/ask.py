"""POST /v1/ask: a grounded Korean answer whose every sentence cites a verified clause.

With `stream: true` the response is server-sent events: `retrieval` (the hits), `delta` (answer
text as it is written), then `answer` (the verified answer; only its sentences count).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from retrieval.answer import Answer, Answerer, answer, answer_events
from retrieval.errors import KmedError
from retrieval.models import Hit, SearchFilters
from retrieval.search import validate_question
from service.routes import ERRORS

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
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "Answer, or SSE."}},
)
def ask(body: AskRequest, answerer: Annotated[Answerer, Depends(get_answerer)]) -> Answer | StreamingResponse:
    """질의응답: a short Korean answer, each sentence with [n] citations checked against the clause
    text, or 근거를 찾지 못했습니다 with the nearest clauses as 참고."""
    validate_question(body.question, answerer.searcher.max_question_chars)
    if not body.stream:
        return answer(answerer, body.question, filters=body.filters, k=body.k)
    return StreamingResponse(_events(answerer, body), media_type="text/event-stream")


def _events(answerer: Answerer, body: AskRequest) -> Iterator[str]:
    try:
        for kind, value in answer_events(
            answerer, body.question, filters=body.filters, k=body.k, stream=True
        ):
            if kind == "retrieval":
                hits = value if isinstance(value, list) else []
                data = json.dumps(
                    [Hit.model_validate(h).model_dump(mode="json") for h in hits], ensure_ascii=False
                )
            elif kind == "delta":
                data = json.dumps({"text": value}, ensure_ascii=False)
            else:
                data = Answer.model_validate(value).model_dump_json()
            yield f"event: {kind}\ndata: {data}\n\n"
    except KmedError as exc:
        yield f"event: error\ndata: {json.dumps({'detail': str(exc)}, ensure_ascii=False)}\n\n"

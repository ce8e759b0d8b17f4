"""An OpenAI-compatible chat endpoint, so any chat front end (Open WebUI, LibreChat) or OpenAI
client can use kmed as its "model".

`POST /v1/chat/completions` answers the **last user message** (earlier turns, system prompts
and the model's own replies are not used: each question is answered from the sources alone, and
an earlier turn never widens or narrows it); filters go in an extra `kmed` object
(`{"law", "level", "doc_type", "as_of"}`, `extra_body` in the openai client). The assistant
message is the verified answer: only sentences that passed verification, each with its [n]
keys, then a **근거** list of the cited clauses' labels with law.go.kr links (or the guideline's
page image) in Markdown, so a plain chat UI shows the sources. The same citations come as data
in `message.reference` (and in the final stream chunk's `delta.reference`), shaped like RAGFlow's
`reference`: `chunks` (one per citation: id, n, label, content = the supporting quote, url,
pages) and `doc_aggs`. An abstention is a normal assistant message, 근거를 찾지 못했습니다, with the
nearest clauses as **참고**, and `reference.abstained: true`.

A stream never carries unverified text: the model's tokens are verified first, then the answer
is sent line by line, with keep-alive comments while it is being prepared, and it always
ends with `data: [DONE]`, or with an `error` object when something failed after the start.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from retrieval.answer import Answer, Answerer, Citation, answer
from retrieval.citations import clause_url
from retrieval.errors import KmedError
from retrieval.models import SearchFilters
from retrieval.search import validate_question
from service import auth
from service.ask import audit_answer, get_answerer
from service.errors import responses
from service.middleware import request_id

log = logging.getLogger(__name__)
router = APIRouter(tags=["openai"])
MODEL = "kmed"
_HANGUL = re.compile(r"[가-힣]")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text or "" for p in self.content or [] if p.type in ("text", "input_text"))


class KmedOptions(BaseModel):
    law: str | None = Field(default=None, description="Parent Act or law title.", examples=["의료법"])
    level: str | None = Field(default=None, description="법률, 시행령 or 시행규칙.")
    doc_type: Literal["statute", "guideline"] | None = None
    as_of: date | None = Field(default=None, description="Answer from the versions in force on this date.")


class ChatRequest(BaseModel):
    """An OpenAI chat completion request; sampling options (temperature, max_tokens …) are accepted
    and ignored: the answer is the verified text, not a sample."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(default=MODEL, examples=[MODEL])
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    kmed: KmedOptions | None = Field(
        default=None, description="kmed's filters (extra_body in the openai client)."
    )


def _link(citation: Citation, base: str) -> str | None:
    if citation.doc_type == "statute":
        return clause_url(citation.doc_type, citation.level, citation.law, citation.article)
    if citation.page_start:
        return f"{base}/v1/clauses/{citation.clause_id}/page.png"
    return None


def _chunk(citation: Citation, base: str) -> dict[str, Any]:
    return {
        "id": citation.clause_id,
        "n": citation.n,
        "label": citation.label,
        "content": citation.quote,
        "document_name": citation.law,
        "doc_type": citation.doc_type,
        "url": _link(citation, base),
        "page_start": citation.page_start,
        "page_end": citation.page_end,
    }


def reference(result: Answer, base: str) -> dict[str, Any]:
    """The citations as data, in the shape RAG servers use in this protocol (RAGFlow's)."""
    cited = result.references if result.abstained else result.citations
    counts: dict[str, int] = {}
    for c in cited:
        counts[c.law] = counts.get(c.law, 0) + 1
    return {
        "abstained": result.abstained,
        "chunks": [_chunk(c, base) for c in cited],
        "doc_aggs": [{"doc_name": name, "count": n} for name, n in counts.items()],
    }


def _source_line(citation: Citation, base: str, *, numbered: bool) -> str:
    url = _link(citation, base)
    label = f"[{citation.label}]({url})" if url else citation.label
    return f"[{citation.n}] {label}" if numbered else f"- {label}"


def markdown(result: Answer, base: str) -> str:
    """The assistant message: the verified answer and its 근거, or the abstention and its 참고."""
    if result.abstained:
        why = f" ({result.reason})" if _HANGUL.search(result.reason) else ""
        lines = [
            f"근거를 찾지 못했습니다{why}. 색인된 법령과 지침에서 이 질문에 답하는 조항을 찾지 못했습니다."
        ]
        if result.references:
            lines += ["", "**참고** (답의 근거가 아닌, 가장 가까운 조항)"]
            lines += [_source_line(c, base, numbered=False) for c in result.references]
        return "\n".join(lines)
    lines = [result.answer, "", "**근거**"]
    lines += [_source_line(c, base, numbered=True) + "  " for c in result.citations]
    return "\n".join(lines)


def _question(body: ChatRequest, answerer: Answerer) -> str:
    if body.model != MODEL:
        raise HTTPException(
            404, f"model {body.model!r} not found: this server has {MODEL!r} (GET /v1/models)"
        )
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise HTTPException(422, "no user message: the last user message is the question")
    return validate_question(users[-1].text(), answerer.searcher.max_question_chars)


def _filters(body: ChatRequest) -> SearchFilters | None:
    return SearchFilters(**body.kmed.model_dump(exclude_none=True)) if body.kmed else None


@router.get("/v1/models", dependencies=[Depends(auth.read)], responses=responses(401, 403, 429))
def models() -> dict[str, Any]:
    """OpenAI-compatible model list: one model, `kmed`."""
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "kmed"}]}


@router.post(
    "/v1/chat/completions",
    dependencies=[Depends(auth.read)],
    responses={
        **responses(401, 403, 404, 408, 413, 422, 429, 503),
        200: {"content": {"text/event-stream": {}}, "description": "chat.completion, or SSE chunks."},
    },
)
def chat_completions(
    request: Request, body: ChatRequest, answerer: Annotated[Answerer, Depends(get_answerer)]
) -> Any:
    """OpenAI-compatible chat: the last user message answered with verified citations; see the
    module docstring for what is used, the 근거 list and `message.reference`."""
    question, filters = _question(body, answerer), _filters(body)
    base = str(request.base_url).rstrip("/")
    created, cid = int(time.time()), f"chatcmpl-{uuid.uuid4().hex}"
    if not body.stream:
        result = answer(answerer, question, filters=filters)
        audit_answer(request, result)
        message = {
            "role": "assistant",
            "content": markdown(result, base),
            "reference": reference(result, base),
        }
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
    ping = request.app.state.settings.server.sse_ping_s
    events = _stream(request, answerer, question, filters, base, cid, created)
    return EventSourceResponse(events, ping=ping, sep="\n")


def _stream(
    request: Request,
    answerer: Answerer,
    question: str,
    filters: SearchFilters | None,
    base: str,
    cid: str,
    created: int,
) -> Iterator[dict[str, str]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, str]:
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return {"data": json.dumps(data, ensure_ascii=False)}

    yield chunk({"role": "assistant", "content": ""})
    try:
        result = answer(answerer, question, filters=filters)  # verified before anything is sent
        audit_answer(request, result)
        for line in markdown(result, base).splitlines(keepends=True):
            yield chunk({"content": line})
        yield chunk({"reference": reference(result, base)}, "stop")
    except KmedError as exc:
        yield {
            "data": json.dumps(
                {"error": {"message": str(exc), "type": "invalid_request_error"}}, ensure_ascii=False
            )
        }
        return
    except Exception as exc:  # the stream has started: only an error object can say it now
        rid = request_id.get()
        log.error("chat stream failed: %s", type(exc).__name__, exc_info=exc)
        message = f"internal error ({type(exc).__name__}); quote request id {rid}"
        yield {"data": json.dumps({"error": {"message": message, "type": "server_error"}})}
        return
    yield {"data": "[DONE]"}

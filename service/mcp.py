"""kmed as a Model Context Protocol server (the official `mcp` SDK, FastMCP).

Read-only tools with Korean descriptions and typed inputs, over the same searcher as the API:
`search`, `get_clause`, `ask`, `verify_citations`; and each clause as a resource
`kmed://clause/{clause_id}`. Every text a client sends is redacted (`retrieval.redact`) before
it is searched, answered, checked or logged. The work runs in a worker thread, so the event loop
of `kmed serve` goes on serving while a tool embeds.

Two transports: `kmed mcp` speaks stdio (a desktop agent starts it as a subprocess), and
`kmed serve` mounts the streamable HTTP transport at `/mcp` (stateless, JSON responses: any
worker can answer any request), behind the read key when `KMED_AUTH__READ_REQUIRES_KEY` is on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date
from typing import Annotated, Literal, TypeVar

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel, Field

from retrieval.answer import Answer, Answerer, answer
from retrieval.citations import clause_url
from retrieval.citecheck import CitationReport
from retrieval.citecheck import verify_citations as check_citations
from retrieval.errors import KmedError
from retrieval.models import Clause, SearchFilters
from retrieval.redact import redact
from retrieval.search import MAX_K, Searcher, get_clause, lookup, search_details
from retrieval.settings import Settings
from service.audit import record

caller: ContextVar[str] = ContextVar("mcp_caller", default="mcp-stdio")  # the key name, over HTTP

INSTRUCTIONS = (
    "한국 보건의료 법령(법률·시행령·시행규칙)과 진료지침을 조항 단위로 찾고, 조항을 인용한 답을 주며, "
    "글 속의 법령 인용(「의료법」 제22조제2항 등)이 맞는지 확인합니다. 답의 모든 문장은 인용된 조항으로 "
    "검증되었고, 근거가 없으면 답하지 않습니다(근거를 찾지 못했습니다). 환자 식별정보는 보내기 전에 "
    "지워 주세요; 남아 있으면 서버가 지웁니다."
)
_CLAUSE_ID = re.compile(r"^[sg]-[\w.-]+$")
T = TypeVar("T")
# the filters `search` and `ask` share
Law = Annotated[str | None, Field(description="법령 또는 지침 제목으로 좁히기, e.g. 의료법")]
Level = Annotated[Literal["법률", "시행령", "시행규칙"] | None, Field(description="법령 단계")]
DocType = Annotated[Literal["statute", "guideline"] | None, Field(description="문서 종류")]
AsOf = Annotated[date | None, Field(description="이 날 시행되던 판으로 (기본: 현재)")]


class ClauseResult(BaseModel):
    """A statute clause or a guideline chunk, as an agent cites it."""

    clause_id: str
    label: str = Field(description="인용 표기, e.g. 의료법 제22조제2항 or a guideline's section and page.")
    law: str = Field(description="Law or guideline title.")
    level: str = Field(description="법률, 시행령, 시행규칙; empty for a guideline.")
    article: str
    paragraph: str | None = None
    text: str
    doc_type: str
    page_start: int | None = None
    page_end: int | None = None
    url: str | None = Field(default=None, description="The article on law.go.kr (statutes).")
    score: float | None = Field(default=None, description="Search score (search results only).")

    @classmethod
    def of(cls, clause: Clause, score: float | None = None) -> ClauseResult:
        url = clause_url(clause.doc_type, clause.level, clause.law, clause.article)
        return cls(
            **clause.model_dump(include=set(cls.model_fields) - {"url", "score"}), url=url, score=score
        )


class SearchResult(BaseModel):
    query: str = Field(description="The question as searched, identifiers redacted.")
    clauses: list[ClauseResult]
    notes: list[str] = Field(default_factory=list)


class ClauseLookup(BaseModel):
    reference: str = Field(description="The reference as resolved, or the clause id asked for.")
    clauses: list[ClauseResult]


class AnswerResult(BaseModel):
    """The verified answer: every sentence ends with [n] keys into `citations`; or the abstention."""

    answer: str
    abstained: bool
    reason: str = ""
    citations: list[ClauseResult] = Field(description="The cited clauses, in the order of their [n] keys.")
    quotes: list[str] = Field(description="Per citation, the span of the clause that supports the answer.")
    references: list[ClauseResult] = Field(
        default_factory=list, description="When abstaining: the nearest clauses, as 참고 only."
    )

    @classmethod
    def of(cls, result: Answer, searcher: Searcher, as_of: date | None = None) -> AnswerResult:
        def clauses(ids: list[str]) -> list[ClauseResult]:  # as they read in the version answered from
            return [ClauseResult.of(get_clause(searcher, cid, as_of=as_of)) for cid in ids]

        return cls(
            answer=result.answer if not result.abstained else "근거를 찾지 못했습니다.",
            abstained=result.abstained,
            reason=result.reason,
            citations=clauses([c.clause_id for c in result.citations]),
            quotes=[c.quote for c in result.citations],
            references=clauses([c.clause_id for c in result.references]),
        )


def build_mcp(
    searcher: Callable[[], Searcher],
    answerer: Callable[[], Answerer],
    settings: Settings,
    *,
    allowed_hosts: list[str] | None = None,
) -> FastMCP:
    """The MCP server over the searcher and answerer the caller builds (lazily: the index may
    appear after the server starts). `allowed_hosts` turns on DNS-rebinding protection."""
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=bool(allowed_hosts), allowed_hosts=allowed_hosts or []
    )
    mcp = FastMCP(
        "kmed",
        instructions=INSTRUCTIONS,
        stateless_http=True,
        json_response=True,
        streamable_http_path="/mcp",
        transport_security=security,
        log_level="WARNING",
    )
    patterns = settings.answer.patient_number_patterns

    def audit(event: str, **fields: object) -> None:
        if settings.answer.audit_log:
            record(f"mcp.{event}", caller.get(), **fields)

    async def run(work: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(work)
        except KmedError as exc:  # the client reads why: no such clause, law not indexed, …
            raise ToolError(str(exc)) from exc

    @mcp.tool(
        title="조항 검색",
        description="한국어 질문으로 법령 조항과 진료지침 구절을 찾습니다. 각 결과에 인용 표기(label), "
        "조항 id, 본문이 있습니다. law/level/doc_type으로 좁히고, as_of(YYYY-MM-DD)로 그날 시행되던 판을 찾습니다.",
    )
    async def search(
        question: Annotated[str, Field(description="질문 (Korean), e.g. 처방전 대리수령 신청서 보관 기간")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="결과 수")] = 5,
        law: Law = None,
        level: Level = None,
        doc_type: DocType = None,
        as_of: AsOf = None,
    ) -> SearchResult:
        text = redact(question, patterns).text

        def work() -> SearchResult:
            filters = SearchFilters(law=law, level=level, doc_type=doc_type, as_of=as_of)
            found = search_details(searcher(), text, k=k, filters=filters)
            audit("search", question=text, hits=[h.clause.clause_id for h in found.hits])
            return SearchResult(
                query=text,
                clauses=[ClauseResult.of(h.clause, h.score) for h in found.hits],
                notes=found.notes,
            )

        return await run(work)

    @mcp.tool(
        name="get_clause",
        title="조문 조회",
        description="조항 하나를 id(s-001788-a22-p2) 또는 인용(「의료법」 제22조제2항, 약사법 시행규칙 제15조)으로 "
        "가져옵니다. 조만 쓰면 그 조의 모든 항을 돌려줍니다. 없는 조항이면 그렇게 알려 줍니다.",
    )
    async def get_clause_tool(
        ref_or_id: Annotated[str, Field(description="조항 id 또는 인용, e.g. 의료법 제22조제2항")],
        as_of: Annotated[date | None, Field(description="이 날 시행되던 판의 조문")] = None,
    ) -> ClauseLookup:
        def work() -> ClauseLookup:
            s = searcher()
            if _CLAUSE_ID.match(ref_or_id.strip()):
                clause = get_clause(s, ref_or_id.strip(), as_of=as_of)
                return ClauseLookup(reference=ref_or_id.strip(), clauses=[ClauseResult.of(clause)])
            found = lookup(s, redact(ref_or_id, patterns).text, as_of=as_of)
            return ClauseLookup(
                reference=", ".join(r.reference.label for r in found),
                clauses=[ClauseResult.of(c) for r in found for c in r.clauses],
            )

        return await run(work)

    @mcp.tool(
        title="근거 있는 답변",
        description="질문에 한국어로 답합니다. 모든 문장 끝의 [n]은 citations의 조항이며, 조항 본문으로 검증된 "
        "문장만 남습니다. 근거가 없으면 abstained=true와 참고 조항(references)을 돌려줍니다.",
    )
    async def ask(
        question: Annotated[str, Field(description="질문 (Korean)")],
        law: Law = None,
        level: Level = None,
        doc_type: DocType = None,
        as_of: AsOf = None,
    ) -> AnswerResult:
        def work() -> AnswerResult:
            a = answerer()
            filters = SearchFilters(law=law, level=level, doc_type=doc_type, as_of=as_of)
            result = answer(a, question, filters=filters)
            audit(
                "ask",
                question=result.question,
                abstained=result.abstained,
                cited=[c.clause_id for c in result.citations],
                latency_ms=result.timings_ms.get("total"),
            )
            return AnswerResult.of(result, a.searcher, as_of)

        return await run(work)

    @mcp.tool(
        title="법령 인용 확인",
        description="글(EMR 초안, 환자 안내문, LLM의 답) 속의 「법령」 제N조제M항 인용마다: 그 날 시행되는 판에 "
        "있는지, 법령이 색인에 있는지, 조문이 무엇인지, 문장이 조문과 맞는지(mismatch, superseded)를 알려 줍니다. "
        "verdict가 ok가 아닌 인용은 고쳐야 합니다.",
    )
    async def verify_citations(
        text: Annotated[str, Field(description="확인할 한국어 글")],
        as_of: Annotated[date | None, Field(description="이 날 시행되는 판으로 확인 (기본: 오늘)")] = None,
    ) -> CitationReport:
        clean = redact(text, patterns).text

        def work() -> CitationReport:
            report = check_citations(searcher(), clean, settings.answer, as_of=as_of)
            audit("verify_citations", verdicts=[(c.label, c.verdict) for c in report.citations])
            return report

        return await run(work)

    @mcp.resource(
        "kmed://clause/{clause_id}",
        name="clause",
        title="조항",
        description="현재 시행 중인 판의 조항 하나: 인용 표기와 본문",
        mime_type="text/plain",
    )
    async def clause_resource(clause_id: str) -> str:
        clause = await run(lambda: get_clause(searcher(), clause_id))
        return f"{clause.label}\n\n{clause.text}"

    return mcp

"""HTTP routes: each takes typed parameters, calls one retrieval function, returns a schema."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from retrieval.citecheck import CitationReport, verify_citations
from retrieval.errors import IndexUnavailable
from retrieval.models import SearchFilters
from retrieval.redact import redact
from retrieval.search import MAX_K, Searcher, get_clause, lookup, search_details
from service import auth
from service.audit import audit
from service.errors import responses
from service.schemas import (
    ClauseDetail,
    Health,
    HitOut,
    LookupOut,
    LookupResponse,
    Readiness,
    SearchResponse,
)

router = APIRouter()
ERRORS = responses(401, 403, 404, 422, 429, 503)
READ = [Depends(auth.read)]


def get_searcher(request: Request) -> Searcher:
    return request.app.state.holder.get()  # type: ignore[no-any-return]


SearcherDep = Annotated[Searcher, Depends(get_searcher)]


@router.get("/v1/search", response_model=SearchResponse, responses=ERRORS, tags=["search"], dependencies=READ)
def search_clauses(
    request: Request,
    searcher: SearcherDep,
    q: Annotated[
        str, Query(description="질문 (Korean question).", examples=["처방전 대리수령 신청서 보관 기간"])
    ],
    k: Annotated[int, Query(ge=1, le=MAX_K, description="Number of clauses.")] = 5,
    mode: Annotated[Literal["hybrid", "dense", "sparse"], Query(description="Retrieval mode.")] = "hybrid",
    law: Annotated[str | None, Query(description="Parent Act or law title.", examples=["의료법"])] = None,
    level: Annotated[
        str | None, Query(description="법률, 시행령 or 시행규칙.", examples=["시행규칙"])
    ] = None,
    doc_type: Annotated[Literal["statute", "guideline"] | None, Query(description="Document type.")] = None,
    as_of: Annotated[
        date | None,
        Query(description="Search the versions in force on this date instead of the current ones."),
    ] = None,
) -> SearchResponse:
    """조항 검색: the k best statute clauses or guideline chunks for a Korean question, each cited.

    Hybrid results are reordered by the rerank stage (`reranker` says which one); a question
    that names a clause (`의료법 제22조제2항에 따르면…`) has it among the candidates, first when
    the question is only the reference, and a 404 when the law has no such clause. Personal
    identifiers are redacted from the question before it is searched or returned."""
    started = time.perf_counter()
    redaction = redact(q, request.app.state.settings.answer.patient_number_patterns)
    result = search_details(
        searcher,
        redaction.text,
        k=k,
        mode=mode,
        filters=SearchFilters(law=law, level=level, doc_type=doc_type, as_of=as_of),
    )
    took_ms = (time.perf_counter() - started) * 1000
    audit(
        request,
        "search",
        question=redaction.text,
        hits=[h.clause.clause_id for h in result.hits],
        latency_ms=round(took_ms, 1),
    )
    return SearchResponse(
        query=redaction.text,
        redacted=dict(redaction.found),
        notes=result.notes,
        mode=mode,
        k=k,
        reranker=result.reranker,
        references=[r.label for r in result.references],
        hits=[HitOut.of(h) for h in result.hits],
        took_ms=took_ms,
    )


@router.get(
    "/v1/clauses/lookup", response_model=LookupResponse, responses=ERRORS, tags=["search"], dependencies=READ
)
def lookup_clause(
    searcher: SearcherDep,
    ref: Annotated[
        str,
        Query(
            description="조문 인용: 의료법 제22조제2항, 「약사법」 시행규칙 제15조, 응급의료법 제2조.",
            examples=["의료법 제22조제2항"],
        ),
    ],
    as_of: Annotated[
        date | None, Query(description="The clause as in force on this date (default: current).")
    ] = None,
) -> LookupResponse:
    """조문 조회: the clause a citation names (every 항 of a named article), with the named 호/목;
    404 with 「…에는 제N조가 없습니다」 when the indexed law has no such clause."""
    found = lookup(searcher, ref, as_of=as_of)
    return LookupResponse(ref=ref, found=[LookupOut.of(r) for r in found])


@router.get(
    "/v1/clauses/{clause_id}",
    response_model=ClauseDetail,
    responses=ERRORS,
    tags=["search"],
    dependencies=READ,
)
def read_clause(
    searcher: SearcherDep,
    clause_id: Annotated[
        str, Path(description="Clause id from a search hit.", examples=["s-007863-a11-2-p2"])
    ],
    as_of: Annotated[
        date | None, Query(description="The clause as it read on this date (default: current).")
    ] = None,
) -> ClauseDetail:
    """조항 조회: one clause with its items, amendment notes and resolved cross-references."""
    return ClauseDetail.of(get_clause(searcher, clause_id, as_of=as_of))


class VerifyRequest(BaseModel):
    text: str = Field(
        description="Korean text with statute citations: a draft EMR note, a reply to a patient, "
        "an LLM's answer.",
        examples=["진료기록부는 10년간 보존하여야 한다(의료법 시행규칙 제15조제1항)."],
    )
    as_of: date | None = Field(default=None, description="Check against the versions in force on this date.")


@router.post(
    "/v1/citations/verify",
    response_model=CitationReport,
    responses=ERRORS,
    tags=["search"],
    dependencies=READ,
)
def verify_text(request: Request, searcher: SearcherDep, body: VerifyRequest) -> CitationReport:
    """인용 확인: for each 「law」 제N조제M항 reference in the text, whether the clause exists in the
    version in force, whether the law is indexed, what the clause says, and whether the sentence
    around it matches (ok, mismatch, superseded, not_in_force, missing_clause, version_not_indexed,
    law_not_indexed). Identifiers are redacted before the text is read."""
    text = redact(body.text, request.app.state.settings.answer.patient_number_patterns).text
    report = verify_citations(searcher, text, request.app.state.settings.answer, as_of=body.as_of)
    audit(request, "verify_citations", verdicts=[(c.label, c.verdict) for c in report.citations])
    return report


@router.get("/healthz", response_model=Health, tags=["ops"])
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}}, tags=["ops"])
def readyz(request: Request) -> Readiness | JSONResponse:
    """Readiness: the index is open and holds clauses."""
    try:
        searcher = request.app.state.holder.get()
        points = searcher.index.count()
    except IndexUnavailable as exc:
        body = Readiness(status="unavailable", points=0, backend="", detail=str(exc))
        return JSONResponse(status_code=503, content=body.model_dump())
    if points == 0:
        body = Readiness(status="empty", points=0, backend=searcher.index.backend, detail="run `kmed ingest`")
        return JSONResponse(status_code=503, content=body.model_dump())
    return Readiness(status="ready", points=points, backend=searcher.index.backend)

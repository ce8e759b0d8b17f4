"""Public request/response schemas of the HTTP API (separate from the internal models)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Self

from pydantic import BaseModel, Field

from retrieval.citations import clause_url
from retrieval.lookup import Resolved
from retrieval.models import Box, Clause, Hit, Item, Recommendation, Reference


class ClauseOut(BaseModel):
    clause_id: str = Field(description="Stable clause id.", examples=["s-007863-a11-2-p2"])
    label: str = Field(description="Citation label.", examples=["의료법 시행규칙 제11조의2제2항"])
    law: str = Field(examples=["의료법 시행규칙"])
    act: str = Field(description="Parent Act.", examples=["의료법"])
    level: str = Field(examples=["시행규칙"])
    article: str = Field(examples=["제11조의2"])
    article_title: str = Field(examples=["처방전 대리수령 신청서의 보관"])
    paragraph: str | None = Field(examples=["제2항"])
    headings: list[str] = Field(examples=[["제2장 의료인"]])
    text: str = Field(
        examples=["의사, 치과의사 또는 한의사는 제1항에 따라 제출받은 처방전 대리수령 신청서를 …"]
    )
    items: list[Item]
    doc_type: str
    doc_id: str
    effective: date | None = Field(description="시행일자.")
    promulgated: date | None = Field(description="공포일자.")
    supplementary: bool = Field(description="True for 부칙.")
    kind: str = Field(
        description="clause (statute), or a guideline's text / recommendation / table / figure."
    )
    version: str | None = Field(description="Edition of a guideline, e.g. '2017'.", examples=[None])
    issuer: str | None = Field(description="Issuing body of a guideline.", examples=[None])
    page_start: int | None = Field(description="First page of a guideline chunk (1-based physical index).")
    page_end: int | None = Field(description="Last page of a guideline chunk.")
    recommendation: Recommendation | None = Field(description="Grade and evidence level of a recommendation.")
    ocr: bool = Field(description="True when the text was read by OCR: check it against the page.")
    version_key: str = Field(description="The document version the clause comes from.")
    url: str | None = Field(description="The article on law.go.kr (statutes).")

    @classmethod
    def of(cls, clause: Clause) -> Self:
        url = clause_url(clause.doc_type, clause.level, clause.law, clause.article)
        return cls(**clause.model_dump(include=set(cls.model_fields) - {"url"}), url=url)


class ClauseDetail(ClauseOut):
    notes: list[str] = Field(
        description="Amendment notes removed from the text.", examples=[["<개정 2016.10.6>"]]
    )
    references: list[Reference] = Field(description="Cross-references, resolved to clause ids where indexed.")
    boxes: list[Box] = Field(description="Where a guideline chunk's text lies on its pages (PDF points).")
    source: str


class HitOut(BaseModel):
    rank: int = Field(examples=[1])
    score: float = Field(
        description="Score of the stage that ordered the hits: the reranker's (see `reranker`), else the "
        "fused (RRF or DBSF) or the single mode's score.",
        examples=[0.032],
    )
    clause: ClauseOut

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        return cls(rank=hit.rank, score=hit.score, clause=ClauseOut.of(hit.clause))


class SearchResponse(BaseModel):
    query: str = Field(
        description="The question as searched, personal identifiers redacted.",
        examples=["처방전 대리수령 신청서는 얼마나 보관해야 하나요?"],
    )
    redacted: dict[str, int] = Field(
        default_factory=dict, description="Identifiers removed from the question, by kind.", examples=[{}]
    )
    notes: list[str] = Field(
        default_factory=list,
        description="What was not read as asked, e.g. only part of a very long question was embedded.",
        examples=[[]],
    )
    mode: str = Field(examples=["hybrid"])
    k: int = Field(examples=[5])
    reranker: str = Field(
        description="The stage that ordered the hits: learned, cross-encoder:…, http:…, llm:…, or none "
        "(dense and sparse modes are never reranked; 'none (… failed)' when a reranker was down).",
        examples=["learned"],
    )
    references: list[str] = Field(
        default_factory=list,
        description="Clauses the question names, as resolved (e.g. '의료법 제22조제2항').",
        examples=[[]],
    )
    hits: list[HitOut] = Field(description="Best clauses first; empty when nothing matched.")
    took_ms: float = Field(examples=[35.2])


class LookupOut(BaseModel):
    reference: str = Field(description="The citation as resolved.", examples=["의료법 제22조제2항"])
    item: str | None = Field(description="The 호 it names, if any.", examples=[None])
    subitem: str | None = Field(description="The 목 it names, if any.", examples=[None])
    clauses: list[ClauseDetail] = Field(description="The named 항, or every 항 of a named article.")

    @classmethod
    def of(cls, resolved: Resolved) -> LookupOut:
        ref = resolved.reference
        return cls(
            reference=ref.label,
            item=ref.item,
            subitem=ref.subitem,
            clauses=[ClauseDetail.of(c) for c in resolved.clauses],
        )


class LookupResponse(BaseModel):
    ref: str = Field(examples=["의료법 제22조제2항"])
    found: list[LookupOut]


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    points: int = Field(description="Clauses in the index.", examples=[14007])
    backend: str = Field(examples=["edge"])
    detail: str = Field(default="", description="Why the service is not ready.")


class VersionOut(BaseModel):
    key: str = Field(description="Version key carried by the version's clauses.")
    label: str | None = Field(description="Edition as named.", examples=["공포 2026-04-07"])
    status: str = Field(description="current, superseded or upcoming.", examples=["current"])
    valid_from: date | None = Field(description="Date it takes effect (시행일자).")
    valid_to: date | None = Field(description="Day the next version takes effect, if any.")
    promulgated: date | None
    mst: str | None = Field(description="law.go.kr 법령MST of a statute version.")
    units: int = Field(description="Clauses or chunks indexed.")
    pages: int | None
    ocr_pages: int
    source: str = Field(description="File name it was read from.")
    sha256: str
    ingested_at: datetime


class DocumentOut(BaseModel):
    doc_id: str = Field(examples=["law-001788"])
    doc_type: str = Field(examples=["statute"])
    title: str = Field(examples=["의료법"])
    level: str = Field(examples=["법률"])
    issuer: str | None
    current: str | None = Field(description="Label of the version searched by default.")
    versions: int = Field(description="Versions held (current, superseded, upcoming).")


class DocumentDetail(BaseModel):
    doc_id: str
    doc_type: str
    title: str
    level: str
    issuer: str | None
    current: str | None
    versions: list[VersionOut]


class RemovedOut(BaseModel):
    doc_id: str
    removed: int = Field(description="Clauses or chunks deleted, all versions.")

"""Public request/response schemas of the HTTP API (separate from the internal models)."""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import BaseModel, Field

from retrieval.citations import law_go_kr_url
from retrieval.models import Clause, Hit, Item, Reference


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
    url: str = Field(description="The article on law.go.kr.")

    @classmethod
    def of(cls, clause: Clause) -> Self:
        return cls(
            **clause.model_dump(include=set(cls.model_fields) - {"url"}),
            url=law_go_kr_url(clause.law, clause.article),
        )


class ClauseDetail(ClauseOut):
    notes: list[str] = Field(
        description="Amendment notes removed from the text.", examples=[["<개정 2016.10.6>"]]
    )
    references: list[Reference] = Field(description="Cross-references, resolved to clause ids where indexed.")
    source: str


class HitOut(BaseModel):
    rank: int = Field(examples=[1])
    score: float = Field(
        description="Fused score (RRF or DBSF) or the single mode's score.", examples=[0.032]
    )
    clause: ClauseOut

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        return cls(rank=hit.rank, score=hit.score, clause=ClauseOut.of(hit.clause))


class SearchResponse(BaseModel):
    query: str = Field(examples=["처방전 대리수령 신청서는 얼마나 보관해야 하나요?"])
    mode: str = Field(examples=["hybrid"])
    k: int = Field(examples=[5])
    hits: list[HitOut] = Field(description="Best clauses first; empty when nothing matched.")
    took_ms: float = Field(examples=[35.2])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    points: int = Field(description="Clauses in the index.", examples=[14007])
    backend: str = Field(examples=["edge"])
    detail: str = Field(default="", description="Why the service is not ready.")


class ErrorOut(BaseModel):
    detail: str = Field(examples=["the question is empty: type a question in Korean"])

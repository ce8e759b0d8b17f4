"""The shared vocabulary: what ingestion writes and what search returns.

A `Clause` is one retrieval unit: one 항 of a statute article, or the whole 조 when the
article has no numbered 항; for a guideline, one chunk of a section (a few paragraphs), one
recommendation, or one table. Guideline chunks reuse the statute fields where they mean the
same thing (`law` is the document title, `headings` the section path, `article` the section
number) and add pages and boxes. `ingest` builds clauses, `retrieval` indexes and returns them
as `Hit`s, `service` serialises them. Nothing here knows about Qdrant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DocType = Literal["statute", "guideline"]
ChunkKind = Literal["clause", "text", "recommendation", "table", "figure"]
SearchMode = Literal["hybrid", "dense", "sparse"]


class Item(BaseModel):
    """A 호 (numbered item) inside a clause, with its 목 kept in its text."""

    model_config = ConfigDict(frozen=True)

    number: str = Field(description="호 label as cited, e.g. '제3호' or '제3호의2'.")
    text: str = Field(description="Item text including its 목 lines (가. 나. ...), amendment notes removed.")


class Reference(BaseModel):
    """A cross-reference found in a clause's text, e.g. '같은 법 시행규칙 제15조제1항'."""

    model_config = ConfigDict(frozen=True)

    raw: str = Field(description="The reference as written in the clause.")
    law: str = Field(description="Full title of the law referred to (resolved from 법/영/규칙/「…」).")
    article: str = Field(description="Article label, e.g. '제22조의2'.")
    paragraph: str | None = Field(default=None, description="Paragraph label, e.g. '제2항'.")
    item: str | None = Field(default=None, description="Item label, e.g. '제3호'.")
    target_id: str | None = Field(
        default=None, description="Clause id of the target when it is in the index."
    )


class Box(BaseModel):
    """Where a chunk's text lies on a page, in PDF points (origin top-left), for highlighting."""

    model_config = ConfigDict(frozen=True)

    page: int = Field(description="1-based physical page index.")
    x0: float
    y0: float
    x1: float
    y1: float


class Recommendation(BaseModel):
    """A guideline recommendation's grading, as printed (권고 3, 권고등급 A, 근거수준 II)."""

    model_config = ConfigDict(frozen=True)

    number: str | None = Field(default=None, description="권고 number, e.g. '3' or '2.1'.")
    strength: str | None = Field(default=None, description="Strength/grade, e.g. 'A' or '강함'.")
    evidence: str | None = Field(default=None, description="Level of evidence, e.g. 'I' or 'III'.")


class Clause(BaseModel):
    """One citable, searchable unit of a statute or a guideline."""

    model_config = ConfigDict(frozen=True)

    clause_id: str = Field(
        description="Stable id from (law id or title, level, 조, 조의, 항); same across re-ingestion."
    )
    doc_id: str = Field(description="Stable id of the document (one law at one level).")
    doc_type: DocType = "statute"
    law: str = Field(description="Full title of this law, e.g. '의료법 시행규칙', or of the guideline.")
    act: str = Field(description="Title of the parent Act, e.g. '의료법' (equal to `law` for a 법률).")
    level: str = Field(
        description="법률 / 시행령 / 시행규칙, or 대통령령 / 총리령 / 보건복지부령 for stand-alone rules; "
        "'지침' for a guideline, '공고' / '고시' for a notice."
    )
    article: str = Field(
        description="Article label, e.g. '제11조의2'; a guideline's section number, e.g. 'Ⅱ.3.1'."
    )
    article_title: str = Field(default="", description="Article heading, e.g. '처방전 대리수령'.")
    paragraph: str | None = Field(
        default=None, description="Paragraph label '제2항', or None for a whole-article unit."
    )
    headings: list[str] = Field(
        default_factory=list, description="Enclosing 편/장/절/관 headings, outermost first."
    )
    items: list[Item] = Field(default_factory=list, description="호 of this unit in order.")
    text: str = Field(description="Searchable body (paragraph text with its items), amendment notes removed.")
    notes: list[str] = Field(
        default_factory=list, description="Amendment notes removed from text, e.g. '<개정 2020.3.4>'."
    )
    label: str = Field(
        description="Canonical citation in law.go.kr style, e.g. '의료법 시행규칙 제11조의2제2항'."
    )
    supplementary: bool = Field(
        default=False, description="True for 부칙 clauses (excluded from search by default)."
    )
    references: list[Reference] = Field(
        default_factory=list, description="Cross-references found in the text."
    )
    law_id: str | None = Field(default=None, description="law.go.kr 법령ID when known.")
    mst: str | None = Field(default=None, description="law.go.kr 법령MST (version serial) when known.")
    promulgated: date | None = Field(default=None, description="공포일자.")
    effective: date | None = Field(default=None, description="시행일자.")
    source: str = Field(default="", description="File the clause was read from.")
    kind: ChunkKind = Field(
        default="clause",
        description="clause (statute), or a guideline chunk: text / recommendation / table / figure.",
    )
    issuer: str | None = Field(default=None, description="Issuing body of a guideline, e.g. '질병관리본부'.")
    version: str | None = Field(
        default=None, description="Version as the document names it: a guideline's edition or year."
    )
    page_start: int | None = Field(default=None, description="First page (1-based physical index).")
    page_end: int | None = Field(default=None, description="Last page (1-based physical index).")
    boxes: list[Box] = Field(default_factory=list, description="Where the text lies on its pages.")
    recommendation: Recommendation | None = Field(
        default=None, description="Grading of a recommendation chunk."
    )
    ocr: bool = Field(default=False, description="True when the text was read by OCR (check it).")
    version_key: str = Field(
        default="", description="The document version this unit belongs to (set when indexed)."
    )

    @property
    def unit_header(self) -> str:
        """The line that makes a chunk stand alone: law, level context, article and title."""
        if self.doc_type == "guideline":
            return f"{self.law} {' > '.join(self.headings)}".rstrip()
        title = f"({self.article_title})" if self.article_title else ""
        paragraph = self.paragraph or ""
        return f"{self.law} {self.article}{title} {paragraph}".rstrip()


class SearchFilters(BaseModel):
    """Restrictions applied inside the index, not after it."""

    law: str | None = Field(default=None, description="Parent Act title or full law title, e.g. '의료법'.")
    level: str | None = Field(default=None, description="법률 / 시행령 / 시행규칙.")
    doc_type: DocType | None = Field(default=None, description="statute or guideline.")
    doc_id: str | None = Field(default=None, description="One document only.")
    article: str | None = Field(
        default=None, description="One article only, e.g. '제22조' (with `doc_id`, a clause lookup)."
    )
    as_of: date | None = Field(
        default=None,
        description="Search the versions in force on this date (superseded ones included) instead "
        "of the current ones.",
    )
    include_supplementary: bool = Field(default=False, description="Include 부칙 clauses.")


class Signals(BaseModel):
    """What first-stage retrieval knows about a candidate: the reranker's raw material."""

    fused: float = Field(description="Fused (RRF/DBSF) score; 0 for a clause added by reference lookup.")
    fused_rank: int = Field(description="Rank after fusion, 1-based.")
    legs: dict[str, float] = Field(
        default_factory=dict, description="Exact score on each named vector (dense, sparse, …)."
    )
    named: float = Field(
        default=0.0, description="1: the question names this clause; 0.5: it names its article."
    )
    named_law: bool = Field(default=False, description="The question names this clause's law.")
    named_level: bool = Field(default=False, description="…and the level (시행령/시행규칙) it names.")


class Hit(BaseModel):
    """A clause returned by search, with the score of the stage that ordered it."""

    clause: Clause
    score: float
    rank: int
    signals: Signals | None = Field(default=None, description="First-stage signals (internal).")


def passage_text(clause: Clause) -> str:
    """What is embedded and sparse-encoded for a clause: header, headings, then the body.

    The header (law, article, title, paragraph) makes a lone paragraph stand on its own;
    chapter headings add the topic that the paragraph's words often leave implicit.
    """
    lines = [clause.unit_header]
    if clause.headings and clause.doc_type != "guideline":
        lines.append(" > ".join(clause.headings))
    lines.append(clause.text)
    return "\n".join(lines)


def article_text(clauses: Sequence[Clause]) -> str:
    """The whole article a group of paragraph clauses belongs to: header, headings, every 항."""
    first = clauses[0]
    if first.doc_type == "guideline":
        return "\n".join([first.unit_header, *(c.text for c in clauses)])
    title = f"({first.article_title})" if first.article_title else ""
    lines = [f"{first.law} {first.article}{title}"]
    if first.headings:
        lines.append(" > ".join(first.headings))
    lines += [c.text for c in clauses]
    return "\n".join(lines)


def article_key(clause: Clause) -> str:
    """Clauses of one article share this key (the clause id without its paragraph part);
    the chunks of one guideline section share their section path."""
    if clause.doc_type == "guideline":
        return f"{clause.doc_id}#{' > '.join(clause.headings)}"
    return clause.clause_id.rsplit("-p", 1)[0] if clause.paragraph else clause.clause_id

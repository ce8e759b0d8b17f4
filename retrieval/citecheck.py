"""Checking the statute citations in a Korean text: a draft EMR note, a reply to a patient, an
LLM's answer. The tool agents use to check their own output (`verify_citations`).

Every 「law」 제N조제M항 reference (written any way `retrieval.lookup` reads: short names,
abbreviations, `같은 법 시행규칙`, `22조 2항`) gets one verdict, judged against the version of
the law in force on `as_of` (today by default):

- `ok`: the clause exists in that version and the sentence around the reference shares enough
  with it (content terms, or embedding similarity, with the answer verifier's thresholds);
- `mismatch`: the clause exists, but the sentence says something the clause does not;
- `superseded`: as `mismatch`, and the sentence matches an older or later version of the clause
  instead (it quotes wording no longer, or not yet, in force);
- `not_in_force`: the clause is not in that version but is in another indexed version (added
  later, or deleted: ingestion drops `삭제` units, so a deleted 항 reads as absent);
- `missing_clause`: no indexed version of the law has it (`의료법 제999조`);
- `version_not_indexed`: the law is indexed, but not the version in force on that day;
- `law_not_indexed`: the index does not hold that law, so nothing can be said.

Only `ok` means the citation holds; a reader (or an agent) should fix every other one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from retrieval.lookup import (
    MissingClause,
    QuestionReference,
    article_clauses,
    bare,
    find_references,
    normalise_question,
    particle,
    pick_clauses,
)
from retrieval.models import Clause
from retrieval.registry import DocumentRecord
from retrieval.search import Searcher, validate_question
from retrieval.settings import AnswerSettings
from retrieval.verify import Verifier, clause_spans, split_sentences

Verdict = Literal[
    "ok",
    "mismatch",
    "superseded",
    "not_in_force",
    "missing_clause",
    "version_not_indexed",
    "law_not_indexed",
]
_REFERENCE_TEXT = re.compile(
    r"「[^」]*」|(?:같은\s*법\s*(?:시행령|시행규칙)?\s*)?제\d+조(?:의\d+)?(?:제\d+항)?(?:제\d+호(?:의\d+)?)?|§목[가-하]"
)


class VersionSpan(BaseModel):
    """An indexed version of the law, by the dates it is in force."""

    label: str | None = None
    valid_from: date | None = None
    valid_to: date | None = Field(default=None, description="Exclusive; unset while it is the latest.")


class CitationCheck(BaseModel):
    reference: str = Field(description="The reference as read, e.g. 「의료법」 제22조제2항.")
    label: str = Field(description="The clause it names, e.g. 의료법 제22조제2항.")
    sentence: str = Field(description="The sentence of the text around the reference.")
    verdict: Verdict
    message: str = Field(description="The verdict in Korean, for the reader.")
    law_indexed: bool
    exists: bool = Field(description="The clause exists in the version in force on the day checked.")
    checked_on: date = Field(description="The day whose version was checked (as_of, or today).")
    clause_ids: list[str] = Field(default_factory=list, description="The clauses in force it names.")
    text: str = Field(default="", description="What the clause in force says.")
    term_share: float | None = Field(
        default=None, description="Share of the sentence's content terms found in the clause."
    )
    similarity: float | None = Field(
        default=None, description="Best embedding similarity of the sentence to a span of the clause."
    )
    other_versions: list[VersionSpan] = Field(
        default_factory=list, description="Other indexed versions that have the clause."
    )


class CitationReport(BaseModel):
    checked_on: date
    citations: list[CitationCheck]
    all_ok: bool = Field(description="Every reference found holds (true also when none was found).")


def verify_citations(
    searcher: Searcher, text: str, settings: AnswerSettings, *, as_of: date | None = None
) -> CitationReport:
    """Check every statute reference in `text` against the index (see the module docstring).
    The caller redacts identifiers first; the text is only read, never logged or stored."""
    text = validate_question(text, searcher.max_question_chars)
    day = as_of or date.today()
    names = searcher.names()
    normal = normalise_question(text, names)
    sentences = _sentence_spans(normal)
    refs, _ = find_references(text, names, known_only=False)
    records = {bare(r.title): r for r in searcher.registry.records().values() if r.doc_type == "statute"}
    verifier = Verifier(searcher.encoder.tokenizer, searcher.embedder, settings)
    checks = []
    for ref, at in _occurrences(normal, refs):
        sentence = next((s for start, end, s in sentences if start <= at < end), ref.raw)
        check = CitationCheck(
            reference=ref.raw,
            label=ref.label,
            sentence=sentence,
            verdict="law_not_indexed",
            message="",
            law_indexed=False,
            exists=False,
            checked_on=day,
        )
        record = records.get(bare(ref.law))
        checks.append(
            _judge(searcher, verifier, settings, ref, check, record) if record else _no_law(ref, check)
        )
    return CitationReport(checked_on=day, citations=checks, all_ok=all(c.verdict == "ok" for c in checks))


def _occurrences(text: str, refs: Sequence[QuestionReference]) -> list[tuple[QuestionReference, int]]:
    """Every place each reference is written (the extractor lists a reference once), in order."""
    found = []
    for ref in refs:
        at = text.find(ref.raw)
        while at >= 0:
            found.append((ref, at))
            at = text.find(ref.raw, at + len(ref.raw))
    return sorted(found, key=lambda pair: pair[1])


def _sentence_spans(text: str) -> list[tuple[int, int, str]]:
    """Each sentence of `text` with where it starts and ends."""
    spans, cursor = [], 0
    for sentence in split_sentences(text):
        start = text.find(sentence[:8], cursor)
        start = start if start >= 0 else cursor
        end = max(start + len(sentence), start + 1)
        spans.append((start, end, sentence))
        cursor = end
    return spans


def _no_law(ref: QuestionReference, check: CitationCheck) -> CitationCheck:
    law = particle(f"「{ref.law}」", "은", "는")
    return check.model_copy(update={"message": f"{law} 색인에 없어 확인할 수 없습니다"})


def _judge(
    searcher: Searcher,
    verifier: Verifier,
    settings: AnswerSettings,
    ref: QuestionReference,
    check: CitationCheck,
    record: DocumentRecord,
) -> CitationCheck:
    day = check.checked_on
    in_force = record.in_force(day)
    by_version = _clauses_by_version(searcher, record, ref)
    current = by_version.get(in_force.key, []) if in_force else []
    elsewhere = [v for v in record.ordered() if v is not in_force and v.key in by_version]
    others = [
        VersionSpan(label=v.label, valid_from=v.valid_from, valid_to=record.valid_to(v)) for v in elsewhere
    ]
    update: dict[str, object] = {"law_indexed": True, "other_versions": others}
    label, when = particle(ref.label, "은", "는"), f"{day} 시행본"
    if in_force is None:
        spans = ", ".join(_span(o) for o in others) or "없음"
        message = f"{record.title}의 {when}은 색인에 없습니다 (이 조항이 있는 색인된 판: {spans})"
        return check.model_copy(update={**update, "verdict": "version_not_indexed", "message": message})
    if not current:
        if not others:
            named = particle(ref.label.removeprefix(ref.law).strip(), "이", "가")
            message = f"{record.title}의 어느 색인된 판에도 {named} 없습니다"
            return check.model_copy(update={**update, "verdict": "missing_clause", "message": message})
        spans = ", ".join(_span(o) for o in others)
        later = all(o.valid_from and o.valid_from > day for o in others)
        why = "이후에 신설되었습니다" if later else "삭제되었거나 옮겨졌습니다"
        message = f"{label} {when}에는 없습니다({why}). 이 조항이 있는 시행본: {spans}"
        return check.model_copy(update={**update, "verdict": "not_in_force", "message": message})
    update |= {
        "exists": True,
        "clause_ids": [c.clause_id for c in current],
        "text": "\n".join(c.text for c in current),
    }
    claim = " ".join(_REFERENCE_TEXT.sub(" ", check.sentence).split())
    share, similarity = _support(verifier, claim, current)
    update |= {"term_share": round(share, 3), "similarity": round(similarity, 3)}
    if not claim or _supported(settings, share, similarity):
        message = f"{ref.label}: {when}의 조문과 맞습니다"
        return check.model_copy(update={**update, "verdict": "ok", "message": message})
    matching = [
        o
        for o, v in zip(others, elsewhere, strict=True)
        if _supported(settings, *_support(verifier, claim, by_version[v.key]))
    ]
    if matching:
        spans = ", ".join(_span(o) for o in matching)
        message = f"문장은 {ref.label}의 {spans} 시행본과 맞고, {when}과는 다릅니다"
        return check.model_copy(update={**update, "verdict": "superseded", "message": message})
    message = f"{label} 있으나 문장의 내용을 뒷받침하지 않습니다"
    return check.model_copy(update={**update, "verdict": "mismatch", "message": message})


def _supported(settings: AnswerSettings, share: float, similarity: float) -> bool:
    return share >= settings.min_term_support or similarity >= settings.min_similarity_support


def _span(version: VersionSpan) -> str:
    start = str(version.valid_from) if version.valid_from else "처음"
    return f"{start}~{version.valid_to or ''}"


def _clauses_by_version(
    searcher: Searcher, record: DocumentRecord, ref: QuestionReference
) -> dict[str, list[Clause]]:
    """The clauses the reference names, in each indexed version of the law that has them."""
    picked = {}
    for version in record.versions:
        clauses = article_clauses(searcher.index, record, ref.article, [version.key])
        try:
            picked[version.key] = pick_clauses(ref, record, clauses, None)
        except MissingClause:
            continue  # this version lacks the article, or its 항 or 호
    return picked


def _support(verifier: Verifier, claim: str, clauses: Sequence[Clause]) -> tuple[float, float]:
    """Share of the claim's content terms in the clauses, and its best similarity to a span."""
    own = verifier.terms(claim)
    spans = [span for c in clauses for span in clause_spans(c.text)]
    if not own or not spans:
        return 0.0, 0.0
    terms = set().union(*(verifier.terms(span) for span in spans))
    vectors = verifier.embedder.embed(spans, kind="passage")
    query = verifier.embedder.embed([claim], kind="query")[0]
    return len(own & terms) / len(own), float(np.max(vectors @ query))


__all__ = ["CitationCheck", "CitationReport", "VersionSpan", "verify_citations"]

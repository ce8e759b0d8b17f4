"""Grounded answers: retrieve, judge the evidence, generate, verify every citation, or abstain.

    answer_events(question, ...) yields, in order:
      ("retrieval", [Hit])      the clauses found (empty when the question was refused early)
      ("delta", str)            answer text as the generator writes it (tokens or sentences)
      ("answer", Answer)        the verified answer: only sentences that passed, their citations

The question is redacted (`retrieval.redact`) before it is searched, logged or sent anywhere.
Abstention happens at three points: the question names a law the index does not hold; the best
evidence is weak (`min_evidence`); or nothing the generator wrote survives verification.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from retrieval.errors import NotFound
from retrieval.generators import ChatModel, extractive_answer
from retrieval.models import Clause, Hit, SearchFilters, passage_text
from retrieval.prompts import NO_ANSWER, ContextBlock, messages
from retrieval.redact import redact
from retrieval.search import Searcher, get_clause, search, validate_question
from retrieval.settings import AnswerSettings
from retrieval.verify import Verifier

log = logging.getLogger("kmed.answer")
# "식품위생법상 …", "「식품위생법」에 따라": a named law the question is about
_NAMED_LAW = re.compile(r"「([^」]{2,40})」|([가-힣]{2,30}법)(?:상|에서|에\s*따르면|에\s*따라|의\s*규정)")
_DELEGATES = re.compile(r"(대통령령|총리령|부령|보건복지부령)(으로|에서)\s*정(한다|하는|하여)")
# words ending in 법 that are methods, not laws: 치료법, 사용법, 요법…
_NOT_A_LAW = re.compile(
    r"(방|요|용|기|수|어|문|비|편|적|위|불|합|해|치료|사용|처방|진단|검사|측정|계산|산정|투여)법$"
)


class Citation(BaseModel):
    n: int = Field(description="The key sentences cite, [n].")
    clause_id: str
    label: str = Field(
        description="Citation label, e.g. '의료법 시행규칙 제11조의2제2항' or '… §Ⅲ.가, p.47'."
    )
    quote: str = Field(description="The span of the clause that supports the sentences citing it.")
    doc_type: str
    law: str = Field(description="Law or guideline title.")
    article: str = Field(description="Article, or a guideline's section number.")
    paragraph: str | None = None
    page_start: int | None = None
    page_end: int | None = None
    related: bool = Field(default=False, description="Pulled in because a retrieved clause refers to it.")


class AnswerSentence(BaseModel):
    text: str
    citations: list[int] = Field(description="Keys of `citations` this sentence rests on.")


class RemovedSentence(BaseModel):
    text: str
    reason: str


class Answer(BaseModel):
    question: str = Field(description="The question as searched, personal identifiers redacted.")
    answer: str = Field(description="Korean answer; each sentence ends with its [n] keys.")
    sentences: list[AnswerSentence]
    citations: list[Citation]
    grounded: bool = Field(description="True when every sentence passed verification and cites a clause.")
    abstained: bool
    reason: str = Field(default="", description="Why the service abstained, if it did.")
    references: list[Citation] = Field(
        default_factory=list, description="When abstaining: the nearest clauses, as 참고, not as an answer."
    )
    removed: list[RemovedSentence] = Field(default_factory=list, description="What verification removed.")
    retrieval: list[Hit]
    generator: str
    redacted: dict[str, int] = Field(
        default_factory=dict, description="Identifiers removed from the question."
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)


EventKind = Literal["retrieval", "delta", "answer"]


@dataclass(frozen=True)
class Answerer:
    """What answering needs, built once by an entry point."""

    searcher: Searcher
    settings: AnswerSettings
    chat: ChatModel | None = None

    @property
    def generator(self) -> str:
        return self.chat.name if self.chat else "extractive"


def answer(
    answerer: Answerer, question: str, *, filters: SearchFilters | None = None, k: int | None = None
) -> Answer:
    for kind, value in answer_events(answerer, question, filters=filters, k=k):
        if kind == "answer" and isinstance(value, Answer):
            return value
    raise RuntimeError("answer_events ended without an answer")  # a bug, not a user error


def answer_events(
    answerer: Answerer,
    question: str,
    *,
    filters: SearchFilters | None = None,
    k: int | None = None,
    stream: bool = False,
) -> Iterator[tuple[EventKind, object]]:
    started = time.perf_counter()
    settings, searcher = answerer.settings, answerer.searcher
    redaction = redact(question, settings.patient_number_patterns)
    text = validate_question(redaction.text, searcher.max_question_chars)
    if settings.audit_log:
        log.info("question (redacted): %s", text)
    timings: dict[str, float] = {}

    def done(partial: dict[str, object]) -> Answer:
        timings["total"] = (time.perf_counter() - started) * 1000
        return Answer.model_validate(
            {
                "question": text,
                "generator": answerer.generator,
                "redacted": dict(redaction.found),
                "timings_ms": {k: round(v, 1) for k, v in timings.items()},
                **partial,
            }
        )

    hits = search(searcher, text, k=k or settings.k, filters=filters)
    timings["retrieval"] = (time.perf_counter() - started) * 1000
    yield "retrieval", hits
    refusal = _weak_evidence(answerer, text, hits, filters)
    if refusal:
        yield "answer", done(_abstain(refusal, hits, []))
        return
    blocks = _context(answerer, hits, filters)
    t0 = time.perf_counter()
    if answerer.chat is None:
        raw = extractive_answer(text, blocks, searcher.encoder.tokenizer, settings.max_sentences)
        for line in raw.splitlines():
            yield "delta", line + "\n"
    else:
        prompt = messages(text, blocks)
        if stream:
            parts = []
            for delta in answerer.chat.stream(prompt):
                parts.append(delta)
                yield "delta", delta
            raw = "".join(parts)
        else:
            raw = answerer.chat.complete(prompt)
    timings["generation"] = (time.perf_counter() - t0) * 1000
    t1 = time.perf_counter()
    verifier = Verifier(searcher.encoder.tokenizer, searcher.embedder, settings)
    checked = verifier.verify(raw, blocks)
    timings["verification"] = (time.perf_counter() - t1) * 1000
    removed = [RemovedSentence(text=r.text, reason=r.reason) for r in checked.removed]
    if not checked.sentences:
        why = (
            "the sources do not answer this question"
            if checked.declined or not removed
            else ("no generated sentence was supported by the clauses it cited")
        )
        yield "answer", done(_abstain(why, hits, removed))
        return
    by_key = {b.n: b for b in blocks}
    cited = sorted({k for s in checked.sentences for k in s.keys})
    quotes = {k: q for s in checked.sentences for k, q in s.quotes.items()}
    yield (
        "answer",
        done(
            {
                "answer": " ".join(
                    f"{s.text} {''.join(f'[{k}]' for k in s.keys)}" for s in checked.sentences
                ),
                "sentences": [AnswerSentence(text=s.text, citations=s.keys) for s in checked.sentences],
                "citations": [_citation(by_key[k], quotes.get(k, "")) for k in cited],
                "grounded": not removed,
                "abstained": False,
                "removed": removed,
                "retrieval": hits,
            }
        ),
    )


def _abstain(reason: str, hits: list[Hit], removed: list[RemovedSentence]) -> dict[str, object]:
    nearest = [
        _citation(ContextBlock(n, h.clause), h.clause.text.split("\n", 1)[0])
        for n, h in enumerate(hits[:3], start=1)
    ]
    return {
        "answer": f"{NO_ANSWER}.",
        "sentences": [],
        "citations": [],
        "grounded": False,
        "abstained": True,
        "reason": reason,
        "references": nearest,
        "removed": removed,
        "retrieval": hits,
    }


def _citation(block: ContextBlock, quote: str) -> Citation:
    c = block.clause
    return Citation(
        n=block.n,
        clause_id=c.clause_id,
        label=c.label,
        quote=quote,
        doc_type=c.doc_type,
        law=c.law,
        article=c.article,
        paragraph=c.paragraph,
        page_start=c.page_start,
        page_end=c.page_end,
        related=block.related,
    )


def evidence_score(answerer: Answerer, question: str, hits: list[Hit]) -> float:
    """Best question–passage cosine over the hits, plus a little for question terms they share."""
    if not hits:
        return 0.0
    searcher = answerer.searcher
    query = searcher.queries.get(question)
    passages = searcher.embedder.embed([passage_text(h.clause) for h in hits], kind="passage")
    wanted = set(searcher.encoder.tokenizer.analyse(question).morphemes)
    coverage = max(
        len(wanted & set(searcher.encoder.tokenizer.analyse(passage_text(h.clause)).morphemes))
        / max(len(wanted), 1)
        for h in hits
    )
    return float(np.max(passages @ query)) + answerer.settings.coverage_weight * coverage


def _weak_evidence(
    answerer: Answerer, question: str, hits: list[Hit], filters: SearchFilters | None = None
) -> str:
    """Why the evidence cannot carry an answer, or '' when it can."""
    if not hits:
        return "no clause matched the question"
    for bracketed, plain in _NAMED_LAW.findall(question):
        name = (bracketed or plain).replace(" ", "")
        if not bracketed and _NOT_A_LAW.search(name):
            continue
        known = {r.title.replace(" ", "") for r in answerer.searcher.registry.records().values()}
        if not any(name in title for title in known):
            return f"the question is about {bracketed or plain}, which is not in the index"
    score = evidence_score(answerer, question, hits)
    agreed = legs_agree(answerer.searcher, question, hits[0], filters)
    floor = answerer.settings.min_evidence_agreed if agreed else answerer.settings.min_evidence
    if score < floor:
        how = "dense and BM25 agree" if agreed else "dense and BM25 disagree on the best clause"
        return f"the nearest clauses are not close enough (evidence {score:.3f} < {floor}; {how})"
    return ""


def legs_agree(
    searcher: Searcher, question: str, best: Hit, filters: SearchFilters | None = None, depth: int = 3
) -> bool:
    """Do dense and BM25 retrieval, each alone, rank the best fused clause in their top `depth`?
    Two independent retrievers agreeing is evidence the clause is on topic."""
    for mode in ("dense", "sparse"):
        found = search(searcher, question, k=depth, mode=mode, filters=filters)  # type: ignore[arg-type]
        if best.clause.clause_id not in {h.clause.clause_id for h in found}:
            return False
    return True


def _context(answerer: Answerer, hits: list[Hit], filters: SearchFilters | None) -> list[ContextBlock]:
    """The retrieved clauses, then the clauses they delegate to or cite (numbers often live there)."""
    blocks = [ContextBlock(n, h.clause) for n, h in enumerate(hits, start=1)]
    seen = {h.clause.clause_id for h in hits}
    extra: list[Clause] = []
    for hit in hits[:3]:
        for ref in hit.clause.references:
            if len(extra) >= answerer.settings.related:
                break
            if ref.target_id and ref.target_id not in seen:
                seen.add(ref.target_id)
                try:
                    extra.append(
                        get_clause(answerer.searcher, ref.target_id, as_of=filters.as_of if filters else None)
                    )
                except NotFound:  # cited but not indexed (another law, or not in force then)
                    continue
    blocks += [ContextBlock(len(blocks) + i, c, related=True) for i, c in enumerate(extra, start=1)]
    return blocks

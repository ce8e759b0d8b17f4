"""Grounded answers: retrieve, judge the evidence, generate, verify every citation, or abstain.

    answer_events(question, ...) yields, in order:
      Retrieved(hits)    the clauses found (empty when the question was refused early)
      Delta(text)        answer text as the generator writes it (tokens or sentences), any number
      Final(answer)      the verified answer: only sentences that passed, their citations

The question is redacted (`retrieval.redact`) before it is searched, logged or sent anywhere.
Abstention happens at four points (`retrieval.answerability`): a rule refuses the question (a
foreign jurisdiction, a law the index does not hold, a clause the indexed law does not have);
it asks for a dose, a fee or a cut-off and no retrieved clause states one; the learned
answerability model puts it below `min_answerable`; or nothing the generator wrote survives
verification. The context follows the reranked order, so the extractive answer and a model
both see the reranker's best clause first.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from retrieval.answerability import AnswerabilityModel, answer_features, refusal, states, value_kinds
from retrieval.errors import NotFound
from retrieval.generators import ChatModel, extractive_answer
from retrieval.lookup import MissingClause
from retrieval.models import Clause, Hit, SearchFilters
from retrieval.prompts import NO_ANSWER, ContextBlock, messages
from retrieval.redact import redact
from retrieval.registry import DocumentRecord
from retrieval.search import Searcher, SearchResult, get_clause, search_details, validate_question
from retrieval.settings import AnswerSettings
from retrieval.verify import Verifier

log = logging.getLogger("kmed.answer")


# where an abstention was decided: a rule (foreign law, a law or clause not indexed, no hit), the
# dose/fee/cut-off rule, the answerability model, or verification of what was generated
AbstainStage = Literal["", "rule", "value", "answerability", "verification"]


class Citation(BaseModel):
    n: int = Field(description="The key sentences cite, [n].")
    clause_id: str
    label: str = Field(
        description="Citation label, e.g. '의료법 시행규칙 제11조의2제2항' or '… §Ⅲ.가, p.47'."
    )
    quote: str = Field(description="The span of the clause that supports the sentences citing it.")
    doc_type: str
    law: str = Field(description="Law or guideline title.")
    level: str = Field(
        default="",
        description="법률, 시행령, 시행규칙, 내규 (a hospital's own rules); empty for a guideline.",
    )
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
    abstain_stage: AbstainStage = Field(
        default="",
        description="Where it abstained: rule (foreign law, a law or clause not indexed), value (a dose, fee "
        "or cut-off that no clause states), answerability (the learned model), verification.",
    )
    references: list[Citation] = Field(
        default_factory=list, description="When abstaining: the nearest clauses, as 참고, not as an answer."
    )
    removed: list[RemovedSentence] = Field(default_factory=list, description="What verification removed.")
    retrieval: list[Hit]
    generator: str
    reranker: str = Field(default="none", description="The rerank stage that ordered the context.")
    answerable: float | None = Field(
        default=None, description="The answerability model's probability that the sources answer it."
    )
    redacted: dict[str, int] = Field(
        default_factory=dict, description="Identifiers removed from the question."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="What was not read as asked, e.g. only part of a very long question was embedded.",
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)


@dataclass(frozen=True)
class Retrieved:
    """The clauses retrieval found, before anything is generated."""

    hits: list[Hit]
    kind: ClassVar[str] = "retrieval"


@dataclass(frozen=True)
class Delta:
    """A piece of unverified answer text, for showing progress; the `Final` answer replaces it."""

    text: str
    kind: ClassVar[str] = "delta"


@dataclass(frozen=True)
class Final:
    """The verified answer (or the abstention); always the last event."""

    answer: Answer
    kind: ClassVar[str] = "answer"


AnswerEvent = Retrieved | Delta | Final


@dataclass(frozen=True)
class Answerer:
    """What answering needs, built once by an entry point."""

    searcher: Searcher
    settings: AnswerSettings
    chat: ChatModel | None = None
    answerability: AnswerabilityModel | None = None  # None: only the rules decide

    @property
    def min_answerable(self) -> float:
        if self.settings.min_answerable is not None:
            return self.settings.min_answerable
        return self.answerability.threshold if self.answerability else 0.0

    @property
    def generator(self) -> str:
        return self.chat.name if self.chat else "extractive"


def answer(
    answerer: Answerer, question: str, *, filters: SearchFilters | None = None, k: int | None = None
) -> Answer:
    for event in answer_events(answerer, question, filters=filters, k=k):
        if isinstance(event, Final):
            return event.answer
    raise RuntimeError("answer_events ended without an answer")  # a bug, not a user error


def answer_events(
    answerer: Answerer,
    question: str,
    *,
    filters: SearchFilters | None = None,
    k: int | None = None,
    stream: bool = False,
) -> Generator[AnswerEvent, None, None]:
    started = time.perf_counter()
    settings, searcher = answerer.settings, answerer.searcher
    redaction = redact(question, settings.patient_number_patterns)
    text = validate_question(redaction.text, searcher.max_question_chars)
    timings: dict[str, float] = {}
    notes: list[str] = []

    def done(partial: dict[str, object]) -> Answer:
        timings["total"] = (time.perf_counter() - started) * 1000
        return Answer.model_validate(
            {
                "question": text,
                "generator": answerer.generator,
                "redacted": dict(redaction.found),
                "timings_ms": {k: round(v, 1) for k, v in timings.items()},
                "notes": notes,
                **partial,
            }
        )

    try:
        result = search_details(searcher, text, k=k or settings.k, filters=filters, legs=True)
    except MissingClause as exc:  # '의료법 제999조': say so instead of answering
        yield Retrieved([])
        yield Final(done(_abstain(str(exc), [], [], stage="rule")))
        return
    hits, notes[:] = result.hits, result.notes
    timings["retrieval"] = (time.perf_counter() - started) * 1000
    yield Retrieved(hits)
    stage, why, probability = gate(answerer, text, result)
    if why:
        yield Final(
            done(_abstain(why, hits, [], stage=stage, reranker=result.reranker, answerable=probability))
        )
        return
    blocks = _context(answerer, hits, filters)
    kinds = value_kinds(text)
    if kinds:  # a dose, a fee or a cut-off is answered only from a clause that states one
        blocks = [b for b in blocks if states(b.clause, kinds, text)]
        if not blocks:
            reason = f"the question asks for a {' or '.join(kinds)} value and no retrieved clause states one"
            abstention = _abstain(
                reason, hits, [], stage="value", reranker=result.reranker, answerable=probability
            )
            yield Final(done(abstention))
            return
    t0 = time.perf_counter()
    if answerer.chat is None:
        raw = extractive_answer(
            text, blocks, searcher.encoder.tokenizer, settings.max_sentences, settings.extractive_clauses
        )
        for line in raw.splitlines():
            yield Delta(line + "\n")
    else:
        prompt = messages(text, blocks)
        if stream:
            parts = []
            for delta in answerer.chat.stream(prompt):
                parts.append(delta)
                yield Delta(delta)
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
        abstention = _abstain(
            why, hits, removed, stage="verification", reranker=result.reranker, answerable=probability
        )
        yield Final(done(abstention))
        return
    by_key = {b.n: b for b in blocks}
    cited = sorted({k for s in checked.sentences for k in s.keys})
    quotes = {k: q for s in checked.sentences for k, q in s.quotes.items()}
    yield Final(
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
                "reranker": result.reranker,
                "answerable": probability,
            }
        ),
    )


def _abstain(
    reason: str,
    hits: list[Hit],
    removed: list[RemovedSentence],
    *,
    stage: AbstainStage,
    reranker: str = "none",
    answerable: float | None = None,
) -> dict[str, object]:
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
        "abstain_stage": stage,
        "references": nearest,
        "removed": removed,
        "retrieval": hits,
        "reranker": reranker,
        "answerable": answerable,
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
        level=c.level,
        article=c.article,
        paragraph=c.paragraph,
        page_start=c.page_start,
        page_end=c.page_end,
        related=block.related,
    )


def guideline_editions(records: Iterable[DocumentRecord]) -> set[str]:
    """The years of the guideline editions indexed (from their labels, dates and titles)."""
    years: set[str] = set()
    for record in records:
        if record.doc_type != "guideline":
            continue
        years |= set(re.findall(r"(?:19|20)\d{2}", record.title))
        for version in record.versions:
            years |= set(re.findall(r"(?:19|20)\d{2}", version.label or ""))
            years |= {str(d.year) for d in (version.valid_from, version.promulgated) if d}
    return years


def gate(answerer: Answerer, question: str, result: SearchResult) -> tuple[AbstainStage, str, float | None]:
    """Where and why the sources cannot answer (or '', ''), and the answerability probability."""
    if not result.hits:
        return "rule", "no clause matched the question", None
    searcher = answerer.searcher
    records = searcher.registry.records().values()
    indexed = {r.title.replace(" ", "") for r in records} | {
        r.title.replace(" ", "").removesuffix("시행령").removesuffix("시행규칙") for r in records
    }
    ruled = refusal(question, names=searcher.names(), indexed=indexed, editions=guideline_editions(records))
    if ruled:
        return "rule", ruled, None
    if result.only_reference or answerer.answerability is None:
        return "", "", None  # the clause asked for by name is the answer
    features = answer_features(question, result.ranked, searcher.encoder.tokenizer)
    probability = answerer.answerability.probability(features)
    floor = answerer.min_answerable
    if probability < floor:
        why = f"the sources do not seem to answer this (answerability {probability:.2f} < {floor:.2f})"
        return "answerability", why, probability
    return "", "", probability


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

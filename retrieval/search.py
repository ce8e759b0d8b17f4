"""Hybrid search: one question, dense and sparse prefetches, fused inside Qdrant, then reranked.

    question ─▶ references it names (retrieval.lookup) ─▶ fused top N (Qdrant) + the named clauses
             ─▶ exact leg scores of those N (one batch) ─▶ rerank(question, hits) ─▶ top k

Every query is restricted to one version per document (the current one, or the one in force
on `as_of`), chosen from the document registry (`retrieval.registry`). A question that is only
a reference (`의료법 제22조제2항`) gets the named clause first whatever the reranker says; one
that names a clause the indexed law does not have raises `MissingClause` instead of searching.
Only hybrid searches are reranked: dense and sparse modes return one leg as it ranks.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.errors import InvalidQuery, NotFound
from retrieval.index import Index, QueryPlan, clause_from_payload
from retrieval.index.schema import CLAUSE_ID, unit_point_id
from retrieval.lookup import (
    LawNames,
    QuestionReference,
    Resolution,
    Resolved,
    find_references,
    particle,
    resolve,
)
from retrieval.models import Clause, Hit, SearchFilters, SearchMode, Signals
from retrieval.redact import without_placeholders
from retrieval.registry import DocumentRecord, load_documents, select_versions
from retrieval.rerank import NoReranker, Reranker, RerankFailed
from retrieval.settings import IndexSettings
from retrieval.sparse import SparseEncoder

log = logging.getLogger(__name__)

MAX_K = 100
TIE_MARGIN = 10  # extra candidates fetched so that ties at the k-th place are all seen


class Registry:
    """The document registry as searches see it: read from the index, kept for `ttl` seconds.

    A server backend's registry can change under a running service (ingestion elsewhere), so
    it is re-read now and then; each query uses one snapshot, hence one version per document.
    """

    def __init__(self, index: Index, ttl: float = 2.0) -> None:
        self.index, self.ttl = index, ttl
        self._lock = threading.Lock()
        self._records: dict[str, DocumentRecord] = {}
        self._read_at = -float("inf")
        self._generation = 0  # counts re-reads: today's versions are kept per snapshot
        self._current: tuple[int, date, tuple[str, ...]] | None = None

    def records(self) -> dict[str, DocumentRecord]:
        return self._snapshot()[1]

    def _snapshot(self) -> tuple[int, dict[str, DocumentRecord]]:
        with self._lock:
            if time.monotonic() - self._read_at > self.ttl:
                self._records, self._read_at = load_documents(self.index), time.monotonic()
                self._generation += 1
            return self._generation, self._records

    def versions(self, as_of: date | None = None) -> tuple[str, ...]:
        generation, records = self._snapshot()
        if as_of is not None:
            return tuple(select_versions(records.values(), as_of))
        today, cached = date.today(), self._current
        if cached is None or cached[0] != generation or cached[1] != today:
            cached = self._current = (generation, today, tuple(select_versions(records.values())))
        return cached[2]

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = -float("inf")


class QueryVectors:
    """The last few question embeddings, in memory only (questions never reach the disk cache):
    one answer searches the same question in three modes and scores its evidence with it."""

    def __init__(self, embedder: Embedder, size: int = 32) -> None:
        self.embedder, self.size = embedder, size
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, question: str) -> np.ndarray:
        with self._lock:
            if question in self._vectors:
                self._vectors.move_to_end(question)
                return self._vectors[question]
        vector = self.embedder.embed([question], kind="query")[0]
        with self._lock:
            self._vectors[question] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector


class LawNamesCache:
    """The law names questions may use, rebuilt only when the registry's titles change."""

    def __init__(self, aliases: Mapping[str, Sequence[str]]) -> None:
        self.aliases = aliases
        self._lock = threading.Lock()
        self._key: frozenset[str] | None = None
        self._names = LawNames((), aliases)

    def get(self, records: Mapping[str, DocumentRecord]) -> LawNames:
        titles = frozenset(_act_title(r) for r in records.values() if r.doc_type == "statute")
        with self._lock:
            if titles != self._key:
                self._names, self._key = LawNames(titles, self.aliases), titles
            return self._names


def _act_title(record: DocumentRecord) -> str:
    return re.sub(r"\s*시행(?:령|규칙)$", "", record.title)


@dataclass(frozen=True)
class Searcher:
    """The heavy objects a search needs, built once by an entry point and shared."""

    index: Index
    embedder: Embedder
    encoder: SparseEncoder
    settings: IndexSettings
    max_question_chars: int = 2000
    dense_window_chars: int = 300
    reranker: Reranker = field(default_factory=NoReranker)
    rerank_depth: int = 40
    law_aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    registry: Registry = field(init=False)
    queries: QueryVectors = field(init=False)
    law_names: LawNamesCache = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "registry", Registry(self.index))
        object.__setattr__(self, "queries", QueryVectors(self.embedder))
        object.__setattr__(self, "law_names", LawNamesCache(self.law_aliases))

    def names(self) -> LawNames:
        return self.law_names.get(self.registry.records())


@dataclass(frozen=True)
class SearchResult:
    """Hits and how they were found: the stage that ordered them, the references resolved."""

    hits: list[Hit]
    reranker: str
    ranked: list[Hit] = field(default_factory=list)  # every candidate, in the final order
    references: list[QuestionReference] = field(default_factory=list)
    only_reference: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the search did not read as asked


_SURROGATE = re.compile("[\ud800-\udfff]")


def validate_question(question: str, max_chars: int) -> str:
    text = question.strip()
    if not text:
        raise InvalidQuery("the question is empty: type a question in Korean, e.g. '진료기록부 보존 기간은?'")
    if len(text) > max_chars:
        raise InvalidQuery(
            f"the question has {len(text)} characters; the limit is {max_chars}. "
            "Ask about one point at a time."
        )
    bad = _SURROGATE.search(text)
    if bad:  # JSON may escape half of a UTF-16 pair ("\ud800"); no text encoding can carry it
        raise InvalidQuery(
            f"the question has an unpaired UTF-16 surrogate at character {bad.start() + 1}, which is not "
            "text: send the question as UTF-8 (a copy-paste from another program may have cut a character)"
        )
    return text


def dense_window(question: str, chars: int) -> str:
    """What the embedder reads of a long question: its first and last `chars / 2` characters.

    An embedding's cost grows with the question's length (2,000 characters: 3.6 s on 2 cores),
    and a long question is mostly pasted context before the question itself; BM25 still reads
    every word."""
    if len(question) <= chars:
        return question
    half = chars // 2
    return f"{question[:half]} … {question[-half:]}"


def window_note(question: str, chars: int) -> str:
    if len(question) <= chars:
        return ""
    return (
        f"the question has {len(question)} characters: dense retrieval read its first and last "
        f"{chars // 2}; keyword retrieval read all of it"
    )


def plan_query(
    searcher: Searcher,
    question: str,
    *,
    k: int,
    mode: SearchMode,
    filters: SearchFilters,
    versions: tuple[str, ...] | None = None,
) -> QueryPlan:
    settings = searcher.settings
    window = dense_window(question, searcher.dense_window_chars)
    dense = searcher.queries.get(window).tolist() if mode != "sparse" else None
    terms = searcher.encoder.encode_question(question) if mode != "dense" else None
    return QueryPlan(
        mode=mode,
        limit=k,
        filters=filters,
        dense=dense,
        sparse=terms.sparse if terms else None,
        morph=terms.morph if terms else None,
        morph_weight=settings.morph_weight,
        fusion=settings.fusion,
        rrf_k=settings.rrf_k,
        weights=(settings.dense_weight, settings.sparse_weight),
        article_weights=(settings.dense_article_weight, settings.sparse_article_weight)
        if settings.article_context
        else None,
        prefetch=max(settings.prefetch, k),
        versions=versions if versions is not None else searcher.registry.versions(filters.as_of),
    )


def search(
    searcher: Searcher,
    question: str,
    *,
    k: int = 10,
    mode: SearchMode = "hybrid",
    filters: SearchFilters | None = None,
    rerank: bool = True,
) -> list[Hit]:
    """The k best clauses for a question; no evidence is an empty list, not an error."""
    return search_details(searcher, question, k=k, mode=mode, filters=filters, rerank=rerank).hits


def search_details(
    searcher: Searcher,
    question: str,
    *,
    k: int = 10,
    mode: SearchMode = "hybrid",
    filters: SearchFilters | None = None,
    rerank: bool = True,
    legs: bool | None = None,
) -> SearchResult:
    """`search`, with the reranker that ordered the hits and the clause references resolved.

    `legs` scores every candidate on every vector (default: when reranking); answering needs
    those scores whatever the reranker, and then looks at the whole candidate list too.
    """
    started = time.perf_counter()
    if not 1 <= k <= MAX_K:
        raise InvalidQuery(f"k must be between 1 and {MAX_K}, got {k}")
    reranker = searcher.reranker if rerank and mode == "hybrid" else NoReranker()
    reranking = not isinstance(reranker, NoReranker)
    scoring = reranking if legs is None else legs
    depth = max(k, searcher.rerank_depth) if (reranking or scoring) else k
    found = candidates(searcher, question, depth=depth, mode=mode, filters=filters, legs=scoring)
    hits, name = found.hits, reranker.name
    timings = {"retrieval": (time.perf_counter() - started) * 1000}
    if reranking and hits:
        t0 = time.perf_counter()
        try:
            hits = reranker.rerank(found.question, hits)
        except RerankFailed as exc:
            log.warning("reranking failed, fused order kept: %s", exc)
            name = f"none ({reranker.name} failed)"
        timings["rerank"] = (time.perf_counter() - t0) * 1000
    if found.resolution.only_reference:
        hits = _named_first(hits, found.resolution)
    ranked = [h.model_copy(update={"rank": rank}) for rank, h in enumerate(hits, start=1)]
    return SearchResult(
        hits=ranked[:k],
        reranker=name,
        ranked=ranked,
        references=[r.reference for r in found.resolution.references],
        only_reference=found.resolution.only_reference,
        timings_ms=timings,
        notes=[n for n in [window_note(found.question, searcher.dense_window_chars)] if n],
    )


@dataclass(frozen=True)
class Candidates:
    """What the first stage hands a reranker: the question as searched, the candidates (with
    their signals), and the clauses the question names."""

    question: str
    hits: list[Hit]
    resolution: Resolution


def candidates(
    searcher: Searcher,
    question: str,
    *,
    depth: int,
    mode: SearchMode = "hybrid",
    filters: SearchFilters | None = None,
    legs: bool = True,
) -> Candidates:
    """The fused top `depth` plus the clauses the question names; with `legs`, each with its
    exact score on every leg (the learned reranker's input, and what `kmed rerank train` reads).
    Redaction placeholders ([전화번호] …) are left out of what is searched."""
    text = validate_question(question, searcher.max_question_chars)
    text = without_placeholders(text) or text
    filters = filters or SearchFilters()
    versions = searcher.registry.versions(filters.as_of)
    resolution = resolve(
        text,
        names=searcher.names(),
        records=searcher.registry.records(),
        versions=versions,
        index=searcher.index,
        as_of=filters.as_of,
    )
    plan = plan_query(searcher, text, k=depth + TIE_MARGIN, mode=mode, filters=filters, versions=versions)
    # Fused scores tie often (ranks 1 and 3 in two legs equal ranks 3 and 1); the engine orders
    # ties arbitrarily from one process to the next, so ties are broken here, by clause id.
    found = sorted(searcher.index.query(plan), key=lambda hit: (-hit.score, hit.payload[CLAUSE_ID]))[:depth]
    hits = [
        Hit(
            clause=clause_from_payload(payload),
            score=score,
            rank=rank,
            signals=Signals(fused=score, fused_rank=rank),
        )
        for rank, (payload, score) in enumerate(found, start=1)
    ]
    hits = _with_named(hits, resolution, filters)
    if legs and hits:
        hits = _scored(searcher, plan, hits)
    return Candidates(text, hits, resolution)


def _passes(clause: Clause, filters: SearchFilters) -> bool:
    """Would the index's filter keep this clause? (for clauses added by reference lookup)"""
    return (
        (not filters.law or filters.law in (clause.act, clause.law))
        and (not filters.level or filters.level == clause.level)
        and (not filters.doc_type or filters.doc_type == clause.doc_type)
        and (not filters.doc_id or filters.doc_id == clause.doc_id)
    )


def _with_named(hits: list[Hit], resolution: Resolution, filters: SearchFilters) -> list[Hit]:
    """The candidates, marked with what the question names, plus the named clauses they lack."""
    if not resolution.references:
        return hits
    exact: set[str] = set()
    articles: set[tuple[str, str]] = set()
    laws: set[str] = set()
    acts: set[str] = set()
    for resolved in resolution.references:
        ref = resolved.reference
        laws.add(ref.law.replace(" ", ""))
        for c in resolved.clauses:
            acts.add(c.act)
            articles.add((c.doc_id, c.article))
            if ref.paragraph or len(resolved.clauses) == 1:
                exact.add(c.clause_id)
    present = {h.clause.clause_id for h in hits}
    added = [
        Hit(clause=c, score=0.0, rank=len(hits) + n, signals=Signals(fused=0.0, fused_rank=len(hits) + n))
        for n, c in enumerate(
            (c for c in _unique(resolution.clauses) if c.clause_id not in present and _passes(c, filters)),
            start=1,
        )
    ]
    marked = []
    for hit in [*hits, *added]:
        c = hit.clause
        named = 1.0 if c.clause_id in exact else 0.5 if (c.doc_id, c.article) in articles else 0.0
        signals = (hit.signals or Signals(fused=hit.score, fused_rank=hit.rank)).model_copy(
            update={"named": named, "named_law": c.act in acts, "named_level": c.law.replace(" ", "") in laws}
        )
        marked.append(hit.model_copy(update={"signals": signals}))
    return marked


def _unique(clauses: Sequence[Clause]) -> list[Clause]:
    return list({c.clause_id: c for c in clauses}.values())


def _named_first(hits: list[Hit], resolution: Resolution) -> list[Hit]:
    """A question that is only a reference: the named clauses first, in the order named."""
    named = [c.clause_id for c in resolution.clauses]
    by_id = {h.clause.clause_id: h for h in hits}
    first = [by_id[cid] for cid in dict.fromkeys(named) if cid in by_id]
    return first + [h for h in hits if h.clause.clause_id not in set(named)]


def _scored(searcher: Searcher, plan: QueryPlan, hits: list[Hit]) -> list[Hit]:
    """The candidates with their exact score on every leg (one batch request)."""
    ids = [unit_point_id(h.clause.clause_id, h.clause.version_key) for h in hits]
    scores = searcher.index.score_points(plan, ids)
    for point, hit in zip(ids, hits, strict=True):  # the first stage's own objects: set in place
        legs = {leg: by_point[point] for leg, by_point in scores.items() if point in by_point}
        if hit.signals is None:
            hit.signals = Signals(fused=hit.score, fused_rank=hit.rank)
        hit.signals.legs = legs
    return hits


def lookup(searcher: Searcher, reference: str, *, as_of: date | None = None) -> list[Resolved]:
    """The clauses a citation names ('의료법 제22조제2항', '약사법 시행규칙 제15조제1항제2호').

    Raises `InvalidQuery` when the text holds no citation, `NotFound` when the law is not
    indexed, `MissingClause` when the law has no such article, 항 or 호.
    """
    text = validate_question(reference, searcher.max_question_chars)
    names = searcher.names()
    found, _ = find_references(text, names, known_only=False)
    if not found:
        raise InvalidQuery(
            f"no clause reference in {text!r}: write it as a statute does, e.g. '의료법 제22조제2항' "
            "or '「약사법」 시행규칙 제15조'"
        )
    resolution = resolve(
        text,
        names=names,
        records=searcher.registry.records(),
        versions=searcher.registry.versions(as_of),
        index=searcher.index,
        as_of=as_of,
    )
    if not resolution.references:
        law = particle(f"「{found[0].law}」", "은", "는")
        raise NotFound(f"{law} 색인에 없습니다 (`kmed documents list` shows what is indexed)")
    return resolution.references


def get_clause(searcher: Searcher, clause_id: str, *, as_of: date | None = None) -> Clause:
    """One clause as it reads in the current version (or the one in force on `as_of`)."""
    versions = searcher.registry.versions(as_of)
    found = next(searcher.index.scroll(versions=versions, clause_ids=[clause_id]), None)
    if found is None:
        when = f" in force on {as_of}" if as_of else ""
        raise NotFound(f"no clause {clause_id!r}{when} in the index")
    return clause_from_payload(found)

"""Hybrid search: one question, dense and sparse prefetches, fused inside Qdrant.

Every query is restricted to one version per document (the current one, or the one in force
on `as_of`), chosen from the document registry (`retrieval.registry`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.errors import InvalidQuery, NotFound
from retrieval.index import Index, QueryPlan, clause_from_payload
from retrieval.models import Clause, Hit, SearchFilters, SearchMode
from retrieval.registry import DocumentRecord, load_documents, select_versions
from retrieval.settings import IndexSettings
from retrieval.sparse import SparseEncoder

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

    def records(self) -> dict[str, DocumentRecord]:
        with self._lock:
            if time.monotonic() - self._read_at > self.ttl:
                self._records, self._read_at = load_documents(self.index), time.monotonic()
            return self._records

    def versions(self, as_of: date | None = None) -> tuple[str, ...]:
        return tuple(select_versions(self.records().values(), as_of))

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


@dataclass(frozen=True)
class Searcher:
    """The heavy objects a search needs, built once by an entry point and shared."""

    index: Index
    embedder: Embedder
    encoder: SparseEncoder
    settings: IndexSettings
    max_question_chars: int = 2000
    registry: Registry = field(init=False)
    queries: QueryVectors = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "registry", Registry(self.index))
        object.__setattr__(self, "queries", QueryVectors(self.embedder))


def validate_question(question: str, max_chars: int) -> str:
    text = question.strip()
    if not text:
        raise InvalidQuery("the question is empty: type a question in Korean, e.g. '진료기록부 보존 기간은?'")
    if len(text) > max_chars:
        raise InvalidQuery(
            f"the question has {len(text)} characters; the limit is {max_chars}. "
            "Ask about one point at a time."
        )
    return text


def plan_query(
    searcher: Searcher, question: str, *, k: int, mode: SearchMode, filters: SearchFilters
) -> QueryPlan:
    settings = searcher.settings
    dense = searcher.queries.get(question).tolist() if mode != "sparse" else None
    sparse = searcher.encoder.encode_query(question) if mode != "dense" else None
    return QueryPlan(
        mode=mode,
        limit=k,
        filters=filters,
        dense=dense,
        sparse=sparse,
        fusion=settings.fusion,
        rrf_k=settings.rrf_k,
        weights=(settings.dense_weight, settings.sparse_weight),
        article_weights=(settings.dense_article_weight, settings.sparse_article_weight)
        if settings.article_context
        else None,
        prefetch=max(settings.prefetch, k),
        versions=searcher.registry.versions(filters.as_of),
    )


def search(
    searcher: Searcher,
    question: str,
    *,
    k: int = 10,
    mode: SearchMode = "hybrid",
    filters: SearchFilters | None = None,
) -> list[Hit]:
    """The k best clauses for a question; no evidence is an empty list, not an error."""
    text = validate_question(question, searcher.max_question_chars)
    if not 1 <= k <= MAX_K:
        raise InvalidQuery(f"k must be between 1 and {MAX_K}, got {k}")
    plan = plan_query(searcher, text, k=k + TIE_MARGIN, mode=mode, filters=filters or SearchFilters())
    # Fused scores tie often (ranks 1 and 3 in two legs equal ranks 3 and 1); the engine orders
    # ties arbitrarily from one process to the next, so ties are broken here, by clause id.
    found = sorted(searcher.index.query(plan), key=lambda hit: (-hit[1], hit[0]["clause_id"]))[:k]
    return [
        Hit(clause=clause_from_payload(payload), score=score, rank=rank)
        for rank, (payload, score) in enumerate(found, start=1)
    ]


def get_clause(searcher: Searcher, clause_id: str, *, as_of: date | None = None) -> Clause:
    """One clause as it reads in the current version (or the one in force on `as_of`)."""
    versions = searcher.registry.versions(as_of)
    found = next(searcher.index.scroll(versions=versions, clause_ids=[clause_id]), None)
    if found is None:
        when = f" in force on {as_of}" if as_of else ""
        raise NotFound(f"no clause {clause_id!r}{when} in the index")
    return clause_from_payload(found)

"""The collection's vocabulary and the engine-neutral query that both backends translate.

Vector names, payload keys and the payload-to-`Clause` round trip live here, so the Edge and
the qdrant-client backends (and ingestion) can never disagree on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from retrieval.citations import point_id
from retrieval.models import Clause, SearchFilters, SearchMode
from retrieval.sparse import SparseVector

DENSE = "dense"
SPARSE = "sparse"
# Article context: every paragraph point also carries its whole article's vectors (the mean
# of the article's paragraph embeddings, and BM25 over the article's full text), so a 항 whose
# own words miss the question is still found through its article.
DENSE_ARTICLE = "dense_article"
SPARSE_ARTICLE = "sparse_article"
DENSE_VECTORS = (DENSE, DENSE_ARTICLE)
SPARSE_VECTORS = (SPARSE, SPARSE_ARTICLE)
SCHEMA_VERSION = 2
# payload keys that filters use; a server gets a payload index on each
KEYWORD_FIELDS = ("clause_id", "doc_id", "doc_type", "act", "law", "level")
BOOL_FIELDS = ("supplementary",)
DATE_FIELDS = ("effective",)


@dataclass(frozen=True)
class IndexPoint:
    id: str
    dense: list[float] | None  # None: the point is found by its sparse vectors only
    sparse: SparseVector
    payload: dict[str, Any]
    dense_article: list[float] | None
    sparse_article: SparseVector


@dataclass(frozen=True)
class QueryPlan:
    """What to ask the engine: which prefetches, how to fuse, which filter, how many."""

    mode: SearchMode
    limit: int
    filters: SearchFilters
    dense: list[float] | None = None
    sparse: SparseVector | None = None
    fusion: Literal["rrf", "dbsf"] = "rrf"
    rrf_k: int = 60
    weights: tuple[float, float] = (1.0, 1.0)  # dense, sparse
    article_weights: tuple[float, float] | None = None  # dense_article, sparse_article; None: unused
    prefetch: int = 50


def clause_payload(clause: Clause, *, content_hash: str) -> dict[str, Any]:
    payload = clause.model_dump(mode="json")
    payload["content_hash"] = content_hash
    payload["schema_version"] = SCHEMA_VERSION
    return payload


def clause_from_payload(payload: dict[str, Any]) -> Clause:
    known = Clause.model_fields
    return Clause.model_validate({k: v for k, v in payload.items() if k in known})


def make_point(
    clause: Clause,
    dense: list[float] | None,
    sparse: SparseVector,
    content_hash: str,
    *,
    dense_article: list[float] | None = None,
    sparse_article: SparseVector | None = None,
) -> IndexPoint:
    """A point; without article vectors the clause stands for its own article."""
    return IndexPoint(
        point_id(clause.clause_id),
        dense,
        sparse,
        clause_payload(clause, content_hash=content_hash),
        dense_article if dense_article is not None else dense,
        sparse_article if sparse_article is not None else sparse,
    )


@dataclass(frozen=True)
class Leg:
    """One prefetch: a query vector against one named vector, with its fusion weight."""

    using: str
    vector: list[float] | SparseVector
    weight: float


def point_vectors(point: IndexPoint) -> dict[str, list[float] | SparseVector]:
    """The point's named vectors, leaving out dense ones it does not have."""
    vectors: dict[str, list[float] | SparseVector | None] = {
        DENSE: point.dense,
        SPARSE: point.sparse,
        DENSE_ARTICLE: point.dense_article,
        SPARSE_ARTICLE: point.sparse_article,
    }
    return {name: v for name, v in vectors.items() if v is not None}


def plan_legs(plan: QueryPlan) -> list[Leg]:
    """The prefetches a plan asks for, in order; an empty sparse query contributes none."""
    legs: list[Leg] = []
    sparse = plan.sparse if plan.sparse is not None and plan.sparse.indices else None
    if plan.mode in ("dense", "hybrid") and plan.dense is not None:
        legs.append(Leg(DENSE, plan.dense, plan.weights[0]))
    if plan.mode in ("sparse", "hybrid") and sparse is not None:
        legs.append(Leg(SPARSE, sparse, plan.weights[1]))
    if plan.mode == "hybrid" and plan.article_weights:
        if plan.dense is not None:
            legs.append(Leg(DENSE_ARTICLE, plan.dense, plan.article_weights[0]))
        if sparse is not None:
            legs.append(Leg(SPARSE_ARTICLE, sparse, plan.article_weights[1]))
    return legs


@dataclass(frozen=True)
class Condition:
    """One engine-neutral filter condition: `keys` (any of them) equal `value`, or `key` ≤ `before`."""

    keys: tuple[str, ...]
    value: str | bool | None = None
    before: str | None = None  # ISO date, inclusive


def filter_conditions(filters: SearchFilters) -> tuple[list[Condition], list[Condition]]:
    """(must, must_not) for a `SearchFilters`; each backend only translates `Condition`s."""
    must: list[Condition] = []
    if filters.law:
        must.append(Condition(("act", "law"), filters.law))  # the Act with all its levels, or one law
    must += [
        Condition((key,), value)
        for key, value in (
            ("level", filters.level),
            ("doc_type", filters.doc_type),
            ("doc_id", filters.doc_id),
        )
        if value
    ]
    if filters.as_of:
        must.append(Condition(("effective",), before=filters.as_of.isoformat()))
    must_not = [] if filters.include_supplementary else [Condition(("supplementary",), True)]
    return must, must_not

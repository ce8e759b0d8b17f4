"""The collection's vocabulary and the engine-neutral query that both backends translate.

Vector names, payload keys and the payload-to-`Clause` round trip live here, so the Edge and
the qdrant-client backends (and ingestion) can never disagree on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from retrieval.citations import point_id
from retrieval.models import Clause, SearchFilters, SearchMode
from retrieval.registry import RECORD, DocumentRecord, record_payload, record_point_id
from retrieval.sparse import SparseVector

DENSE = "dense"
SPARSE = "sparse"
# Article context: every paragraph point also carries its whole article's vectors (the mean
# of the article's paragraph embeddings, and BM25 over the article's full text), so a 항 whose
# own words miss the question is still found through its article.
DENSE_ARTICLE = "dense_article"
SPARSE_ARTICLE = "sparse_article"
# BM25 over Kiwi content morphemes of the unit's own text, beside the bigram BM25 of `sparse`:
# the two miss different questions. A reranker feature, and a fusion leg when weighted.
SPARSE_MORPH = "sparse_morph"
DENSE_VECTORS = (DENSE, DENSE_ARTICLE)
SPARSE_VECTORS = (SPARSE, SPARSE_ARTICLE, SPARSE_MORPH)
SCHEMA_VERSION = 4
# payload keys read outside the payload's own model (`Clause`): named here, once
CLAUSE_ID = "clause_id"
VERSION_KEY = "version_key"
CONTENT_HASH = "content_hash"
RECORD_KEY = "record"
# payload keys that filters use; a server gets a payload index on each
KEYWORD_FIELDS = (
    CLAUSE_ID,
    "doc_id",
    "doc_type",
    "act",
    "law",
    "level",
    "article",
    VERSION_KEY,
    RECORD_KEY,
)
BOOL_FIELDS = ("supplementary",)
# left out of query results (a candidate never needs them; a clause read by id has them): a
# guideline chunk's boxes are most of its payload, and 40 candidates are read per search
QUERY_PAYLOAD_EXCLUDE = ("boxes", "notes")


Payload = dict[str, Any]
"""A point's stored JSON: a clause (`clause_payload`), a registry record or the index meta.
Read its keys through the names above and `clause_from_payload`, not by string literals."""


class ScoredPayload(NamedTuple):
    """One query result: the point's payload and its fused score."""

    payload: Payload
    score: float


@dataclass(frozen=True)
class IndexPoint:
    id: str
    dense: list[float] | None  # None: the point is found by its sparse vectors only
    sparse: SparseVector | None  # None only for registry records, which no query finds
    payload: Payload
    dense_article: list[float] | None
    sparse_article: SparseVector | None
    sparse_morph: SparseVector | None = None


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
    versions: tuple[str, ...] | None = None  # document versions to search (registry); None: all
    morph: SparseVector | None = None  # the question's Kiwi-morpheme terms (`sparse_morph`)
    morph_weight: float = 0.0  # its weight as a fusion leg; 0: scored for reranking only


def clause_payload(clause: Clause, *, content_hash: str) -> Payload:
    payload = clause.model_dump(mode="json")
    payload[CONTENT_HASH] = content_hash
    payload["schema_version"] = SCHEMA_VERSION
    return payload


def clause_from_payload(payload: Payload) -> Clause:
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
    sparse_morph: SparseVector | None = None,
) -> IndexPoint:
    """A point; without article vectors the clause stands for its own article.

    The id joins the clause id and its version, so the versions of a clause are distinct points.
    """
    return IndexPoint(
        unit_point_id(clause.clause_id, clause.version_key),
        dense,
        sparse,
        clause_payload(clause, content_hash=content_hash),
        dense_article if dense_article is not None else dense,
        sparse_article if sparse_article is not None else sparse,
        sparse_morph,
    )


def unit_point_id(clause_id: str, version_key: str) -> str:
    return point_id(f"{clause_id}@{version_key}")


META = "meta"  # the `record` value of the point that says what built the index
META_POINT_ID = "00000000-0000-5000-8000-6b6d65642d6d"  # fixed: one per collection


def meta_point(meta: dict[str, Any]) -> IndexPoint:
    """The index meta (embedder, dimension, term scheme, schema) as a point without vectors, so a
    service on any host reads it from the collection itself."""
    return IndexPoint(META_POINT_ID, None, None, {RECORD_KEY: META, "meta": meta}, None, None)


def record_point(record: DocumentRecord) -> IndexPoint:
    """A registry record: a point without vectors that only scrolls read."""
    return IndexPoint(record_point_id(record.doc_id), None, None, record_payload(record), None, None)


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
        SPARSE_MORPH: point.sparse_morph,
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
    morph = plan.morph if plan.morph is not None and plan.morph.indices else None
    if plan.mode == "hybrid" and plan.morph_weight > 0 and morph is not None:
        legs.append(Leg(SPARSE_MORPH, morph, plan.morph_weight))
    return legs


def scoring_legs(plan: QueryPlan) -> list[Leg]:
    """Every vector a candidate can be scored on, whatever the fusion weights (reranker features)."""
    legs: list[Leg] = []
    if plan.dense is not None:
        legs += [Leg(DENSE, plan.dense, 1.0), Leg(DENSE_ARTICLE, plan.dense, 1.0)]
    if plan.sparse is not None and plan.sparse.indices:
        legs += [Leg(SPARSE, plan.sparse, 1.0), Leg(SPARSE_ARTICLE, plan.sparse, 1.0)]
    if plan.morph is not None and plan.morph.indices:
        legs.append(Leg(SPARSE_MORPH, plan.morph, 1.0))
    return legs


@dataclass(frozen=True)
class Condition:
    """One engine-neutral filter condition: `keys` (any of them) equal `value`, or `key`'s value
    is one of `any_of`."""

    keys: tuple[str, ...]
    value: str | bool | None = None
    any_of: tuple[str, ...] | None = None


Conditions = tuple[list[Condition], list[Condition]]  # must, must_not


def record_conditions() -> Conditions:
    return [Condition((RECORD_KEY,), RECORD)], []


def scroll_conditions(
    filters: SearchFilters | None,
    versions: Sequence[str] | None,
    clause_ids: Sequence[str] | None,
    records: bool,
    citing: str | None = None,
) -> Conditions:
    """What a scroll reads: registry records only, or clause points (see `filter_conditions`),
    optionally only those whose cross-references point at the clause id `citing`."""
    if records:
        return record_conditions()
    must, must_not = filter_conditions(
        filters,
        versions=tuple(versions) if versions is not None else None,
        clause_ids=tuple(clause_ids) if clause_ids is not None else None,
    )
    if citing:
        must.append(Condition(("references[].target_id",), citing))
    return must, must_not


def filter_conditions(
    filters: SearchFilters | None,
    *,
    versions: tuple[str, ...] | None = None,
    clause_ids: tuple[str, ...] | None = None,
) -> Conditions:
    """(must, must_not) over clause points; each backend only translates `Condition`s.

    Registry records and the meta point are always left out; `versions` keeps only those
    document versions.
    """
    must: list[Condition] = []
    must_not = [Condition((RECORD_KEY,), any_of=(RECORD, META))]
    if versions is not None:
        must.append(Condition((VERSION_KEY,), any_of=versions))
    if clause_ids is not None:
        must.append(Condition((CLAUSE_ID,), any_of=clause_ids))
    if filters is None:
        return must, must_not
    if filters.law:
        must.append(Condition(("act", "law"), filters.law))  # the Act with all its levels, or one law
    must += [
        Condition((key,), value)
        for key, value in (
            ("level", filters.level),
            ("doc_type", filters.doc_type),
            ("doc_id", filters.doc_id),
            ("article", filters.article),
        )
        if value
    ]
    if not filters.include_supplementary:
        must_not.append(Condition(("supplementary",), True))
    return must, must_not

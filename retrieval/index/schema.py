"""The collection's vocabulary and the engine-neutral query that both backends translate.

Vector names, payload keys and the payload-to-`Clause` round trip live here, so the Edge and
the qdrant-client backends (and ingestion) can never disagree on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from retrieval.citations import point_id
from retrieval.models import Clause, SearchFilters, SearchMode
from retrieval.sparse import SparseVector

DENSE = "dense"
SPARSE = "sparse"
SCHEMA_VERSION = 1
# payload keys that filters use; a server gets a payload index on each
KEYWORD_FIELDS = ("clause_id", "doc_id", "doc_type", "act", "law", "level")
BOOL_FIELDS = ("supplementary",)
DATE_FIELDS = ("effective",)


@dataclass(frozen=True)
class IndexPoint:
    id: str
    dense: list[float]
    sparse: SparseVector
    payload: dict[str, Any]


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
    prefetch: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


def clause_payload(clause: Clause, *, content_hash: str) -> dict[str, Any]:
    payload = clause.model_dump(mode="json")
    payload["content_hash"] = content_hash
    payload["schema_version"] = SCHEMA_VERSION
    return payload


def clause_from_payload(payload: dict[str, Any]) -> Clause:
    known = Clause.model_fields
    return Clause.model_validate({k: v for k, v in payload.items() if k in known})


def make_point(clause: Clause, dense: list[float], sparse: SparseVector, content_hash: str) -> IndexPoint:
    return IndexPoint(
        point_id(clause.clause_id), dense, sparse, clause_payload(clause, content_hash=content_hash)
    )

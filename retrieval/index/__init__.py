"""The hybrid index: one Qdrant collection, two places it runs, one query model.

`open_index(settings)` returns an `EdgeIndex` (Qdrant Edge, in-process, the default) or a
`ServerIndex` (qdrant-client: a server, a cluster, or local mode) behind the same methods:
upsert, delete, query(QueryPlan), score_points, retrieve, scroll, count, optimize, flush, close.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from retrieval.index.edge import EdgeIndex
from retrieval.index.schema import (
    DENSE,
    SPARSE,
    IndexPoint,
    Payload,
    QueryPlan,
    ScoredPayload,
    clause_from_payload,
    make_point,
)
from retrieval.index.server import ServerIndex
from retrieval.models import SearchFilters
from retrieval.settings import Settings


class Index(Protocol):
    backend: str

    def upsert(self, points: Sequence[IndexPoint]) -> None: ...
    def delete(self, ids: Sequence[str]) -> None: ...
    def query(self, plan: QueryPlan) -> list[ScoredPayload]: ...
    def score_points(self, plan: QueryPlan, ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Exact scores of the given points on every vector the plan can query, by vector name."""
        ...

    def retrieve(self, ids: Sequence[str]) -> list[Payload]: ...
    def scroll(
        self,
        filters: SearchFilters | None = None,
        *,
        versions: Sequence[str] | None = None,
        clause_ids: Sequence[str] | None = None,
        records: bool = False,
        citing: str | None = None,
        batch: int = 512,
    ) -> Iterator[Payload]:
        """Clause points (optionally only some versions, clause ids, or those citing a clause),
        or registry records."""
        ...

    def count(self) -> int: ...
    def optimize(self) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def open_index(settings: Settings, *, dim: int | None = None, create: bool = False) -> Index:
    """The index the settings point at; `create=True` with `dim` makes it when missing."""
    if settings.index.qdrant_url:
        return ServerIndex(settings.index, dim=dim, create=create)
    return EdgeIndex(settings.data_dir / "index" / settings.index.collection, dim=dim, create=create)


__all__ = [
    "DENSE",
    "SPARSE",
    "Payload",
    "ScoredPayload",
    "EdgeIndex",
    "Index",
    "IndexPoint",
    "QueryPlan",
    "ServerIndex",
    "clause_from_payload",
    "make_point",
    "open_index",
]

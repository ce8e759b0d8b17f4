"""The embedded default: a Qdrant Edge shard in the data directory, queried in-process.

Only one process may hold a shard open (its WAL is locked); a second one gets
`IndexUnavailable` with a message that says which process to stop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from retrieval.errors import IndexNotBuilt, IndexUnavailable
from retrieval.index.schema import (
    BOOL_FIELDS,
    DENSE_VECTORS,
    KEYWORD_FIELDS,
    QUERY_PAYLOAD_EXCLUDE,
    SPARSE_VECTORS,
    Condition,
    Conditions,
    IndexPoint,
    Payload,
    QueryPlan,
    ScoredPayload,
    filter_conditions,
    plan_legs,
    point_vectors,
    scoring_legs,
    scroll_conditions,
)
from retrieval.models import SearchFilters
from retrieval.sparse import SparseVector


def _match_bool(value: bool) -> qe.MatchValue:
    """qdrant-edge-py 0.9 reads a Python bool as the integer 1/0 (bool is an int), which never
    matches a bool payload; a numpy bool reaches the engine as a bool."""
    return qe.MatchValue(np.bool_(value))  # type: ignore[arg-type]


def _vector(vector: list[float] | SparseVector) -> Any:
    return qe.SparseVector(vector.indices, vector.values) if isinstance(vector, SparseVector) else vector


def _condition(c: Condition) -> Any:
    if c.any_of is not None:
        return qe.FieldCondition(key=c.keys[0], match=qe.MatchAny(list(c.any_of)))
    match = _match_bool(c.value) if isinstance(c.value, bool) else qe.MatchValue(c.value)  # type: ignore[arg-type]
    fields: list[Any] = [qe.FieldCondition(key=key, match=match) for key in c.keys]
    return fields[0] if len(fields) == 1 else qe.Filter(should=fields)


def _filter(conditions: Conditions) -> qe.Filter:
    must, must_not = conditions
    return qe.Filter(
        must=[_condition(c) for c in must] or None, must_not=[_condition(c) for c in must_not] or None
    )


class EdgeIndex:
    """A Qdrant Edge shard at `path`; create it with `dim`, or open an existing one."""

    backend = "edge"

    def __init__(self, path: Path, *, dim: int | None = None, create: bool = False) -> None:
        self.path = path
        exists = path.exists() and any(path.iterdir())
        try:
            if exists:
                self._shard = qe.EdgeShard.load(str(path))
            elif create and dim:
                config = qe.EdgeConfig(
                    vectors={
                        name: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)
                        for name in DENSE_VECTORS
                    },
                    sparse_vectors={
                        name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf) for name in SPARSE_VECTORS
                    },
                )
                self._shard = qe.EdgeShard.create(str(path), config)
                for name in KEYWORD_FIELDS:
                    self._shard.update(
                        qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword)
                    )
                for name in BOOL_FIELDS:
                    self._shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Bool))
            else:
                raise IndexNotBuilt(f"no index at {path}: run `kmed ingest PATH...` first")
        except IndexNotBuilt:
            raise
        except Exception as exc:  # the engine raises plain exceptions; WouldBlock means another holder
            if "WouldBlock" in str(exc):
                raise IndexUnavailable(
                    f"the index at {path} is open in another process (a running `kmed serve`?). "
                    "Send the files to that service (`kmed ingest --server http://HOST:PORT --key KEY …`), "
                    "or stop it and retry."
                ) from exc
            raise IndexUnavailable(f"cannot open the index at {path}: {exc}") from exc

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        if not points:
            return
        qpoints = [
            qe.Point(p.id, {name: _vector(v) for name, v in point_vectors(p).items()}, p.payload)
            for p in points
        ]
        self._shard.update(qe.UpdateOperation.upsert_points(qpoints))

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._shard.update(qe.UpdateOperation.delete_points(list(ids)))

    def query(self, plan: QueryPlan) -> list[ScoredPayload]:
        flt = _filter(filter_conditions(plan.filters, versions=plan.versions))
        legs = plan_legs(plan)
        if not legs:
            return []
        queries = [qe.Query.Nearest(_vector(leg.vector), using=leg.using) for leg in legs]
        payload = qe.PayloadSelector.Exclude(list(QUERY_PAYLOAD_EXCLUDE))
        if len(legs) == 1:
            request = qe.QueryRequest(limit=plan.limit, query=queries[0], filter=flt, with_payload=payload)
        else:
            fusion: Any = (
                qe.Fusion.Rrf(k=plan.rrf_k, weights=[leg.weight for leg in legs])
                if plan.fusion == "rrf"
                else qe.Fusion.Dbsf()
            )
            request = qe.QueryRequest(
                limit=plan.limit,
                prefetches=[qe.Prefetch(limit=plan.prefetch, query=q, filter=flt) for q in queries],
                query=fusion,
                filter=flt,
                with_payload=payload,
            )
        return [ScoredPayload(p.payload or {}, float(p.score)) for p in self._shard.query(request)]

    def score_points(self, plan: QueryPlan, ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Each candidate's exact score on every vector (one batch; a point a leg cannot score,
        such as a 부칙 without dense vectors, is absent from that leg)."""
        legs = scoring_legs(plan)
        if not ids or not legs:
            return {}
        flt = qe.Filter(must=[qe.HasIdCondition(set(ids))])
        batch = qe.QueryBatchRequest(
            [
                qe.QueryRequest(
                    limit=len(ids), query=qe.Query.Nearest(_vector(leg.vector), using=leg.using), filter=flt
                )
                for leg in legs
            ]
        )
        found = self._shard.query_batch(batch)
        return {
            leg.using: {str(p.id): float(p.score) for p in points}
            for leg, points in zip(legs, found, strict=True)
        }

    def retrieve(self, ids: Sequence[str]) -> list[Payload]:
        # qdrant-edge-py 0.9 requires with_vector although its stub gives it a default
        records = self._shard.retrieve(list(ids), with_payload=True, with_vector=False)
        return [r.payload or {} for r in records]

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
        flt = _filter(scroll_conditions(filters, versions, clause_ids, records, citing))
        offset = None
        while True:
            page, offset = self._shard.scroll(
                qe.ScrollRequest(offset=offset, limit=batch, filter=flt, with_payload=True)
            )
            for r in page:
                yield r.payload or {}
            if offset is None:
                return

    def count(self) -> int:
        """Clause points, all versions (registry records left out)."""
        flt = _filter(filter_conditions(None))
        return int(self._shard.count(qe.CountRequest(exact=True, filter=flt)))

    def optimize(self) -> None:
        self._shard.optimize()

    def flush(self) -> None:
        self._shard.flush()

    def close(self) -> None:
        self._shard.close()

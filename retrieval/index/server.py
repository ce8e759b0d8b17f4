"""A Qdrant server or distributed cluster through qdrant-client (also its local mode, `:memory:`).

Same collection layout and query model as `EdgeIndex`; sharding, replication and payload
indexes come from settings. Local mode ignores payload indexes, so none are made there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

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
from retrieval.settings import IndexSettings
from retrieval.sparse import SparseVector


def _vector(vector: list[float] | SparseVector) -> Any:
    if isinstance(vector, SparseVector):
        return models.SparseVector(indices=vector.indices, values=vector.values)
    return vector


def _condition(c: Condition) -> Any:
    if c.any_of is not None:
        return models.FieldCondition(key=c.keys[0], match=models.MatchAny(any=list(c.any_of)))
    fields = [models.FieldCondition(key=key, match=models.MatchValue(value=c.value)) for key in c.keys]  # type: ignore[arg-type]
    return fields[0] if len(fields) == 1 else models.Filter(should=fields)  # type: ignore[arg-type]


def _filter(conditions: Conditions) -> models.Filter:
    must, must_not = conditions
    return models.Filter(
        must=[_condition(c) for c in must] or None, must_not=[_condition(c) for c in must_not] or None
    )


class ServerIndex:
    """One collection on a Qdrant server (or qdrant-client's local mode for tests)."""

    backend = "qdrant"

    def __init__(
        self,
        settings: IndexSettings,
        *,
        dim: int | None = None,
        create: bool = False,
        client: QdrantClient | None = None,
    ) -> None:
        self.settings = settings
        self.collection = settings.collection
        self._owns_client = client is None  # a client passed in is closed by whoever made it
        url = settings.qdrant_url or ":memory:"
        try:
            if client is not None:
                self._client = client
            elif url == ":memory:":
                self._client = QdrantClient(location=":memory:")
            elif url.startswith(("http://", "https://")):
                self._client = QdrantClient(url=url, api_key=settings.qdrant_api_key)
            else:
                self._client = QdrantClient(path=url)
            self.local = url == ":memory:" or not url.startswith(("http://", "https://"))
            exists = self._client.collection_exists(self.collection) or any(  # an alias (re-indexing)
                a.alias_name == self.collection for a in self._client.get_aliases().aliases
            )
        except (ResponseHandlingException, UnexpectedResponse, ConnectionError) as exc:
            raise IndexUnavailable(f"cannot reach Qdrant at {url}: {exc}") from exc
        if not exists:
            if not (create and dim):
                raise IndexNotBuilt(f"collection {self.collection!r} does not exist: run `kmed ingest` first")
            self._create(dim)

    def _create(self, dim: int) -> None:
        self._client.create_collection(
            self.collection,
            vectors_config={
                name: models.VectorParams(size=dim, distance=models.Distance.COSINE) for name in DENSE_VECTORS
            },
            sparse_vectors_config={
                name: models.SparseVectorParams(modifier=models.Modifier.IDF) for name in SPARSE_VECTORS
            },
            shard_number=self.settings.shard_number,
            replication_factor=self.settings.replication_factor,
            write_consistency_factor=self.settings.write_consistency_factor,
        )
        if self.local or not self.settings.payload_indexes:
            return
        schemas = [(f, models.PayloadSchemaType.KEYWORD) for f in KEYWORD_FIELDS] + [
            (f, models.PayloadSchemaType.BOOL) for f in BOOL_FIELDS
        ]
        for name, schema in schemas:
            self._client.create_payload_index(self.collection, name, field_schema=schema)

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        if not points:
            return
        self._client.upsert(
            self.collection,
            points=[
                models.PointStruct(
                    id=p.id,
                    vector={name: _vector(v) for name, v in point_vectors(p).items()},
                    payload=p.payload,
                )
                for p in points
            ],
        )

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._client.delete(self.collection, points_selector=models.PointIdsList(points=list(ids)))

    def query(self, plan: QueryPlan) -> list[ScoredPayload]:
        flt = _filter(filter_conditions(plan.filters, versions=plan.versions))
        legs = plan_legs(plan)
        if not legs:
            return []
        if len(legs) == 1:
            kwargs: dict[str, Any] = {"query": _vector(legs[0].vector), "using": legs[0].using}
        else:
            fusion: Any = (
                models.RrfQuery(rrf=models.Rrf(k=plan.rrf_k, weights=[leg.weight for leg in legs]))
                if plan.fusion == "rrf"
                else models.FusionQuery(fusion=models.Fusion.DBSF)
            )
            kwargs = {
                "prefetch": [
                    models.Prefetch(
                        query=_vector(leg.vector), using=leg.using, limit=plan.prefetch, filter=flt
                    )
                    for leg in legs
                ],
                "query": fusion,
            }
        payload = models.PayloadSelectorExclude(exclude=list(QUERY_PAYLOAD_EXCLUDE))
        result = self._client.query_points(
            self.collection, query_filter=flt, limit=plan.limit, with_payload=payload, **kwargs
        )
        return [ScoredPayload(p.payload or {}, float(p.score)) for p in result.points]

    def score_points(self, plan: QueryPlan, ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Each candidate's exact score on every vector, in one batch request."""
        legs = scoring_legs(plan)
        if not ids or not legs:
            return {}
        flt = models.Filter(must=[models.HasIdCondition(has_id=list(ids))])
        requests = [
            models.QueryRequest(query=_vector(leg.vector), using=leg.using, filter=flt, limit=len(ids))
            for leg in legs
        ]
        found = self._client.query_batch_points(self.collection, requests=requests)
        return {
            leg.using: {str(p.id): float(p.score) for p in response.points}
            for leg, response in zip(legs, found, strict=True)
        }

    def retrieve(self, ids: Sequence[str]) -> list[Payload]:
        return [
            r.payload or {} for r in self._client.retrieve(self.collection, ids=list(ids), with_payload=True)
        ]

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
            page, offset = self._client.scroll(
                self.collection,
                scroll_filter=flt,
                limit=batch,
                offset=offset,
                with_payload=True,
            )
            for r in page:
                yield r.payload or {}
            if offset is None:
                return

    def count(self) -> int:
        """Clause points, all versions (registry records left out)."""
        flt = _filter(filter_conditions(None))
        return int(self._client.count(self.collection, count_filter=flt, exact=True).count)

    def optimize(self) -> None:
        """The server optimises in the background."""

    def flush(self) -> None:
        """Writes are durable when upsert returns."""

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

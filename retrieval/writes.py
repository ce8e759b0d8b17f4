"""Every write to the index that is more than one upsert: the one place the write protocol lives.

Ingestion parses and embeds (`ingest/pipeline.py`); what it hands here is points and records:

- `article_vector`: a point's article vector, the article's mean embedding plus its own;
- `written`: the points a version already has (an interrupted run is resumed, not redone);
- `upsert`: points in batches;
- `commit`: the registry record that lists the new version, the single write that makes it
  searchable (a search reads only the versions records list);
- `drop_stale`: points of versions the record no longer lists (replaced, or left by a crash);
- `remove_document`: the record first, so searches stop seeing it at once, then every point,
  so term statistics (BM25's IDF) are those of an index that never held it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.errors import NotFound
from retrieval.index import Index, IndexPoint
from retrieval.index.schema import CLAUSE_ID, CONTENT_HASH, VERSION_KEY, record_point, unit_point_id
from retrieval.models import SearchFilters
from retrieval.registry import DocumentRecord, load_documents, record_point_id

UPSERT_BATCH = 128


def article_vector(own: np.ndarray, article: Sequence[np.ndarray]) -> list[float]:
    """The article's mean embedding plus the paragraph's own: paragraphs of one article don't tie."""
    blend = np.mean(article, axis=0) + own
    return (blend / (np.linalg.norm(blend) or 1.0)).tolist()


def written(index: Index, version_key: str) -> dict[str, str | None]:
    """clause id → content hash of the points already written for this version."""
    return {p[CLAUSE_ID]: p.get(CONTENT_HASH) for p in index.scroll(versions=[version_key])}


def upsert(index: Index, points: Sequence[IndexPoint]) -> None:
    for start in range(0, len(points), UPSERT_BATCH):
        index.upsert(points[start : start + UPSERT_BATCH])


def commit(index: Index, record: DocumentRecord) -> DocumentRecord:
    """Write the record that lists the new version, after its points are on disk."""
    index.flush()
    index.upsert([record_point(record)])
    index.flush()
    return record


def _points_of(index: Index, doc_id: str) -> list[tuple[str, str]]:
    return [
        (p[CLAUSE_ID], p.get(VERSION_KEY, ""))
        for p in index.scroll(SearchFilters(doc_id=doc_id, include_supplementary=True))
    ]


def drop_stale(index: Index, record: DocumentRecord) -> int:
    """Delete the document's points of versions its record no longer lists; how many."""
    listed = {v.key for v in record.versions}
    stale = [unit_point_id(cid, key) for cid, key in _points_of(index, record.doc_id) if key not in listed]
    index.delete(stale)
    return len(stale)


def remove_document(index: Index, doc_id: str) -> int:
    """Delete a document with all its versions; returns how many points went."""
    if doc_id not in load_documents(index):
        raise NotFound(f"no document {doc_id!r} in the index; `kmed documents list` shows the ids")
    index.delete([record_point_id(doc_id)])
    points = [unit_point_id(cid, key) for cid, key in _points_of(index, doc_id)]
    index.delete(points)
    index.flush()
    return len(points)

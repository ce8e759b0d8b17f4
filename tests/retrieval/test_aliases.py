"""Re-indexing behind an alias, through qdrant-client's local mode (the server backend's code
path): a new build is switched in by one alias update, searches through the alias see it, a
failed build switches nothing, and older builds are dropped beyond `keep`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from ingest.pipeline import ingest_paths
from retrieval.errors import ConfigurationError
from retrieval.index.aliases import alias_target, physical_collections, reindex, switch_alias
from retrieval.index.server import ServerIndex
from retrieval.runtime import build_encoder, build_searcher, check_meta
from retrieval.search import search
from retrieval.settings import CORPORA_DIR, Settings, load_settings
from tests.fakes import CountingEmbedder

DATA = Path(__file__).resolve().parent.parent / "data"
EMBEDDER = CountingEmbedder()


def builder(settings: Settings, paths: list[Path]) -> Callable[[Callable[[int], ServerIndex]], int]:
    def build(open_target: Callable[[int], ServerIndex]) -> int:
        index = open_target(EMBEDDER.dim)
        check_meta(settings, EMBEDDER, index, write=True)
        report = ingest_paths(paths, index=index, embedder=EMBEDDER, encoder=build_encoder(settings))
        return sum(r.written for r in report.files)

    return build


def labels(settings: Settings, question: str) -> list[str]:
    searcher = build_searcher(settings, embedder=EMBEDDER)
    try:
        return [h.clause.label for h in search(searcher, question, k=3, mode="sparse")]
    finally:
        searcher.index.close()


def test_a_rebuild_is_switched_in_atomically_and_old_builds_are_dropped(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", qdrant_url=str(tmp_path / "qdrant"))
    at = [
        datetime(2026, 12, 1, 9, tzinfo=UTC),
        datetime(2026, 12, 2, 9, tzinfo=UTC),
        datetime(2026, 12, 3, 9, tzinfo=UTC),
    ]

    client = QdrantClient(path=str(tmp_path / "qdrant"))
    first = reindex(client, settings.index, builder(settings, [DATA / "statute_sample.md"]), now=at[0])
    assert first.previous is None and first.points > 0 and alias_target(client, "kmed") == first.collection
    client.close()
    assert any(label.startswith("시험보건법 시행규칙") for label in labels(settings, "기록의 보관"))

    client = QdrantClient(path=str(tmp_path / "qdrant"))
    samples = [CORPORA_DIR / "samples" / "한빛대학교병원_진료기록관리규정.md"]
    second = reindex(client, settings.index, builder(settings, samples), now=at[1])
    assert second.previous == first.collection and second.dropped == []
    assert physical_collections(client, "kmed") == [first.collection, second.collection]

    def broken(open_target: Callable[[int], ServerIndex]) -> int:
        open_target(EMBEDDER.dim)
        raise RuntimeError("the build died")

    with pytest.raises(RuntimeError):
        reindex(client, settings.index, broken, now=at[2])
    assert alias_target(client, "kmed") == second.collection  # nothing switched, nothing left over
    assert physical_collections(client, "kmed") == [first.collection, second.collection]
    client.close()
    found = labels(settings, "진료기록 보존 기간")
    assert found and all(label.startswith("한빛대학교병원") for label in found)

    client = QdrantClient(path=str(tmp_path / "qdrant"))
    assert switch_alias(client, "kmed", first.collection) == second.collection  # switching back
    third = reindex(client, settings.index, builder(settings, samples), keep=0, now=at[2])
    assert third.dropped == [first.collection, second.collection]
    assert physical_collections(client, "kmed") == [third.collection]
    client.close()


def test_an_existing_collection_of_the_alias_name_is_not_taken_over(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", qdrant_url=str(tmp_path / "qdrant"))
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    ServerIndex(settings.index, dim=EMBEDDER.dim, create=True, client=client)  # a plain `kmed` collection
    with pytest.raises(ConfigurationError, match="not an alias"):
        reindex(client, settings.index, builder(settings, [DATA / "statute_sample.md"]))
    client.close()

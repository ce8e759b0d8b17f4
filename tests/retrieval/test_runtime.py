"""The index remembers what wrote it, and refuses settings that would score it wrongly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retrieval.errors import ConfigurationError, IndexNotBuilt
from retrieval.index import EdgeIndex
from retrieval.index.schema import SCHEMA_VERSION
from retrieval.registry import load_documents
from retrieval.runtime import build_searcher, check_meta, index_meta, open_for_writing, stored_meta
from retrieval.settings import Settings, load_settings


def meta_file(settings: Settings) -> Path:
    return settings.data_dir / "index" / f"{settings.index.collection}.meta.json"


def shard(settings: Settings, dim: int = 8) -> EdgeIndex:
    return EdgeIndex(settings.data_dir / "index" / settings.index.collection, dim=dim, create=True)


def test_first_write_records_the_meta_in_the_collection(settings: Settings, counting: Any) -> None:
    embedder = counting(name="fake-model", dim=8)
    index = shard(settings)
    try:
        check_meta(settings, embedder, index, write=False)
        assert stored_meta(settings, index) is None  # reading never writes
        check_meta(settings, embedder, index, write=True)
        assert stored_meta(settings, index) == {
            "schema_version": SCHEMA_VERSION,
            "embedder": "fake-model",
            "dim": 8,
            "sparse_variant": settings.text.sparse_variant,
            "cited_context": settings.index.cited_context,
            "bm25": [settings.text.bm25_k1, settings.text.bm25_b, settings.text.bm25_avg_len],
            "bm25_morph_avg_len": settings.text.bm25_morph_avg_len,
        }
        assert not meta_file(settings).exists()  # nothing beside the shard: a server host sees it too
        check_meta(settings, embedder, index, write=True)  # same settings: fine, again and again
        check_meta(settings, embedder, index, write=False)
        assert index.count() == 0 and not list(index.scroll())  # no clause scroll or count sees it
        assert not load_documents(index)
    finally:
        index.close()


def test_an_older_index_meta_file_is_read_and_moved_in(settings: Settings, counting: Any) -> None:
    embedder = counting(name="model-a", dim=8)
    index = shard(settings)
    try:
        meta_file(settings).write_text(json.dumps({**index_meta(settings, embedder), "embedder": "old"}))
        with pytest.raises(ConfigurationError, match="embedder: index has 'old'"):
            check_meta(settings, embedder, index, write=True)
        meta_file(settings).write_text(json.dumps(index_meta(settings, embedder)))
        check_meta(settings, embedder, index, write=True)
        meta_file(settings).unlink()
        assert stored_meta(settings, index) == index_meta(settings, embedder)
    finally:
        index.close()


def test_other_sparse_variant_must_rebuild(settings: Settings, counting: Any) -> None:
    embedder = counting()
    open_for_writing(settings, embedder).close()
    other = load_settings(data_dir=settings.data_dir, text={"sparse_variant": "morph"})
    for opening in (
        lambda: open_for_writing(other, embedder),
        lambda: build_searcher(other, embedder=embedder),
    ):
        with pytest.raises(ConfigurationError, match="rebuild") as info:
            opening()
        message = str(info.value)
        assert "sparse_variant: index has 'bigram', settings say 'morph'" in message
        assert "kmed ingest" in message


def test_other_embedder_is_refused(settings: Settings, counting: Any) -> None:
    open_for_writing(settings, counting(name="model-a", dim=8)).close()
    with pytest.raises(ConfigurationError, match="embedder: index has 'model-a'"):
        build_searcher(settings, embedder=counting(name="model-b", dim=8))


def test_searcher_needs_a_built_index(settings: Settings, counting: Any) -> None:
    with pytest.raises(IndexNotBuilt):
        build_searcher(settings, embedder=counting())


def test_refused_searcher_leaves_the_shard_free(settings: Settings, counting: Any) -> None:
    embedder = counting()
    index = open_for_writing(settings, embedder)
    assert isinstance(index, EdgeIndex)
    assert stored_meta(settings, index) is not None
    index.close()

    other = load_settings(data_dir=settings.data_dir, text={"sparse_variant": "morph"})
    with pytest.raises(ConfigurationError) as refused:
        build_searcher(other, embedder=embedder)
    # while the error is still held, the shard can be opened again in this process
    reopened = EdgeIndex(index.path)
    reopened.close()
    assert refused.value


def test_searcher_over_the_index_it_wrote(settings: Settings, counting: Any) -> None:
    embedder = counting()
    open_for_writing(settings, embedder).close()
    searcher = build_searcher(settings, embedder=embedder)
    try:
        assert searcher.embedder is embedder
        assert searcher.index.count() == 0
        assert searcher.encoder.variant == settings.text.sparse_variant
        assert searcher.max_question_chars == settings.max_question_chars
    finally:
        searcher.index.close()


def test_a_server_collection_carries_its_meta(tmp_path: Path, counting: Any) -> None:
    """qdrant-client's local mode: the client/server code path, where no meta file could be read."""
    settings = load_settings(data_dir=tmp_path / "host-a", qdrant_url=str(tmp_path / "qdrant"))
    embedder = counting(name="model-a", dim=8)
    open_for_writing(settings, embedder).close()
    assert not meta_file(settings).exists()
    elsewhere = load_settings(data_dir=tmp_path / "host-b", qdrant_url=str(tmp_path / "qdrant"))
    with pytest.raises(ConfigurationError, match="embedder: index has 'model-a'"):
        build_searcher(elsewhere, embedder=counting(name="model-b", dim=8))
    searcher = build_searcher(elsewhere, embedder=embedder)
    searcher.index.close()

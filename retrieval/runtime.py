"""Builds the heavy objects (Kiwi, encoder, embedder, index) from settings, once per process.

Entry points (CLI, app factory, tests) call these; nothing is built at import time.
The index remembers which embedder and sparse variant wrote it (a meta point in the collection),
so a search with other settings fails with a clear message instead of wrong scores.
"""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.answer import Answerer
from retrieval.answerability import AnswerabilityModel
from retrieval.embeddings import Embedder, build_embedder
from retrieval.errors import ConfigurationError
from retrieval.index import Index, open_index
from retrieval.index.schema import META_POINT_ID, SCHEMA_VERSION, meta_point
from retrieval.lookup import load_law_aliases
from retrieval.rerank import Reranker, build_reranker
from retrieval.search import Searcher
from retrieval.settings import Settings
from retrieval.sparse import SparseEncoder
from retrieval.text import KoreanTokenizer


def build_encoder(settings: Settings) -> SparseEncoder:
    tokenizer = KoreanTokenizer(settings.text.user_dictionaries)
    return SparseEncoder(tokenizer, settings.text)


def build_dense(settings: Settings, *, bulk: bool = False) -> Embedder:
    """The dense embedder; `bulk` for ingestion (passages in parallel workers, see build_embedder)."""
    return build_embedder(settings.embedding, settings.cache_dir or settings.data_dir / "cache", bulk=bulk)


def _meta_path(settings: Settings) -> Path:
    """Where earlier indexes kept their meta, beside the shard (still read; the next write moves it
    into the collection)."""
    return settings.data_dir / "index" / f"{settings.index.collection}.meta.json"


def index_meta(settings: Settings, embedder: Embedder) -> dict[str, object]:
    return {
        "schema_version": SCHEMA_VERSION,
        "embedder": embedder.name,
        "dim": embedder.dim,
        "sparse_variant": settings.text.sparse_variant,
        "cited_context": settings.index.cited_context,
        "bm25": [settings.text.bm25_k1, settings.text.bm25_b, settings.text.bm25_avg_len],
        "bm25_morph_avg_len": settings.text.bm25_morph_avg_len,
    }


def stored_meta(settings: Settings, index: Index) -> dict[str, object] | None:
    """What built the index: its meta point, else an older index's meta file, else None."""
    found = index.retrieve([META_POINT_ID])
    if found and isinstance(found[0].get("meta"), dict):
        return found[0]["meta"]  # type: ignore[no-any-return]
    path = _meta_path(settings)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None  # type: ignore[no-any-return]


def check_meta(settings: Settings, embedder: Embedder, index: Index, *, write: bool) -> None:
    """Refuse to mix vectors of different models or term schemes in one collection; the first
    write records what built it, in the collection (both backends)."""
    wanted = index_meta(settings, embedder)
    stored = stored_meta(settings, index)
    if stored is not None:
        differs = {k: (stored.get(k), v) for k, v in wanted.items() if stored.get(k) != v}
        if differs:
            detail = ", ".join(f"{k}: index has {a!r}, settings say {b!r}" for k, (a, b) in differs.items())
            where = settings.index.qdrant_url or _meta_path(settings).parent
            raise ConfigurationError(
                f"the index was built with other settings ({detail}). Use the same settings, "
                f"or rebuild: delete the collection {settings.index.collection!r} at {where} and run "
                "`kmed ingest` again."
            )
    if write and (stored is None or not index.retrieve([META_POINT_ID])):
        index.upsert([meta_point(wanted)])


def _checked(settings: Settings, embedder: Embedder, index: Index, *, write: bool) -> Index:
    try:
        check_meta(settings, embedder, index, write=write)
    except ConfigurationError:
        index.close()  # a refused Edge shard left open would stay locked for this process
        raise
    return index


def open_for_writing(settings: Settings, embedder: Embedder) -> Index:
    return _checked(settings, embedder, open_index(settings, dim=embedder.dim, create=True), write=True)


def build_searcher(
    settings: Settings, *, embedder: Embedder | None = None, reranker: Reranker | None = None
) -> Searcher:
    """The searcher with its reranker (`settings.rerank`); the llm reranker uses the answer model."""
    embedder = embedder or build_dense(settings)
    if reranker is None:
        from retrieval.generators import build_chat_model

        chat = build_chat_model(settings.llm) if settings.rerank.backend == "llm" else None
        reranker = build_reranker(settings.rerank, chat)
    index = _checked(settings, embedder, open_index(settings), write=False)
    return Searcher(
        index,
        embedder,
        build_encoder(settings),
        settings.index,
        settings.max_question_chars,
        settings.dense_window_chars,
        reranker=reranker,
        rerank_depth=settings.rerank.candidates,
        law_aliases=load_law_aliases(settings.text.law_aliases),
    )


def build_answerer(settings: Settings, searcher: Searcher | None = None) -> Answerer:
    """The answering pipeline: the searcher, and the configured generator (None: extractive)."""
    from retrieval.generators import build_chat_model

    chat = build_chat_model(settings.llm)
    path = settings.answer.answerability_model
    model = AnswerabilityModel.load(path) if path and str(path) else None
    return Answerer(searcher or build_searcher(settings), settings.answer, chat, model)

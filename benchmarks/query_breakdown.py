"""Where a search's time goes: percentiles of `search_details` in process, and the functions that
take it (cProfile, cumulative), over questions of our own validation fold.

    .venv/bin/python benchmarks/query_breakdown.py --data-dir DIR [--n 120] [--top 25]

Each question gets a trailing space so the in-memory embedding cache does not answer it; the
first five warm the models and are not counted. Run it on a quiet machine: the embedder's two
threads are most of the time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

from retrieval.runtime import build_searcher
from retrieval.search import search_details
from retrieval.settings import CORPORA_DIR, load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    searcher = build_searcher(load_settings(data_dir=args.data_dir))
    rows = [json.loads(line) for line in (CORPORA_DIR / "train" / "questions.jsonl").open(encoding="utf-8")]
    questions = [r["question"] for r in rows if r.get("fold") == "val"][: args.n]
    for q in questions[:5]:
        search_details(searcher, q, k=5)
    took = []
    profile = cProfile.Profile()
    profile.enable()
    for q in questions:
        t0 = time.perf_counter()
        search_details(searcher, q + " ", k=5)
        took.append((time.perf_counter() - t0) * 1000)
    profile.disable()
    searcher.index.close()
    took.sort()
    pick = {p: round(took[min(len(took) - 1, int(len(took) * p / 100))], 1) for p in (50, 95, 99)}
    sys.stdout.write(json.dumps({"n": len(took), "ms": pick}) + "\n")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(args.top)
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    main()

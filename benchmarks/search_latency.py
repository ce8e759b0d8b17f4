"""Search latency on a built index, per mode, with the parts of a query timed apart.

Reports medians over the dev questions (repeated), and each mode's ratio to dense-only in the
same run, since absolute times on a shared 2-core machine move with its load.

    .venv/bin/python benchmarks/search_latency.py [--data-dir DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from retrieval.evaluation import load_qa
from retrieval.models import SearchFilters
from retrieval.runtime import build_searcher
from retrieval.search import plan_query
from retrieval.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    settings = load_settings(data_dir=args.data_dir) if args.data_dir else load_settings()
    searcher = build_searcher(settings)
    questions = [i.question for i in load_qa(settings.shared_dir / "eval" / "dev.jsonl")] * args.repeat
    result: dict[str, dict[str, float]] = {}
    for mode in ("dense", "sparse", "hybrid"):
        encode, engine = [], []
        for question in questions:
            t0 = time.perf_counter()
            plan = plan_query(searcher, question, k=10, mode=mode, filters=SearchFilters())  # type: ignore[arg-type]
            t1 = time.perf_counter()
            searcher.index.query(plan)
            engine.append(time.perf_counter() - t1)
            encode.append(t1 - t0)
        result[mode] = {
            "encode_ms": round(statistics.median(encode) * 1000, 2),
            "engine_ms": round(statistics.median(engine) * 1000, 2),
            "total_ms": round(statistics.median(map(sum, zip(encode, engine, strict=True))) * 1000, 2),
        }
    base = result["dense"]["total_ms"]
    for mode in result:
        result[mode]["ratio_to_dense"] = round(result[mode]["total_ms"] / base, 2)
    result["points"] = {"count": searcher.index.count()}  # type: ignore[dict-item]
    searcher.index.close()
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

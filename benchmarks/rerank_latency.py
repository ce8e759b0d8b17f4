"""What the rerank stage adds to a search, measured against the same search without it.

Each question is searched twice in a row, with `none` and with the configured reranker, after
one warm-up search that puts its embedding in the in-memory cache (both variants would embed
it alike). Reports p50/p95 of both and of their difference per question, and where the
learned stage's time goes (candidate scoring on every leg, features and model).

    .venv/bin/python benchmarks/rerank_latency.py --data-dir DIR [--repeat 3] [--qa FILE]

The questions default to the validation fold of corpora/train/questions.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from retrieval.evaluation import load_qa
from retrieval.rerank import NoReranker
from retrieval.runtime import build_searcher
from retrieval.search import search_details
from retrieval.settings import PROJECT_ROOT, load_settings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values), 2), "p95_ms": round(percentile(values, 0.95), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--qa", type=Path, default=PROJECT_ROOT / "corpora" / "train" / "questions.jsonl")
    args = parser.parse_args()
    settings = load_settings(data_dir=args.data_dir)
    reranked = build_searcher(settings)
    plain = replace(reranked, reranker=NoReranker())
    questions = [i.question for i in load_qa(args.qa) if i.fold in ("val", "")]
    without, with_, added, scoring, model = [], [], [], [], []
    for _ in range(args.repeat):
        for question in questions:
            reranked.queries.get(question)  # embedded outside the timings
            plain.queries.get(question)
            t0 = time.perf_counter()
            search_details(plain, question, k=10)
            t1 = time.perf_counter()
            result = search_details(reranked, question, k=10)
            t2 = time.perf_counter()
            without.append((t1 - t0) * 1000)
            with_.append((t2 - t1) * 1000)
            added.append(with_[-1] - without[-1])
            model.append(result.timings_ms.get("rerank", 0.0))
            scoring.append(result.timings_ms.get("retrieval", 0.0))
    report = {
        "questions": len(questions),
        "repeat": args.repeat,
        "points": reranked.index.count(),
        "reranker": reranked.reranker.name,
        "search_without_rerank": summary(without),
        "search_with_rerank": summary(with_),
        "added_by_rerank": summary(added),
        "first_stage_with_leg_scores": summary(scoring),
        "rerank_model": summary(model),
        "ratio_p50": round(statistics.median(with_) / statistics.median(without), 2),
    }
    reranked.index.close()
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

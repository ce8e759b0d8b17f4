"""The rerank stage measured: learned vs fused order on our validation fold (and, once, on the
dev set), the gain of each feature group, clause references, candidate recall, and the answers.

Uses the shipped models in corpora/models (or, with --retrain, models trained here from
corpora/train/questions.jsonl over the index). Nothing is chosen on dev: --dev only reports.

    .venv/bin/kmed ingest ../shared/corpora/statutes <the 9 text-layer PDFs> --data-dir bench-data/full
    .venv/bin/python benchmarks/rerank_eval.py --data-dir bench-data/full \
        [--statutes-only bench-data/statutes] [--retrain] [--ablate] [--answers] [--dev]

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

from retrieval.answer import Answerer, answer
from retrieval.answerability import AnswerabilityModel
from retrieval.evaluation import QAItem, RetrievalReport, evaluate, evaluate_answers, load_qa
from retrieval.rerank import NoReranker
from retrieval.rerank.features import FEATURES, GROUPS
from retrieval.rerank.learned import LearnedReranker
from retrieval.rerank.train import Group, first_gold_rank, fit, fold_of, hit_rates, ranked
from retrieval.runtime import build_searcher
from retrieval.search import Searcher, get_clause, search
from retrieval.settings import PROJECT_ROOT, load_settings
from retrieval.training import collect_all, train_models

KEYS = ("hit@1", "hit@5", "hit@10", "mrr@10")


def emit(**row: Any) -> None:
    sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def recall(groups: Sequence[Group]) -> float:
    answerable = [g for g in groups if g.item.gold]
    return round(sum(g.has_gold for g in answerable) / max(len(answerable), 1), 4)


def searched(searcher: Searcher, items: list[QAItem], types: list[str]) -> RetrievalReport:
    return evaluate(items, lambda q, _: search(searcher, q, k=10), ["hybrid"], types=types)


def score_answers(items: list[QAItem], answerer: Answerer, searcher: Searcher) -> dict[str, Any]:
    """The answer figures as JSON (what `emit` writes and the table reads)."""
    return evaluate_answers(
        items, lambda q: answer(answerer, q), lambda cid: get_clause(searcher, cid)
    ).as_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="Index of statutes and guidelines.")
    parser.add_argument(
        "--statutes-only", type=Path, help="An index of the statutes alone (dev statute rows)."
    )
    parser.add_argument("--train", type=Path, default=PROJECT_ROOT / "corpora" / "train" / "questions.jsonl")
    parser.add_argument(
        "--retrain", action="store_true", help="Train the models here instead of the shipped."
    )
    parser.add_argument(
        "--ablate", action="store_true", help="Retrain the ranker without each feature group."
    )
    parser.add_argument("--answers", action="store_true", help="Also score the offline answers.")
    parser.add_argument("--dev", action="store_true", help="Also report shared/eval/dev.jsonl (once).")
    args = parser.parse_args()
    base = load_settings(data_dir=args.data_dir)
    items = load_qa(args.train)
    val_items = [i for i in items if i.fold == "val"]
    dev_items = load_qa(base.shared_dir / "eval" / "dev.jsonl") if args.dev else []
    depth = base.rerank.candidates

    first = build_searcher(base, reranker=NoReranker())
    started = time.perf_counter()
    groups = collect_all(first, items, depth=depth)
    emit(step="collect", questions=len(groups), seconds=round(time.perf_counter() - started, 1))
    ranker_path, answer_path = base.rerank.learned_model, base.answer.answerability_model
    if args.retrain:
        trained = train_models(groups, first.encoder.tokenizer)
        out = Path(tempfile.mkdtemp(prefix="kmed-models-"))
        ranker_path, answer_path = out / "reranker.json", out / "answerability.json"
        trained.ranker.save(ranker_path)
        trained.answerability.save(answer_path)
        emit(step="train", report=trained.report, models=str(out))
    train = [g for g in groups if g.item.fold != "val"]
    val = [g for g in groups if g.item.fold == "val"]
    emit(step=f"candidate_recall@{depth}", train=recall(train), val=recall(val))
    first.index.close()

    learned = LearnedReranker.load(ranker_path)
    assert answer_path is not None
    gate = AnswerabilityModel.load(answer_path)
    rows: list[tuple[str, ...]] = []
    answer_rows: list[tuple[str, ...]] = []
    indexes = [("statutes + guidelines", args.data_dir)]
    if args.statutes_only:
        indexes.append(("statutes only", args.statutes_only))
    for index_name, data_dir in indexes:
        settings = load_settings(data_dir=data_dir)
        for name, reranker in (("none", NoReranker()), ("learned", learned)):
            s = build_searcher(settings, reranker=reranker)
            try:
                sets = [("val", val_items), ("dev", dev_items)]
                for set_name, subset in sets:
                    for kind in ("statute", "guideline"):
                        if index_name == "statutes only" and (kind == "guideline" or set_name == "val"):
                            continue
                        if not subset:
                            continue
                        r = searched(s, subset, [kind])
                        if not r.n_answerable:
                            continue
                        m = r.modes["hybrid"]
                        emit(step="search", index=index_name, set=set_name, type=kind, rerank=name, **m)
                        rows.append((index_name, set_name, f"{kind} ({r.n_answerable})", name, *_fmt(m)))
                if index_name != "statutes + guidelines":
                    continue
                for set_name, subset in sets:
                    named = [i for i in subset if "names_clause" in i.tags]
                    if named:
                        r = searched(s, named, ["statute", "guideline"])
                        first_place = sum(1 for v in r.ranks["hybrid"].values() if v == 1)
                        emit(step="names_clause", set=set_name, rerank=name, first=first_place, of=len(named))
                if args.answers:
                    answerer = Answerer(s, settings.answer, None, gate)
                    for set_name, subset in sets:
                        if not subset:
                            continue
                        a = score_answers(subset, answerer, s)
                        emit(step="answers", set=set_name, rerank=name, **a)
                        answer_rows.append(
                            (
                                set_name,
                                name,
                                *(
                                    f"{a[k]:.2f}"
                                    for k in (
                                        "cited_sentence_rate",
                                        "citation_precision",
                                        "abstain_rate",
                                        "false_abstain_rate",
                                    )
                                ),
                            )
                        )
            finally:
                s.index.close()
    header = ("index", "set", "type", "rerank", "hit@1", "hit@5", "hit@10", "MRR@10")
    sys.stdout.write("\n" + table(rows, header) + "\n")
    if answer_rows:
        answer_header = ("set", "rerank", "cited sentences", "citation precision", "abstain", "false abstain")
        sys.stdout.write("\n" + table(answer_rows, answer_header) + "\n")
    if args.ablate:
        ablate([g for g in train if g.item.gold], [g for g in val if g.item.gold])


def _fmt(m: dict[str, float]) -> tuple[str, ...]:
    return tuple(f"{m[k]:.2f}" for k in KEYS)


def ablate(train: list[Group], val: list[Group]) -> None:
    """Each feature group left out: 5-fold CV on the training fold, and the validation fold."""
    rows = []
    for group, names in [("(none: all features)", ()), *GROUPS.items()]:
        features = [f for f in FEATURES if f not in names]
        ranks: list[int | None] = []
        for fold in range(5):
            model = fit(
                [g for g in train if fold_of(g.item.id, 5) != fold], [], features=features, rounds=100
            )
            ranks += [first_gold_rank(g, ranked(model, g)) for g in train if fold_of(g.item.id, 5) == fold]
        cv = hit_rates(ranks)
        model = fit(train, [], features=features, rounds=100)
        v = hit_rates([first_gold_rank(g, ranked(model, g)) for g in val])
        emit(step="ablation", without=group, cv=cv, val=v)
        rows.append(
            (group, f"{cv['hit@1']:.3f}", f"{cv['hit@5']:.3f}", f"{v['hit@1']:.3f}", f"{v['hit@5']:.3f}")
        )
    header = ("without", "CV hit@1", "CV hit@5", "val hit@1", "val hit@5")
    sys.stdout.write("\n" + table(rows, header) + "\n")


if __name__ == "__main__":
    main()

"""What `kmed rerank train QA.jsonl` runs: the learned reranker, then answerability on top of it.

1. First-stage candidates for every question (answerable and not), as search makes them.
2. The ranker (LambdaRank) on the training fold, stopped early on the validation fold.
3. The answerability model needs reranked candidates of questions the ranker has not seen, or it
   would learn from over-confident orderings: training-fold questions are reranked by rankers
   trained on the other four fifths (out of fold), validation questions by the final ranker.
4. A logistic regression on those, and its threshold: the highest one whose cross-validated
   false abstention on the training fold's answerable questions stays within `max_false_abstain`.
The validation fold is reported, never fitted on: it is where a hospital sees what its model
will do on questions it has not trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrieval.answerability import AnswerabilityModel, answer_features
from retrieval.answerability import fit as fit_answerability
from retrieval.evaluation import QAItem, matches
from retrieval.models import Hit
from retrieval.rerank.features import FEATURES
from retrieval.rerank.learned import LearnedModel
from retrieval.rerank.train import Group, first_gold_rank, fit, fold_of, hit_rates, ranked, split
from retrieval.search import Searcher, candidates
from retrieval.text import KoreanTokenizer

FOLDS = 5
C_GRID = (0.1, 0.3, 1.0, 3.0)


@dataclass
class Trained:
    ranker: LearnedModel
    answerability: AnswerabilityModel
    report: dict[str, Any] = field(default_factory=dict)


def collect_all(
    searcher: Searcher, items: Sequence[QAItem], *, depth: int, on_item: Callable[[int], None] | None = None
) -> list[Group]:
    """Candidates of every item, unanswerable ones included (all labels 0)."""
    groups = []
    for n, item in enumerate(items, start=1):
        found = candidates(searcher, item.question, depth=depth)
        labels = [int(any(matches(h.clause, g) for g in item.gold)) for h in found.hits]
        groups.append(Group(item, found.hits, labels, found.question))
        if on_item:
            on_item(n)
    return groups


def _reorder(model: LearnedModel, group: Group) -> list[Hit]:
    return [group.hits[i].model_copy(update={"rank": r}) for r, i in enumerate(ranked(model, group), start=1)]


def _threshold(probabilities: Sequence[float], labels: Sequence[int], max_false_abstain: float) -> float:
    """The highest threshold that abstains on at most `max_false_abstain` of the answerable."""
    answerable = sorted(p for p, y in zip(probabilities, labels, strict=True) if y)
    if not answerable:
        return 0.5
    allowed = int(np.floor(max_false_abstain * len(answerable)))
    return float(answerable[allowed]) - 1e-6  # abstain on the `allowed` lowest only


def answer_metrics(
    probabilities: Sequence[float], labels: Sequence[int], threshold: float
) -> dict[str, float]:
    unans = [p for p, y in zip(probabilities, labels, strict=True) if not y]
    ans = [p for p, y in zip(probabilities, labels, strict=True) if y]
    return {
        "abstain_rate": round(sum(p < threshold for p in unans) / len(unans), 4) if unans else 0.0,
        "false_abstain_rate": round(sum(p < threshold for p in ans) / len(ans), 4) if ans else 0.0,
    }


def train_models(
    groups: Sequence[Group],
    tokenizer: KoreanTokenizer,
    *,
    features: Sequence[str] | None = None,
    max_false_abstain: float = 0.04,
    log: Callable[[str], None] | None = None,
) -> Trained:
    """Ranker and answerability model from collected groups (see the module docstring)."""
    say = log or (lambda _: None)
    train_items, val_items = split([g.item for g in groups])
    val_ids = {i.id for i in val_items}
    train = [g for g in groups if g.item.id not in val_ids]
    valid = [g for g in groups if g.item.id in val_ids]
    names = tuple(features) if features else FEATURES
    ranker = fit(train, valid, features=names)
    rounds = ranker.booster.num_trees()
    say(f"ranker: {rounds} trees on {sum(g.has_gold for g in train)} questions")
    # out-of-fold orderings for the training fold, the final ranker's for validation
    reordered: dict[str, list[Hit]] = {}
    for fold in range(FOLDS):
        held = [g for g in train if fold_of(g.item.id, FOLDS) == fold]
        rest = [g for g in train if fold_of(g.item.id, FOLDS) != fold]
        oof = fit(rest, [], features=names, rounds=rounds) if rounds else ranker
        reordered.update({g.item.id: _reorder(oof, g) for g in held})
    reordered.update({g.item.id: _reorder(ranker, g) for g in valid})
    rows = {g.item.id: answer_features(g.question, reordered[g.item.id], tokenizer) for g in groups}
    labels = {g.item.id: int(bool(g.item.gold)) for g in groups}
    train_ids = [g.item.id for g in train]
    c, oof_probs = _choose_c(train_ids, rows, labels)
    threshold = _threshold(oof_probs, [labels[i] for i in train_ids], max_false_abstain)
    model = fit_answerability(
        [rows[i] for i in train_ids],
        [labels[i] for i in train_ids],
        threshold=threshold,
        c=c,
        trained={"questions": len(train_ids), "c": c, "max_false_abstain": max_false_abstain},
    )
    val_probs = [model.probability(rows[g.item.id]) for g in valid]
    val_labels = [labels[g.item.id] for g in valid]
    report = {
        "ranker_trees": rounds,
        "answerability_c": c,
        "threshold": round(threshold, 4),
        "train_cv": answer_metrics(oof_probs, [labels[i] for i in train_ids], threshold),
        "validation": {
            "fused": hit_rates([first_gold_rank(g, list(range(len(g.hits)))) for g in valid if g.item.gold]),
            "learned": hit_rates([first_gold_rank(g, ranked(ranker, g)) for g in valid if g.item.gold]),
            **answer_metrics(val_probs, val_labels, threshold),
        },
        "curve": curve(oof_probs, [labels[i] for i in train_ids]),
    }
    model.trained["report"] = {k: report[k] for k in ("train_cv", "curve")}
    return Trained(ranker, model, report)


def _choose_c(ids: Sequence[str], rows: dict[str, Any], labels: dict[str, int]) -> tuple[float, list[float]]:
    """The regularisation with the best cross-validated log loss, and its out-of-fold probabilities."""
    best: tuple[float, float, list[float]] | None = None
    for c in C_GRID:
        probs = [0.0] * len(ids)
        for fold in range(FOLDS):
            fit_ids = [i for i in ids if fold_of(i, FOLDS) != fold]
            fit_labels = [labels[i] for i in fit_ids]
            if len(set(fit_labels)) < 2:  # a tiny set: this fold's rest holds one class only
                rate = float(np.mean(fit_labels)) if fit_labels else 0.5
                for n, i in enumerate(ids):
                    if fold_of(i, FOLDS) == fold:
                        probs[n] = rate
                continue
            model = fit_answerability([rows[i] for i in fit_ids], fit_labels, threshold=0.5, c=c)
            for n, i in enumerate(ids):
                if fold_of(i, FOLDS) == fold:
                    probs[n] = model.probability(rows[i])
        y = np.array([labels[i] for i in ids])
        p = np.clip(np.array(probs), 1e-6, 1 - 1e-6)
        loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        if best is None or loss < best[0]:
            best = (loss, c, probs)
    assert best is not None
    return best[1], best[2]


def curve(probabilities: Sequence[float], labels: Sequence[int]) -> list[dict[str, float]]:
    """Abstention on unanswerable vs false abstention on answerable, threshold by threshold."""
    return [
        {"threshold": t, **answer_metrics(probabilities, labels, t)}
        for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    ]

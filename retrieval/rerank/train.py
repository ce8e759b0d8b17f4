"""Training the learned reranker on a QA set in the eval format (`kmed rerank train QA.jsonl`).

For every answerable question the first stage runs as in search (the fused top N plus named
clauses, each scored on every leg), and each candidate is labelled by the eval matching rule
(`retrieval.evaluation.matches`). LightGBM's LambdaRank then learns to order the candidates of
one question, a query group, so that a gold one comes first. Items whose `fold` is `val` are
held out for early stopping and model selection; without a fold, every fifth question is.
Training is deterministic (one thread, fixed seeds), so the same set gives the same file.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from retrieval.evaluation import QAItem
from retrieval.models import Hit
from retrieval.rerank.features import FEATURE_SET, FEATURES, feature_matrix
from retrieval.rerank.learned import LearnedModel

PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [1, 5],
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "lambdarank_truncation_level": 20,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 20261201,
    "verbosity": -1,
}
MAX_ROUNDS = 600
EARLY_STOP = 60


@dataclass
class Group:
    """One question's candidates, their labels and (lazily) their features."""

    item: QAItem
    hits: list[Hit]
    labels: list[int]
    question: str = ""
    features: list[list[float]] = field(default_factory=list)

    @property
    def has_gold(self) -> bool:
        return any(self.labels)


def _matrix(groups: Sequence[Group], features: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    rows: list[list[float]] = []
    labels: list[int] = []
    sizes = []
    for g in groups:
        if not g.features:
            g.features = feature_matrix(g.question, g.hits, FEATURES)
        index = [FEATURES.index(f) for f in features]
        rows += [[row[i] for i in index] for row in g.features]
        labels += g.labels
        sizes.append(len(g.hits))
    return np.asarray(rows, dtype=np.float64), np.asarray(labels), sizes


def fit(
    train: Sequence[Group],
    valid: Sequence[Group],
    *,
    features: Sequence[str] = FEATURES,
    params: dict[str, Any] | None = None,
    rounds: int = MAX_ROUNDS,
) -> LearnedModel:
    """A LambdaRank model on the groups that hold a gold candidate, stopped early on `valid`
    (without `valid`, exactly `rounds` trees)."""
    import lightgbm

    train = [g for g in train if g.has_gold]
    valid = [g for g in valid if g.has_gold]
    if not train:
        raise ValueError("no training question has a gold clause among its candidates")
    x, y, sizes = _matrix(train, features)
    data = lightgbm.Dataset(x, y, group=sizes, feature_name=list(features), free_raw_data=False)
    settings = {**PARAMS, **(params or {})}
    callbacks: list[Any] = []
    sets: list[Any] = []
    if valid:
        vx, vy, vsizes = _matrix(valid, features)
        sets.append(lightgbm.Dataset(vx, vy, group=vsizes, reference=data))
        callbacks.append(lightgbm.early_stopping(EARLY_STOP, first_metric_only=True, verbose=False))
    booster = lightgbm.train(settings, data, num_boost_round=rounds, valid_sets=sets, callbacks=callbacks)
    if valid and booster.best_iteration:
        booster = lightgbm.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    trained = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "feature_set": FEATURE_SET,
        "questions": len(train),
        "validation_questions": len(valid),
        "rounds": booster.num_trees(),
        "params": {k: v for k, v in settings.items() if k not in ("verbosity",)},
    }
    return LearnedModel(booster, tuple(features), trained)


def first_gold_rank(group: Group, order: Sequence[int]) -> int | None:
    """1-based rank of the first gold candidate in `order` (candidate indexes), or None."""
    return next((rank for rank, i in enumerate(order, start=1) if group.labels[i]), None)


def ranked(model: LearnedModel, group: Group) -> list[int]:
    """Candidate indexes in the model's order (ties keep the fused order)."""
    if not group.hits:
        return []
    scores = model.scores(group.question, group.hits)
    return sorted(range(len(group.hits)), key=lambda i: (-scores[i], i))


def hit_rates(ranks: Sequence[int | None], cutoffs: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    n = len(ranks) or 1
    out = {f"hit@{c}": sum(1 for r in ranks if r and r <= c) / n for c in cutoffs}
    out["mrr@10"] = sum(1 / r for r in ranks if r and r <= 10) / n
    return {k: round(v, 4) for k, v in out.items()}


def fold_of(item_id: str, folds: int) -> int:
    """A stable cross-validation fold; a paraphrase ('<id>-p') shares its original's fold, so the
    same clause is never on both sides of a split."""
    return zlib.crc32(item_id.removesuffix("-p").encode()) % folds


def split(items: Sequence[QAItem]) -> tuple[list[QAItem], list[QAItem]]:
    """Training and validation items: by the set's `fold` field, else every fifth item held out."""
    if any(i.fold == "val" for i in items):
        return [i for i in items if i.fold != "val"], [i for i in items if i.fold == "val"]
    return [i for i in items if fold_of(i.id, 5) != 2], [i for i in items if fold_of(i.id, 5) == 2]

"""The offline default reranker: a LightGBM LambdaRank model over `features.py`'s features.

The model file is JSON: the feature-set version and the feature names it was trained on, what
it was trained on, and LightGBM's own text model. Loading refuses a file of another feature set
or with a feature this code cannot compute, so a model and the code that feeds it cannot drift
apart silently. The index records nothing about the reranker: swapping models needs no
re-ingestion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import ConfigurationError
from retrieval.modelfile import read_model, write_model
from retrieval.models import Hit
from retrieval.rerank import ordered
from retrieval.rerank.features import FEATURE_SET, FEATURES, FactsCache, feature_matrix

FORMAT = "kmed-learned-reranker"


@dataclass
class LearnedModel:
    booster: Any  # lightgbm.Booster
    features: tuple[str, ...]
    trained: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        body = {
            "format": FORMAT,
            "feature_set": FEATURE_SET,
            "features": list(self.features),
            "trained": self.trained,
            "model": self.booster.model_to_string(),
        }
        write_model(path, body)

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        import lightgbm

        body = read_model(
            path,
            format=FORMAT,
            what="learned-reranker model",
            missing="set KMED_RERANK__LEARNED_MODEL, train one with `kmed rerank train QA.jsonl`, "
            "or set KMED_RERANK__BACKEND=none",
        )
        if body.get("feature_set") != FEATURE_SET:
            raise ConfigurationError(
                f"{path} was trained on features {body.get('feature_set')!r}; this version computes "
                f"{FEATURE_SET!r}. Retrain it with `kmed rerank train QA.jsonl --out {path}`"
            )
        features = tuple(body.get("features") or ())
        unknown = [f for f in features if f not in FEATURES]
        if not features or unknown:
            raise ConfigurationError(
                f"{path} expects features this version does not compute "
                f"({', '.join(unknown) or 'none listed'}); retrain it with `kmed rerank train`"
            )
        booster = lightgbm.Booster(model_str=body["model"])
        if booster.num_feature() != len(features):
            raise ConfigurationError(
                f"{path}: the model has {booster.num_feature()} inputs for {len(features)} features"
            )
        return cls(booster, features, dict(body.get("trained") or {}))

    def scores(self, question: str, hits: Sequence[Hit], cache: FactsCache | None = None) -> np.ndarray:
        matrix = np.asarray(feature_matrix(question, hits, self.features, cache), dtype=np.float64)
        return np.asarray(self.booster.predict(matrix, num_threads=1), dtype=np.float64)


class LearnedReranker:
    name = "learned"

    def __init__(self, model: LearnedModel) -> None:
        self.model = model
        self.facts = FactsCache()

    @classmethod
    def load(cls, path: Path) -> LearnedReranker:
        return cls(LearnedModel.load(path))

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        return ordered(hits, self.model.scores(question, hits, self.facts).tolist())

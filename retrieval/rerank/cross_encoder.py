"""A cross-encoder reads the question and each clause together (sentence-transformers).

Deployments name a model from their own mirror or a local folder (`BAAI/bge-reranker-v2-m3`,
a Korean legal reranker); nothing is downloaded here, so a name that is not already in the
local Hugging Face cache fails at start-up with a message, not at the first question.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retrieval.errors import ConfigurationError
from retrieval.models import Hit, passage_text
from retrieval.rerank import RerankFailed, ordered
from retrieval.settings import RerankSettings


class CrossEncoderReranker:
    def __init__(self, settings: RerankSettings, model: Any | None = None) -> None:
        self.name = f"cross-encoder:{settings.model}"
        self.batch_size = settings.batch_size
        if model is not None:
            self.model = model
            return
        try:
            from sentence_transformers import CrossEncoder

            self.model = CrossEncoder(settings.model, device=settings.device, max_length=settings.max_length)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot load the cross-encoder {settings.model!r}: {exc}. Give a local folder or a name "
                "in your Hugging Face mirror's cache (KMED_RERANK__MODEL), or another KMED_RERANK__BACKEND"
            ) from exc

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        pairs = [(question, passage_text(h.clause)) for h in hits]
        try:
            scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        except RuntimeError as exc:  # torch: out of memory, a broken model
            raise RerankFailed(f"the cross-encoder failed: {exc}") from exc
        return ordered(hits, [float(s) for s in scores])

"""The rerank stage: after fusion, one seam puts the best of the top candidates first.

    rerank(question, hits) -> hits        (the same hits, reordered, `score` = the reranker's)

Backends (`KMED_RERANK__BACKEND`):
- `learned` (offline default): a LightGBM LambdaRank model over features of the question and
  each candidate (`features.py`), shipped in `corpora/models/`, retrained with `kmed rerank train`;
- `cross-encoder`: a sentence-transformers `CrossEncoder` by name or local folder
  (`BAAI/bge-reranker-v2-m3`, a Korean reranker from a deployment's mirror);
- `http`: a rerank server (Hugging Face TEI, Infinity, Jina, Cohere, vLLM `/rerank`);
- `llm`: relevance judgements through the answer generator's chat model;
- `none`: the fused order.
A backend that fails at query time (a server down, a timeout) raises `RerankFailed`; search
then keeps the fused order and says so in the result, rather than failing the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from retrieval.errors import ConfigurationError, KmedError
from retrieval.models import Hit
from retrieval.settings import RerankSettings

if TYPE_CHECKING:
    from retrieval.generators import ChatModel


class RerankFailed(KmedError):
    """A reranker could not score the candidates at query time; search falls back to fusion."""


class Reranker(Protocol):
    name: str

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]: ...


class NoReranker:
    """The fused order, unchanged."""

    name = "none"

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        return list(hits)


def ordered(hits: Sequence[Hit], scores: Sequence[float]) -> list[Hit]:
    """Hits sorted by a reranker's scores (ties keep the fused order), scores and ranks set."""
    order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
    return [
        hits[i].model_copy(update={"score": float(scores[i]), "rank": rank})
        for rank, i in enumerate(order, start=1)
    ]


def build_reranker(settings: RerankSettings, chat: ChatModel | None = None) -> Reranker:
    """The configured backend; a model that cannot be loaded is a `ConfigurationError`."""
    if settings.backend == "none":
        return NoReranker()
    if settings.backend == "learned":
        from retrieval.rerank.learned import LearnedReranker

        return LearnedReranker.load(settings.learned_model)
    if settings.backend == "cross-encoder":
        from retrieval.rerank.cross_encoder import CrossEncoderReranker

        return CrossEncoderReranker(settings)
    if settings.backend == "http":
        from retrieval.rerank.http import HttpReranker

        return HttpReranker(settings)
    if settings.backend == "llm":
        from retrieval.rerank.llm import LLMReranker

        if chat is None:
            raise ConfigurationError(
                "KMED_RERANK__BACKEND=llm judges relevance with the answer model: set KMED_LLM__PROVIDER "
                "(openai-like or ollama) and its model, or choose another reranker"
            )
        return LLMReranker(chat, depth=settings.llm_depth)
    raise ConfigurationError(f"unknown reranker {settings.backend!r}")  # pydantic's Literal stops this


__all__ = ["NoReranker", "RerankFailed", "Reranker", "build_reranker", "ordered"]

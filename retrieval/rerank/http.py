"""A rerank server over HTTP: the `/rerank` protocol that TEI, Infinity, Jina, Cohere and vLLM speak.

Two request shapes cover them (`KMED_RERANK__PROTOCOL`):
- `tei` (Hugging Face Text Embeddings Inference): POST {"query", "texts"} → [{"index", "score"}];
- `cohere` (Cohere, Jina, Infinity, vLLM): POST {"model", "query", "documents", "top_n"} →
  {"results": [{"index", "relevance_score"}]}.
Responses are read leniently (either score key, a bare list or `results`/`data`); a candidate
the server leaves out scores below every one it returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from retrieval.errors import ConfigurationError
from retrieval.models import Hit, passage_text
from retrieval.rerank import RerankFailed, ordered
from retrieval.settings import RerankSettings


class HttpReranker:
    def __init__(self, settings: RerankSettings, client: httpx.Client | None = None) -> None:
        if not settings.url:
            raise ConfigurationError(
                "KMED_RERANK__BACKEND=http needs KMED_RERANK__URL (e.g. http://tei:8080/rerank)"
            )
        self.url, self.protocol, self.model = settings.url, settings.protocol, settings.model
        self.name = f"http:{settings.model}" if settings.protocol == "cohere" else f"http:{settings.url}"
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self.client = client or httpx.Client(timeout=settings.timeout, headers=headers)

    def request(self, question: str, texts: list[str]) -> dict[str, Any]:
        if self.protocol == "tei":
            return {"query": question, "texts": texts, "truncate": True}
        return {"model": self.model, "query": question, "documents": texts, "top_n": len(texts)}

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        body = self.request(question, [passage_text(h.clause) for h in hits])
        try:
            response = self.client.post(self.url, json=body)
            response.raise_for_status()
            scores = parse_scores(response.json(), len(hits))
        except (httpx.HTTPError, ValueError) as exc:
            raise RerankFailed(f"the rerank server at {self.url} failed: {exc}") from exc
        return ordered(hits, scores)


def parse_scores(data: Any, n: int) -> list[float]:
    """Scores by candidate index from any of the response shapes; ValueError when unreadable."""
    rows = data.get("results", data.get("data")) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ValueError("the response holds no list of results")
    scores: dict[int, float] = {}
    for row in rows:
        if not isinstance(row, dict) or "index" not in row:
            raise ValueError(f"a result without an index: {row!r}"[:200])
        value = row.get("relevance_score", row.get("score"))
        index = int(row["index"])
        if not isinstance(value, int | float) or not 0 <= index < n:
            raise ValueError(f"a result without a usable score or index: {row!r}"[:200])
        scores[index] = float(value)
    floor = min(scores.values(), default=0.0) - 1.0
    return [scores.get(i, floor) for i in range(n)]

"""Relevance judged by the answer model: one listwise call grades the top candidates 0–3.

The prompt is `retrieval.prompts.RERANK_SYSTEM`; the model answers one "n: score" line per
candidate. Judged candidates come first, by grade and then by their fused order; the ones past
`depth` keep the fused order after them. A reply with no readable grade is a `RerankFailed`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.generators import ChatModel
from retrieval.models import Hit
from retrieval.prompts import rerank_messages
from retrieval.rerank import RerankFailed, ordered

_GRADE = re.compile(r"^\s*\[?(\d{1,2})\]?\s*[:：.)\-]\s*([0-3])\b", re.MULTILINE)


class LLMReranker:
    def __init__(self, chat: ChatModel, *, depth: int = 10) -> None:
        self.chat, self.depth = chat, depth
        self.name = f"llm:{chat.name}"

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        judged = list(hits[: self.depth])
        prompt = rerank_messages(question, [(h.clause.label, h.clause.text) for h in judged])
        try:
            reply = self.chat.complete(prompt)
        except Exception as exc:  # llama-index surfaces the client's own errors (httpx, openai)
            raise RerankFailed(f"the model did not answer the relevance prompt: {exc}") from exc
        grades = {int(n): int(g) for n, g in _GRADE.findall(reply) if 1 <= int(n) <= len(judged)}
        if not grades:
            raise RerankFailed(f"no relevance grade in the model's reply: {reply[:120]!r}")
        n = len(hits)
        # grade first, fused order second; unjudged candidates below every judged one
        scores = [
            grades.get(i + 1, 0) + (n - i) / (n + 1) if i < len(judged) else -(i + 1) / (n + 1)
            for i in range(n)
        ]
        return ordered(hits, scores)

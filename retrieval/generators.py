"""What writes an answer from numbered context: a chat model, or the offline extractive default.

A chat model is anything with `complete(messages)` and `stream(messages)`; `LlamaIndexChat`
adapts llama-index's LLM classes (`OpenAILike` for any OpenAI-compatible server, `Ollama`).
Without a configured model, `extractive_answer` picks the clause sentences and items that
answer the question, in the clauses' own words, each with its key. Both outputs go through the
same verification.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from retrieval.errors import ConfigurationError
from retrieval.prompts import NO_ANSWER, ContextBlock
from retrieval.settings import LLMSettings
from retrieval.text import KoreanTokenizer
from retrieval.verify import clause_spans

Messages = Sequence[tuple[str, str]]  # (role, content)

# questions that ask for an amount, a period or a deadline are answered by spans with a number
_ASKS_QUANTITY = re.compile(r"몇|얼마|언제|기간|기한|이내|까지|횟수|용량|몇\s*도|며칠|나이")
_HAS_NUMBER = re.compile(r"\d")
_ITEM = re.compile(r"^\d+(?:의\d+)?\.\s|^[가-하]\.\s")
RANK_PENALTY = 0.1  # how much a lower retrieval rank costs a span (overlap is 0..1)


class ChatModel(Protocol):
    name: str

    def complete(self, messages: Messages) -> str: ...
    def stream(self, messages: Messages) -> Iterator[str]: ...


class LlamaIndexChat:
    """A llama-index LLM behind the two-method seam."""

    def __init__(self, llm: Any, name: str) -> None:
        self.llm, self.name = llm, name

    @staticmethod
    def _messages(messages: Messages) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=role, content=content) for role, content in messages]

    def complete(self, messages: Messages) -> str:
        return str(self.llm.chat(self._messages(messages)).message.content or "")

    def stream(self, messages: Messages) -> Iterator[str]:
        for chunk in self.llm.stream_chat(self._messages(messages)):
            if chunk.delta:
                yield str(chunk.delta)


def build_chat_model(settings: LLMSettings) -> ChatModel | None:
    """The configured model, or None for the extractive default. Nothing is downloaded."""
    if settings.provider == "none":
        return None
    if not settings.model:
        raise ConfigurationError(
            f"KMED_LLM__PROVIDER={settings.provider} needs KMED_LLM__MODEL (the model name)"
        )
    if settings.provider == "openai-like":
        if not settings.base_url:
            raise ConfigurationError("KMED_LLM__PROVIDER=openai-like needs KMED_LLM__BASE_URL (…/v1)")
        from llama_index.llms.openai_like import OpenAILike

        llm: Any = OpenAILike(
            model=settings.model,
            api_base=settings.base_url,
            api_key=settings.api_key or "unused",
            timeout=settings.timeout,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            is_chat_model=True,
            max_retries=settings.max_retries,  # the openai client backs off on 429, 5xx, lost connections
        )
    else:
        from llama_index.llms.ollama import Ollama

        llm = Ollama(
            model=settings.model,
            base_url=settings.base_url or "http://localhost:11434",
            request_timeout=settings.timeout,
            temperature=settings.temperature,
        )
    return LlamaIndexChat(llm, f"{settings.provider}:{settings.model}")


def extractive_answer(
    question: str,
    blocks: Sequence[ContextBlock],
    tokenizer: KoreanTokenizer,
    max_sentences: int,
    max_clauses: int | None = None,
) -> str:
    """The clause spans that share the most content terms with the question, best clause first.

    Only retrieved clauses (not the related ones pulled in) lead; a quantity question prefers
    spans with a number. Spans are copied verbatim, so numbers and deadlines keep the clause's
    wording, and each carries its block key.
    """
    wanted = set(tokenizer.analyse(question).morphemes)
    leading = next((b for b in blocks if not b.related), None)
    if max_clauses is not None:  # quote only the best-ranked clauses (and what they refer to)
        retrieved = [b.n for b in blocks if not b.related][:max_clauses]
        blocks = [b for b in blocks if b.related or b.n in retrieved]
    if not wanted:
        return _lead(leading)
    quantity = bool(_ASKS_QUANTITY.search(question))
    scored: list[tuple[float, int, int, str]] = []
    for rank, block in enumerate(blocks):
        for order, span in enumerate(clause_spans(block.clause.text)):
            analysis = tokenizer.analyse(span)
            overlap = len(wanted & set(analysis.morphemes)) / len(wanted)
            if overlap == 0:
                continue
            score = overlap + (0.15 if quantity and _HAS_NUMBER.search(span) else 0.0)
            score -= RANK_PENALTY * rank + (0.1 if block.related else 0.0)
            scored.append((score, rank, order, f"{_sentence(span)} [{block.n}]"))
    if not scored:  # a lay question shares no term with the clause: the reranker's best clause leads
        return _lead(leading)
    top = max(s for s, *_ in scored)
    floor = 0.6 * top if top > 0 else top  # rank penalties can leave every score below zero
    chosen = sorted((s for s in scored if s[0] >= floor), key=lambda s: -s[0])[:max_sentences]
    # a span that announces its items ("다음 각 호의 기간") is useless without the matching item
    for _, rank, order, text in list(chosen):
        if "각 호" in text or "각 목" in text:
            items = [s for s in scored if s[1] == rank and s[2] > order and _ITEM.match(s[3])]
            if items and not any(i in chosen for i in items):
                chosen.append(max(items, key=lambda s: s[0]))
    return "\n".join(text for *_, text in sorted(chosen, key=lambda s: (s[1], s[2])))


def _lead(block: ContextBlock | None) -> str:
    """The first sentence of the best-ranked clause, or the phrase that says there is none."""
    spans = clause_spans(block.clause.text) if block else []
    if not block or not spans:
        return NO_ANSWER
    lead = spans[:2] if ("각 호" in spans[0] or "각 목" in spans[0]) else spans[:1]
    return "\n".join(f"{_sentence(span)} [{block.n}]" for span in lead)


def _sentence(span: str) -> str:
    """A span as an answer sentence: an item line gets a full stop so the splitter keeps it whole."""
    span = span.rstrip()
    return span if span.endswith((".", "?", "!", "다", "음", "함")) else f"{span}."

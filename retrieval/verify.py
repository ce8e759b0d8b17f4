"""Every generated sentence is checked against the clauses it cites, in code, for every generator.

A sentence keeps its place only if:
1. it cites at least one key that was in the context (invented keys are removed first);
2. the cited clauses support it: enough of its content terms (Kiwi) occur in them, or its
   embedding is close to one of their sentences;
3. each number in it (days, years, doses, percentages) occurs in a cited clause, and a number
   with a unit occurs with that unit (`3개월` is not supported by `3년`);
4. it does not repeat an instruction aimed at the model (text injected through a document).
What fails is removed and reported with the reason; nothing supported left means abstaining.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.prompts import NO_ANSWER, ContextBlock
from retrieval.settings import AnswerSettings
from retrieval.text import KoreanTokenizer

_KEY = re.compile(r"\[(\d{1,3})\]")
_KEYS_RUN = re.compile(r"^(?:\s*\[\d{1,3}\])+")
# a Korean sentence ends in 다. 요. 음. …; "1. " and "가. " (item labels) and "38.5" do not end one
_SPLIT = re.compile(r"(?<=[다요음함임됨것)\]][.])\s+|(?<=[?!。])\s+|\n+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUANTITY = re.compile(
    r"(\d+(?:[.,]\d+)*)\s*(개월|년|월|주|일|시간|분|초|명|원|회|세|%|mg|mcg|kg|g|mL|ml|L|℃)"
)
_INJECTION = re.compile(
    r"(이전|앞의|위의|기존)\s*(의\s*)?(모든\s*)?(지시|명령|지침|규칙)\S*\s*(을|를)?\s*(모두\s*)?무시"
    r"|ignore\s+(all\s+)?(previous|prior|above)\s+instructions|system\s+prompt|시스템\s*프롬프트"
    r"|너는\s*이제|you\s+are\s+now",
    re.IGNORECASE,
)


@dataclass
class Checked:
    """A sentence that passed, with the context keys it cites and, per key, the supporting span."""

    text: str
    keys: list[int]
    quotes: dict[int, str]


@dataclass
class Removed:
    text: str
    reason: str


@dataclass
class Verification:
    sentences: list[Checked] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)
    declined: bool = False  # the generator itself said the context does not answer


def split_sentences(answer: str) -> list[str]:
    """Sentences with their [n] keys; keys written after the full stop stay with their sentence."""
    pieces = [p.strip() for p in _SPLIT.split(answer) if p and p.strip()]
    out: list[str] = []
    for piece in pieces:
        lead = _KEYS_RUN.match(piece)
        if lead and out:
            out[-1] = f"{out[-1]} {lead.group(0).strip()}"
            piece = piece[lead.end() :].strip()
        if piece:
            out.append(piece)
    return out


def clause_spans(text: str) -> list[str]:
    """A clause's sentences and item lines: the spans a quote is taken from."""
    return [s for s in (p.strip() for p in _SPLIT.split(text)) if len(s) > 1]


def _numbers(text: str) -> set[str]:
    """Bare numbers, and numbers with their unit ('10년', '500mg')."""
    bare = {n.replace(",", "") for n in _NUMBER.findall(text)}
    return bare | {n.replace(",", "") + unit for n, unit in _QUANTITY.findall(text)}


class Verifier:
    """Checks sentences against context blocks with the same Kiwi and embedder as search."""

    def __init__(self, tokenizer: KoreanTokenizer, embedder: Embedder, settings: AnswerSettings) -> None:
        self.tokenizer, self.embedder, self.settings = tokenizer, embedder, settings

    def terms(self, text: str) -> set[str]:
        analysis = self.tokenizer.analyse(text)
        return set(analysis.morphemes) | set(analysis.special)

    def verify(self, answer: str, blocks: Sequence[ContextBlock]) -> Verification:
        by_key = {b.n: b for b in blocks}
        result = Verification()
        for sentence in split_sentences(answer):
            bare = re.sub(r"\s+([.,!?])", r"\1", " ".join(_KEY.sub(" ", sentence).split()))
            if NO_ANSWER.replace(" ", "") in bare.replace(" ", ""):
                result.declined = True
                continue
            keys = [int(k) for k in _KEY.findall(sentence)]
            invented = sorted({k for k in keys if k not in by_key})
            if invented:
                result.removed.append(
                    Removed(sentence, f"cites [{', '.join(map(str, invented))}], not in the context")
                )
            keys = list(dict.fromkeys(k for k in keys if k in by_key))
            if not bare:
                continue
            if not keys:
                result.removed.append(Removed(bare, "no citation"))
                continue
            if _INJECTION.search(bare):
                result.removed.append(Removed(bare, "repeats an instruction found in a document"))
                continue
            cited = " ".join(by_key[k].clause.text for k in keys)
            missing = _numbers(bare) - _numbers(cited)
            if missing:  # '15년' said once, not also '15'
                shown = sorted(
                    m
                    for m in missing
                    if not any(
                        o != m and _QUANTITY.fullmatch(o) and o.startswith(m) and not o[len(m)].isdigit()
                        for o in missing
                    )
                )
                result.removed.append(Removed(bare, f"numbers not in the cited clauses: {', '.join(shown)}"))
                continue
            quotes = self._support(bare, [by_key[k] for k in keys])
            if quotes is None:
                result.removed.append(Removed(bare, "the cited clauses do not support it"))
                continue
            result.sentences.append(Checked(bare, keys, quotes))
        return result

    def _support(self, sentence: str, blocks: Sequence[ContextBlock]) -> dict[int, str] | None:
        """Per cited key, the clause span that best supports the sentence; None if support is weak."""
        own = self.terms(sentence)
        spans = [(b.n, span) for b in blocks for span in clause_spans(b.clause.text)]
        if not spans:
            return None
        span_terms = [self.terms(span) for _, span in spans]
        overlap = [len(own & t) / max(len(own), 1) for t in span_terms]
        whole = len(own & set().union(*span_terms)) / max(len(own), 1)
        vectors = self.embedder.embed([span for _, span in spans], kind="passage")
        query = self.embedder.embed([sentence], kind="query")[0]
        similarity = vectors @ query
        if (
            whole < self.settings.min_term_support
            and float(np.max(similarity)) < self.settings.min_similarity_support
        ):
            return None
        quotes: dict[int, str] = {}
        best: dict[int, float] = {}
        for i, (key, span) in enumerate(spans):
            score = overlap[i] + float(similarity[i])
            if score > best.get(key, -1.0):
                best[key], quotes[key] = score, span
        return quotes

"""BM25 sparse vectors whose IDF is left to Qdrant (`Modifier.IDF`).

As in fastembed's Bm25, a document's value for a term is its BM25 term-frequency part,
``tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))``; a query's terms weigh 1 each (lay-term
expansions less), so Qdrant's dot product with IDF applied gives the BM25 score.
Terms are hashed to 31-bit indices with blake2b: stable across processes and versions.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from retrieval.settings import SparseVariant, TextSettings
from retrieval.text import Analysis, KoreanTokenizer


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


class UnitVectors(NamedTuple):
    """A unit's sparse vectors: its own terms, its terms within its article, its Kiwi morphemes."""

    own: list[SparseVector]
    in_context: list[SparseVector]
    morph: list[SparseVector]


class QueryTerms(NamedTuple):
    """A question's sparse queries, from one Kiwi analysis: the configured terms and morphemes."""

    sparse: SparseVector
    morph: SparseVector


def term_index(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little") & 0x7FFFFFFF


def load_synonyms(path: Path | None) -> dict[str, list[str]]:
    """lay<TAB>legal[<TAB>legal...] rows; '#' starts a comment."""
    if path is None or not path.exists():
        return {}
    table: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        cols = [c.strip() for c in line.split("\t") if c.strip()]
        if len(cols) >= 2:
            table.setdefault(cols[0], []).extend(cols[1:])
    return table


class SparseEncoder:
    """Documents and queries to sparse vectors through the one shared tokenizer."""

    def __init__(
        self,
        tokenizer: KoreanTokenizer,
        settings: TextSettings,
        *,
        synonyms: dict[str, list[str]] | None = None,
        expansion_weight: float = 0.5,
    ) -> None:
        self.tokenizer = tokenizer
        self.variant: SparseVariant = settings.sparse_variant
        self.k1, self.b, self.avg_len = settings.bm25_k1, settings.bm25_b, settings.bm25_avg_len
        self.morph_avg_len = settings.bm25_morph_avg_len
        self.synonyms = synonyms if synonyms is not None else load_synonyms(settings.synonyms)
        self.expansion_weight = expansion_weight

    def terms(self, analysis: Analysis) -> list[str]:
        return analysis.terms(self.variant)

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return [self._document(self.terms(a)) for a in self.tokenizer.analyse_many(texts)]

    def encode_in_context(self, texts: Sequence[str], contexts: Sequence[str]) -> UnitVectors:
        """Each text alone, each text together with its context (e.g. a 항 within its 조), and
        each text's Kiwi morphemes.

        The text's terms count in both, so paragraphs of one article do not tie on the
        contextual vector: the one whose own words match ranks first. Each string is
        analysed once.
        """
        unique = list(dict.fromkeys(contexts))  # paragraphs of one article share its context
        analyses = list(self.tokenizer.analyse_many([*texts, *unique]))
        own = [self.terms(a) for a in analyses[: len(texts)]]
        around = dict(zip(unique, (self.terms(a) for a in analyses[len(texts) :]), strict=True))
        return UnitVectors(
            [self._document(terms) for terms in own],
            [self._document(terms + around[ctx]) for terms, ctx in zip(own, contexts, strict=True)],
            [self._document(a.terms("morph"), self.morph_avg_len) for a in analyses[: len(texts)]],
        )

    def _document(self, terms: list[str], avg_len: float | None = None) -> SparseVector:
        counts = Counter(terms)
        norm = self.k1 * (1 - self.b + self.b * len(terms) / (avg_len or self.avg_len))
        weights: dict[int, float] = {}
        for term, tf in counts.items():
            idx = term_index(term)
            weights[idx] = weights.get(idx, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        return SparseVector(list(weights), list(weights.values()))

    def encode_query(self, text: str) -> SparseVector:
        return self.encode_question(text).sparse

    def encode_question(self, text: str) -> QueryTerms:
        """The question's terms weigh 1, the legal terms its lay wording adds `expansion_weight`."""
        analyses = [self.tokenizer.analyse(text)]
        expansions = self.expansions(text)
        if expansions:
            analyses += list(self.tokenizer.analyse_many(expansions))
        vectors = []
        for terms_of in (self.terms, lambda a: a.terms("morph")):
            weights: dict[int, float] = {}
            for n, analysis in enumerate(analyses):
                for term in terms_of(analysis):
                    weights.setdefault(term_index(term), 1.0 if n == 0 else self.expansion_weight)
            vectors.append(SparseVector(list(weights), list(weights.values())))
        return QueryTerms(*vectors)

    def expansions(self, text: str) -> list[str]:
        """The legal terms that the question's lay wording adds to its sparse query."""
        return [legal for lay, legals in self.synonyms.items() if lay in text for legal in legals]

"""Retrieval evaluation on a QA set in the format of shared/eval/README.md.

Matching rule (from that README): a statute hit matches a gold entry when law (the parent
Act), level and article are equal and, where the gold names a paragraph, the hit is that
paragraph or the whole article; a guideline hit matches when it is from the same document
and its page range includes the gold page. Unanswerable items are not scored here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from retrieval.errors import InvalidQuery
from retrieval.models import Clause, Hit

if TYPE_CHECKING:
    from retrieval.answer import Answer

CUTOFFS = (1, 5, 10)


@dataclass(frozen=True)
class QAItem:
    id: str
    type: str
    question: str
    gold: list[dict[str, Any]]
    evidence: str = ""
    fold: str = ""  # train / val in a training set; empty elsewhere
    tags: tuple[str, ...] = ()


def load_qa(path: Path) -> list[QAItem]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(
                QAItem(
                    row["id"],
                    row["type"],
                    row["question"],
                    list(row.get("gold") or []),
                    row.get("evidence", ""),
                    str(row.get("fold") or ""),
                    tuple(row.get("tags") or ()),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidQuery(
                f"{path}:{n}: not a QA item ({exc}); see shared/eval/README.md for the format"
            ) from exc
    return items


def matches(clause: Clause, gold: dict[str, Any]) -> bool:
    if "doc" in gold:
        # a guideline is named by its file (without .pdf); pages are 1-based physical indexes
        doc = PurePath(clause.source).stem if clause.doc_type == "guideline" else None
        first, last = clause.page_start, clause.page_end
        return doc == gold["doc"] and first is not None and first <= int(gold["page"]) <= (last or first)
    if (clause.act, clause.level, clause.article) != (
        gold.get("law"),
        gold.get("level"),
        gold.get("article"),
    ):
        return False
    paragraph = gold.get("paragraph")
    if paragraph is None:
        # item-only gold: the article has no 항, so only the whole-article unit holds the item
        return not gold.get("item") or clause.paragraph is None
    return clause.paragraph is None or clause.paragraph == paragraph


def first_match_rank(hits: Sequence[Hit], gold: Sequence[dict[str, Any]]) -> int | None:
    for hit in hits:
        if any(matches(hit.clause, g) for g in gold):
            return hit.rank
    return None


@dataclass
class ModeScore:
    ranks: dict[str, int | None] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        n = len(self.ranks) or 1
        out = {f"hit@{c}": sum(1 for r in self.ranks.values() if r and r <= c) / n for c in CUTOFFS}
        out["mrr@10"] = sum(1 / r for r in self.ranks.values() if r and r <= 10) / n
        return {k: round(v, 4) for k, v in out.items()}


Metrics = dict[str, float]  # "hit@1", "hit@5", "hit@10", "mrr@10" → value


@dataclass(frozen=True)
class RetrievalReport:
    """Retrieval scores per run label (a mode, or a mode with a reranker)."""

    n_answerable: int
    modes: dict[str, Metrics]
    misses: list[str]  # items the first label did not find in the cut-off
    by_type: dict[str, dict[str, Metrics]]  # label → item type → metrics
    ranks: dict[str, dict[str, int | None]]  # label → item id → rank of the first match

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    abstain_rate: float
    false_abstain_rate: float


@dataclass(frozen=True)
class AnswerReport:
    """Answer scores over a QA set; see `evaluate_answers`."""

    cited_sentence_rate: float
    citation_precision: float
    abstain_rate: float
    false_abstain_rate: float
    n_citations: int
    wrong_citations: list[str]  # "item id:clause label"
    abstained: list[str]  # item ids
    curve: list[CurvePoint]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    items: Sequence[QAItem],
    run: Callable[[str, str], Sequence[Hit]],
    modes: Sequence[str],
    *,
    types: Sequence[str] | None = None,
) -> RetrievalReport:
    """Score `run(question, mode)` for each mode; `as_json()` is what `kmed eval --json` prints."""
    answerable = [i for i in items if i.gold and (types is None or i.type in types)]
    scores = {mode: ModeScore() for mode in modes}
    for item in answerable:
        for mode in modes:
            scores[mode].ranks[item.id] = first_match_rank(run(item.question, mode), item.gold)
    first = modes[0] if modes else None
    misses = [i.id for i in answerable if first and scores[first].ranks[i.id] is None]
    by_type = {
        mode: {
            t: ModeScore({i.id: scores[mode].ranks[i.id] for i in answerable if i.type == t}).metrics()
            for t in sorted({i.type for i in answerable})
        }
        for mode in modes
    }
    return RetrievalReport(
        n_answerable=len(answerable),
        modes={mode: scores[mode].metrics() for mode in modes},
        misses=misses,
        by_type=by_type,
        ranks={mode: scores[mode].ranks for mode in modes},
    )


def supports_gold(clause: Clause, item: QAItem) -> bool:
    """A citation is right when its clause is a gold citation or holds a gold evidence excerpt."""
    if any(matches(clause, g) for g in item.gold):
        return True
    text = " ".join(clause.text.split())
    return any(" ".join(part.split()) in text for part in item.evidence.split(" / ") if part.strip())


def evaluate_answers(
    items: Sequence[QAItem],
    run: Callable[[str], Answer],
    clause_of: Callable[[str], Clause],
) -> AnswerReport:
    """Answer metrics over a QA set: `run(question)` returns an `Answer`; `clause_of(id)` a clause.

    cited_sentence_rate: answer sentences with at least one citation; citation_precision: of the
    citations in answers to answerable items, those whose clause is gold or holds gold evidence;
    abstain_rate on unanswerable items; false_abstain_rate on answerable ones.
    """
    sentences = cited = citations = correct = 0
    abstained: dict[str, bool] = {}
    decided: dict[str, tuple[bool, float | None]] = {}  # abstained before the model's say, P(answerable)
    wrong: list[str] = []
    for item in items:
        result = run(item.question)
        abstained[item.id] = result.abstained
        decided[item.id] = (
            result.abstained and result.abstain_stage != "answerability",
            result.answerable,
        )
        sentences += len(result.sentences)
        cited += sum(1 for s in result.sentences if s.citations)
        if not item.gold or result.abstained:
            continue
        for citation in result.citations:
            citations += 1
            if supports_gold(clause_of(citation.clause_id), item):
                correct += 1
            else:
                wrong.append(f"{item.id}:{citation.label}")
    unanswerable = [i.id for i in items if not i.gold]
    answerable = [i.id for i in items if i.gold]
    return AnswerReport(
        cited_sentence_rate=round(cited / sentences, 4) if sentences else 1.0,
        citation_precision=round(correct / citations, 4) if citations else 0.0,
        abstain_rate=_rate(abstained[i] for i in unanswerable),
        false_abstain_rate=_rate(abstained[i] for i in answerable),
        n_citations=citations,
        wrong_citations=wrong,
        abstained=sorted(k for k, v in abstained.items() if v),
        curve=abstention_curve(decided, set(unanswerable)),
    )


def _rate(flags: Iterable[bool]) -> float:
    seen = list(flags)
    return round(sum(seen) / len(seen), 4) if seen else 0.0


THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def abstention_curve(
    decided: dict[str, tuple[bool, float | None]], unanswerable: set[str]
) -> list[CurvePoint]:
    """Abstention on unanswerable and false abstention on answerable items had the answerability
    threshold been t, for each t; rules and verification are taken to decide as they did."""
    rows = []
    for t in THRESHOLDS:
        refuse = {i: ruled or (p is not None and p < t) for i, (ruled, p) in decided.items()}
        rows.append(
            CurvePoint(
                threshold=t,
                abstain_rate=_rate(refuse[i] for i in refuse if i in unanswerable),
                false_abstain_rate=_rate(refuse[i] for i in refuse if i not in unanswerable),
            )
        )
    return rows

"""Retrieval evaluation on a QA set in the format of shared/eval/README.md.

Matching rule (from that README): a statute hit matches a gold entry when law (the parent
Act), level and article are equal and, where the gold names a paragraph, the hit is that
paragraph or the whole article; a guideline hit matches when it is from the same document
and its page range includes the gold page. Unanswerable items are not scored here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from retrieval.errors import InvalidQuery
from retrieval.models import Clause, Hit

CUTOFFS = (1, 5, 10)


@dataclass(frozen=True)
class QAItem:
    id: str
    type: str
    question: str
    gold: list[dict[str, Any]]


def load_qa(path: Path) -> list[QAItem]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(QAItem(row["id"], row["type"], row["question"], list(row.get("gold") or [])))
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


def evaluate(
    items: Sequence[QAItem],
    run: Callable[[str, str], Sequence[Hit]],
    modes: Sequence[str],
    *,
    types: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Score `run(question, mode)` for each mode; returns the JSON shape `kmed eval --json` prints."""
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
    return {
        "n_answerable": len(answerable),
        "modes": {mode: scores[mode].metrics() for mode in modes},
        "misses": misses,
        "by_type": by_type,
        "ranks": {mode: scores[mode].ranks for mode in modes},
    }

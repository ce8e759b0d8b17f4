"""The matching rule of shared/eval/README.md and the metrics computed from ranks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from retrieval.errors import InvalidQuery
from retrieval.evaluation import ModeScore, QAItem, evaluate, first_match_rank, load_qa, matches
from retrieval.models import Clause, Hit

ACT = "감염병의 예방 및 관리에 관한 법률"


def clause(
    article: str = "제11조", paragraph: str | None = None, level: str = "법률", act: str = ACT
) -> Clause:
    law = act if level == "법률" else f"{act} {level}"
    label = f"{law} {article}{paragraph or ''}"
    return Clause(
        clause_id=label, doc_id=law, law=law, act=act, level=level, article=article,
        paragraph=paragraph, text="…", label=label,
    )  # fmt: skip


def gold(
    article: str = "제11조", paragraph: str | None = None, level: str = "법률", **extra: Any
) -> dict[str, Any]:
    entry = {"law": ACT, "level": level, "article": article, **extra}
    if paragraph:
        entry["paragraph"] = paragraph
    return entry


@pytest.mark.parametrize(
    ("hit", "entry", "expected"),
    [
        (clause(paragraph="제2항"), gold(paragraph="제2항"), True),  # the paragraph itself
        (clause(), gold(paragraph="제2항"), True),  # the whole article contains it
        (clause(paragraph="제1항"), gold(paragraph="제2항"), False),  # another paragraph
        (clause(paragraph="제1항"), gold(), True),  # gold is the whole article
        (clause(), gold(), True),
        (clause(paragraph="제2항", level="시행령"), gold(paragraph="제2항"), False),  # level differs
        (clause(level="시행령"), gold(level="시행령"), True),  # law is the parent Act at every level
        (clause(article="제11조의2"), gold(), False),  # another article
        (clause(act="의료법"), gold(), False),
        (clause(), gold(item="제3호"), True),  # item-only gold: the article has no 항
        (clause(paragraph="제1항"), gold(item="제3호"), False),  # a 항 unit is not the whole article
        (clause(paragraph="제2항"), gold(paragraph="제2항", item="제3호"), True),
        (clause(), gold(paragraph="제2항", item="제3호"), True),
        (clause(paragraph="제1항"), gold(paragraph="제2항", item="제3호"), False),
        (clause(), {"doc": "코로나19_대응지침", "page": 3}, False),  # a statute is never a guideline page
    ],
)
def test_matching_rule(hit: Clause, entry: dict[str, Any], expected: bool) -> None:
    assert matches(hit, entry) is expected


def hits(*clauses: Clause) -> list[Hit]:
    return [Hit(clause=c, score=1.0 / n, rank=n) for n, c in enumerate(clauses, start=1)]


def test_first_match_rank() -> None:
    ranked = hits(clause("제1조"), clause("제11조", "제1항"), clause("제11조", "제2항"), clause("제11조"))
    assert first_match_rank(ranked, [gold(paragraph="제2항")]) == 3
    assert first_match_rank(ranked, [gold("제99조"), gold(paragraph="제1항")]) == 2
    assert first_match_rank(ranked, [gold("제99조")]) is None
    assert first_match_rank([], [gold()]) is None


def test_metrics_from_ranks() -> None:
    score = ModeScore({"a": 1, "b": 3, "c": None, "d": 12})
    assert score.metrics() == {
        "hit@1": 0.25,
        "hit@5": 0.5,
        "hit@10": 0.5,
        "mrr@10": round((1 + 1 / 3) / 4, 4),
    }
    assert ModeScore().metrics() == {"hit@1": 0.0, "hit@5": 0.0, "hit@10": 0.0, "mrr@10": 0.0}


def test_evaluate_scores_each_mode_over_answerable_items() -> None:
    items = [
        QAItem("q1", "statute", "첫째", [gold(paragraph="제2항")]),
        QAItem("q2", "statute", "둘째", [gold("제12조")]),
        QAItem("q3", "unanswerable", "셋째", []),
    ]
    ranked = {
        ("첫째", "dense"): hits(clause("제11조", "제2항")),
        ("둘째", "dense"): hits(clause("제1조"), clause("제2조"), clause("제12조", "제1항")),
        ("첫째", "sparse"): hits(clause("제11조", "제1항")),
        ("둘째", "sparse"): hits(clause("제12조")),
    }
    asked: list[tuple[str, str]] = []

    def run(question: str, mode: str) -> Sequence[Hit]:
        asked.append((question, mode))
        return ranked[question, mode]

    report = evaluate(items, run, ["dense", "sparse"])
    assert ("셋째", "dense") not in asked  # unanswerable items are not scored
    assert report.n_answerable == 2
    assert report.ranks == {"dense": {"q1": 1, "q2": 3}, "sparse": {"q1": None, "q2": 1}}
    assert report.modes["dense"] == {"hit@1": 0.5, "hit@5": 1.0, "hit@10": 1.0, "mrr@10": round(2 / 3, 4)}
    assert report.modes["sparse"]["hit@1"] == 0.5
    assert report.misses == []  # by the first mode
    assert report.by_type["dense"] == {"statute": report.modes["dense"]}


def test_load_qa(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    rows = [
        {
            "id": "d001",
            "type": "statute",
            "question": "진료기록부는 몇 년 보존?",
            "gold": [gold()],
            "answer": "10년",
        },
        {"id": "u001", "type": "unanswerable", "question": "미국 HIPAA는?", "gold": []},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    items = load_qa(path)
    assert items == [
        QAItem("d001", "statute", "진료기록부는 몇 년 보존?", [gold()]),
        QAItem("u001", "unanswerable", "미국 HIPAA는?", []),
    ]


@pytest.mark.parametrize(
    "bad", ['{"id": "d002", "type": "statute"', '{"id": "d002", "type": "statute"}', "[1, 2]"]
)
def test_load_qa_names_the_malformed_line(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "qa.jsonl"
    good = json.dumps({"id": "d001", "type": "statute", "question": "질문", "gold": []})
    path.write_text(f"{good}\n\n{bad}\n", encoding="utf-8")
    with pytest.raises(InvalidQuery, match=r"qa\.jsonl:3: not a QA item"):
        load_qa(path)


@pytest.mark.corpus
def test_load_qa_reads_the_shared_dev_set(shared: Path) -> None:
    path = shared / "eval" / "dev.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found")
    items = load_qa(path)
    assert len(items) == 35
    assert sum(1 for i in items if not i.gold) == 7

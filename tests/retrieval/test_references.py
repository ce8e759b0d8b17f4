"""Cross-reference extraction in clause text and resolution against known clause ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.statutes import parse_statute
from retrieval.references import clause_index, extract_references, law_aliases, resolve_references

DATA = Path(__file__).resolve().parents[1] / "data"
DECREE = "의료법 시행규칙"
DECREE_ALIASES = law_aliases("의료법", "시행규칙", [])


def refs(
    text: str,
    *,
    law: str = DECREE,
    article: str | None = "제11조의2",
    paragraph: str | None = "제2항",
    aliases: dict[str, str] | None = None,
) -> list[tuple[str, str, str | None, str | None]]:
    found = extract_references(
        text,
        law=law,
        aliases=DECREE_ALIASES if aliases is None else aliases,
        article=article,
        paragraph=paragraph,
    )
    return [(r.law, r.article, r.paragraph, r.item) for r in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("제22조제2항에 따른 기록", [(DECREE, "제22조", "제2항", None)]),
        ("제22조의2제1항제3호에 해당하는", [(DECREE, "제22조의2", "제1항", "제3호")]),
        ("법 제4조제3항에 따라", [("의료법", "제4조", "제3항", None)]),
        ("영 제8조에 따른", [("의료법 시행령", "제8조", None, None)]),
        ("「간호법」 제12조의 업무", [("간호법", "제12조", None, None)]),
        ("「의료법 시행령」 제5조", [("의료법 시행령", "제5조", None, None)]),
        (
            "「약사법」 제23조 및 같은 법 시행규칙 제15조",
            [("약사법", "제23조", None, None), ("약사법 시행규칙", "제15조", None, None)],
        ),
        ("「약사법」에 따라 개설등록된 약국 및 같은 법 제91조", [("약사법", "제91조", None, None)]),
        ("제1항에 따라 제출받은", [(DECREE, "제11조의2", "제1항", None)]),
        (
            "제17조제1항 또는 같은 조 제4항",
            [(DECREE, "제17조", "제1항", None), (DECREE, "제17조", "제4항", None)],
        ),
        (
            "제3조제1항제1호 및 같은 항 제2호",
            [(DECREE, "제3조", "제1항", "제1호"), (DECREE, "제3조", "제1항", "제2호")],
        ),
        (
            "「의료법」 제22조제1항 및 제2항",
            [("의료법", "제22조", "제1항", None), ("의료법", "제22조", "제2항", None)],
        ),
        ("제1항부터 제3항까지", [(DECREE, "제11조의2", "제1항", None), (DECREE, "제11조의2", "제3항", None)]),
        ("공단이 법 제96조에 따라", [("의료법", "제96조", None, None)]),
        ("이 규칙 제3조", [(DECREE, "제3조", None, None)]),
        (
            "「형법」 중 제233조, 제234조(제233조의 죄만 해당한다. 이하 같다), 제235조",
            [
                ("형법", "제233조", None, None),
                ("형법", "제234조", None, None),
                ("형법", "제235조", None, None),
            ],
        ),
        ("별지 제8호서식의 신청서", []),
        ("부칙 제2조에 따른", []),
        ("제2항에 따라", []),  # the clause itself
    ],
)
def test_extraction(text: str, expected: list[tuple[str, str, str | None, str | None]]) -> None:
    """Read inside 의료법 시행규칙 제11조의2제2항; references to that clause itself are left out."""
    assert refs(text) == expected


def test_ranges_include_the_units_between() -> None:
    assert [r[2] for r in refs("제1항부터 제3항까지", paragraph=None)] == ["제1항", "제2항", "제3항"]
    articles = [r[1] for r in refs("제10조부터 제13조까지, 제13조의2")]
    assert articles == ["제10조", "제11조", "제12조", "제13조", "제13조의2"]


def test_law_means_nothing_in_an_act_without_a_definition() -> None:
    assert refs("법 제3조", law="의료법", aliases=law_aliases("의료법", "법률", [])) == []


def test_definitions_override_the_defaults() -> None:
    texts = ['「약사법」(이하 "법"이라 한다) 및 …']
    aliases = law_aliases("의약품 부작용 피해구제에 관한 규정", "시행규칙", texts)
    assert aliases["법"] == "약사법"
    assert aliases["영"] == "의약품 부작용 피해구제에 관한 규정 시행령"


def test_sample_law_references_resolve_within_the_law() -> None:
    law = parse_statute(DATA / "statute_sample.md")
    resolved = {c.label: c for c in resolve_references(law.clauses, clause_index(law.clauses))}
    keep = resolved["시험보건법 시행규칙 제2조의2제3항"]
    assert [(r.raw, r.target_id) for r in keep.references] == [
        ("제1항", "s-990001-a2-2-p1"),
        ("같은 조 제4항", "s-990001-a2-2-p4"),
    ]
    definitions = resolved["시험보건법 시행규칙 제2조"]
    assert [(r.law, r.article, r.target_id) for r in definitions.references] == [
        ("시험보건법", "제3조", None),  # the Act is not in this index
        ("시험보건법 시행령", "제5조", None),
    ]


def test_resolution_falls_back_to_the_article() -> None:
    law = parse_statute(DATA / "statute_sample.md")
    known = {
        ("시험보건법", "제3조", None): "s-act-a3",
        # spacing differs: titles are compared without spaces
        ("시험 보건법 시행령", "제5조", "제1항"): "s-decree-a5-p1",
        ("의료법", "제22조", "제1항"): "s-med-a22-p1",
    }
    resolved = {c.label: c for c in resolve_references(law.clauses, known)}
    targets = [r.target_id for r in resolved["시험보건법 시행규칙 제2조"].references]
    assert targets == ["s-act-a3", "s-decree-a5-p1"]
    fourth = resolved["시험보건법 시행규칙 제2조의2제4항"].references
    assert [(r.article, r.paragraph, r.target_id) for r in fourth if r.law == "의료법"] == [
        ("제22조", "제1항", "s-med-a22-p1"),
        ("제22조", "제2항", "s-med-a22-p1"),  # 제2항 unknown: the 조's first 항 stands for it
    ]
    untouched = law.clauses[0]
    assert resolve_references([untouched], known)[0] is untouched

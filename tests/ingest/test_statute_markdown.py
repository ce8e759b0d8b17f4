"""The Markdown reader and the shared clause rules, on a small hand-written statute."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ingest.errors import ParseError
from ingest.statutes import ParsedLaw, parse_statute
from retrieval.models import Clause

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = DATA / "statute_sample.md"


@pytest.fixture(scope="module")
def law() -> ParsedLaw:
    return parse_statute(SAMPLE)


def by_label(law: ParsedLaw) -> dict[str, Clause]:
    return {c.label: c for c in [*law.clauses, *law.supplementary]}


def test_metadata_from_front_matter(law: ParsedLaw) -> None:
    assert (law.title, law.act, law.level) == ("시험보건법 시행규칙", "시험보건법", "시행규칙")
    assert law.format == "markdown"
    assert (law.law_id, law.mst) == ("990001", "900001")
    assert (law.promulgated, law.effective) == (date(2024, 3, 15), date(2024, 4, 1))
    assert law.counts == {"articles": 4, "paragraphs": 3, "items": 3, "deleted": 4, "supplementary": 6}


def test_one_clause_per_paragraph_or_whole_article(law: ParsedLaw) -> None:
    assert [c.label for c in law.clauses] == [
        "시험보건법 시행규칙 제1조",
        "시험보건법 시행규칙 제2조",
        "시험보건법 시행규칙 제2조의2제1항",
        "시험보건법 시행규칙 제2조의2제3항",
        "시험보건법 시행규칙 제2조의2제4항",
        "시험보건법 시행규칙 제4조",
    ]
    clause = by_label(law)["시험보건법 시행규칙 제2조의2제3항"]
    assert clause.clause_id == "s-990001-a2-2-p3"
    assert (clause.article, clause.paragraph, clause.article_title) == ("제2조의2", "제3항", "기록의 보관")
    assert clause.doc_id == "law-990001"
    assert clause.text.startswith("보건기관의 장은 제1항에 따라")  # the ③ is in the label, not the text


def test_amendment_notes_move_to_notes(law: ParsedLaw) -> None:
    first = law.clauses[0]
    assert first.text.endswith("규정함을 목적으로 한다.")
    assert first.notes == ["<개정 2022.3.4>"]
    assert by_label(law)["시험보건법 시행규칙 제4조"].notes == ["<제목개정 2022.3.4>"]
    for clause in [*law.clauses, *law.supplementary]:
        assert "<개정" not in clause.text and "<신설" not in clause.text and "**" not in clause.text
        assert "\\." not in clause.text and "<img" not in clause.text


def test_deleted_units_are_dropped(law: ParsedLaw) -> None:
    labels = by_label(law)
    assert "시험보건법 시행규칙 제3조" not in labels
    assert "시험보건법 시행규칙 제2조의2제2항" not in labels
    definitions = labels["시험보건법 시행규칙 제2조"]
    assert "삭제" not in definitions.text
    assert "나. " not in definitions.text


def test_items_carry_their_sub_items(law: ParsedLaw) -> None:
    definitions = by_label(law)["시험보건법 시행규칙 제2조"]
    assert [i.number for i in definitions.items] == ["제1호", "제1호의2", "제3호"]
    assert definitions.items[1].text == (
        '"보건요원"이란 다음 각 목의 사람을 말한다.\n가. 의사\n다. 간호사\n  1) 전문간호사를 포함한다.'
    )
    assert definitions.text.splitlines() == [
        "이 규칙에서 사용하는 용어의 뜻은 다음과 같다.",
        '1. "보건기관"이란 법 제3조에 따른 기관을 말한다.',
        '1의2. "보건요원"이란 다음 각 목의 사람을 말한다.',
        "  가. 의사",
        "  다. 간호사",
        "    1) 전문간호사를 포함한다.",
        '3. "기록"이란 영 제5조제1항에 따른 기록을 말한다.',
    ]


def test_headings_outermost_first_and_reset_by_chapter(law: ParsedLaw) -> None:
    labels = by_label(law)
    assert labels["시험보건법 시행규칙 제1조"].headings == ["제1장 총칙", "제1절 통칙"]
    assert labels["시험보건법 시행규칙 제2조의2제1항"].headings == ["제1장 총칙", "제2절 기록"]
    assert labels["시험보건법 시행규칙 제4조"].headings == ["제2장 보건요원"]


def test_inline_image_gloss_and_boxed_table(law: ParsedLaw) -> None:
    assert by_label(law)["시험보건법 시행규칙 제4조"].text.splitlines() == [
        "보건요원은 모성(母性) 보호에 관한 교육을 다음의 시간 이상 받아야 한다.",
        "┌────────┐",
        "│연간  8시간│",
        "└────────┘",
    ]


def test_supplementary_provisions_get_their_own_ids(law: ParsedLaw) -> None:
    sup = law.supplementary
    assert all(c.supplementary for c in sup)
    assert [c.clause_id for c in sup] == [
        "s-990001-sup20200110100-a1",
        "s-990001-sup20200110100-a2-p1",
        "s-990001-sup20220304110-a0-p1",
        "s-990001-sup20220304110-a0-p2",
        "s-990001-sup20230506120-a0",
        "s-990001-sup20240315130-a5",
    ]
    assert sup[0].label == "시험보건법 시행규칙 부칙 <제100호,2020.1.10> 제1조"
    assert sup[4].label == "시험보건법 시행규칙 부칙 <제120호,2023.5.6>"
    # an amended law's article quoted inside a 부칙 stays text of the 부칙 article
    assert "제80조의3(준용규정)" in sup[1].text
    ids = [c.clause_id for c in [*law.clauses, *sup]]
    assert len(ids) == len(set(ids))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "law.md"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# 시험법\n\n##### 제1조 (목적)\n\n본문\n", "no YAML front matter"),
        ("---\n제목: 시험법\n법령구분: 법률\n\n##### 제1조 (목적)\n", "not closed"),
        ("---\n제목: [시험법\n---\n", "not valid YAML"),
        ("---\n법령구분: 법률\n---\n# 시험법\n", "lacks 제목"),
        ("---\n제목: 시험법\n법령구분: 법률\n---\n# 시험법\n\n##### 부록\n", "is not a '##### 제N조"),
        (
            "---\n제목: 시험법\n법령구분: 법률\n---\n# 시험법\n\n##### 제1조 (목적)\n\n본문\n\n"
            "## 제2장 기타\n\n조문 밖의 글\n",
            "text outside any article",
        ),
    ],
)
def test_malformed_markdown_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_statute(write(tmp_path, text))


def test_level_of_stand_alone_rule_is_its_kind(tmp_path: Path) -> None:
    text = "---\n제목: 시험 처분 규칙\n법령구분: 보건복지부령\n---\n\n##### 제1조 (목적)\n\n본문이다.\n"
    law = parse_statute(write(tmp_path, text))
    assert (law.level, law.act, law.law_id) == ("보건복지부령", "시험 처분 규칙", None)
    assert law.clauses[0].clause_id.startswith("s-t")  # no 법령ID: a stable hash of the title


def test_windows_line_ends_and_unquoted_law_id(tmp_path: Path) -> None:
    text = "---\n제목: 시험법\n법령ID: 1788\n법령구분: 법률\n---\n\n##### 제1조 (목적)\n\n**①** 본문이다.\n"
    path = tmp_path / "law.md"
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    law = parse_statute(path)
    assert law.law_id == "001788"
    assert [(c.clause_id, c.text) for c in law.clauses] == [("s-001788-a1-p1", "본문이다.")]


def test_preamble_under_the_title_is_not_a_clause(tmp_path: Path) -> None:
    path = tmp_path / "preamble.md"
    path.write_text(
        "---\n제목: 시험내규\n법령구분: 내규\n---\n# 시험내규\n\n이 문서는 가상의 내규입니다.\n\n"
        "##### 제1조 (목적)\n\n이 내규는 시험을 위한 것이다.\n",
        encoding="utf-8",
    )
    law = parse_statute(path)
    assert [c.label for c in law.clauses] == ["시험내규 제1조"]
    assert "가상" not in law.clauses[0].text

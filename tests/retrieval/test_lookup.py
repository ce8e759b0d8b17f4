"""Clause references in questions: the formats staff write, law aliases, clauses that do not
exist, `as_of`; resolved against a real Qdrant Edge index of the sample statute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from retrieval.errors import InvalidQuery, NotFound
from retrieval.lookup import (
    LawNames,
    MissingClause,
    find_references,
    is_reference_only,
    load_law_aliases,
    particle,
    short_forms,
)
from retrieval.models import SearchFilters
from retrieval.runtime import open_for_writing
from retrieval.search import Searcher, lookup, search_details
from retrieval.settings import CORPORA_DIR, load_settings
from retrieval.sparse import SparseEncoder
from tests.fakes import CountingEmbedder

DATA = Path(__file__).resolve().parents[1] / "data"
ACTS = [
    "의료법",
    "약사법",
    "응급의료에 관한 법률",
    "감염병의 예방 및 관리에 관한 법률",
    "국민건강보험 요양급여의 기준에 관한 규칙",
    "호스피스ㆍ완화의료 및 임종과정에 있는 환자의 연명의료결정에 관한 법률",
]


@pytest.fixture(scope="module")
def names() -> LawNames:
    return LawNames(ACTS, load_law_aliases(CORPORA_DIR / "law_aliases.tsv"))


def labels(question: str, names: LawNames) -> list[str]:
    return [r.label for r in find_references(question, names)[0]]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("의료법 제33조 제2항에 따르면 의료기관은 누가 개설하나요?", ["의료법 제33조제2항"]),
        ("「약사법」 제20조제5항제2호가 뭐야?", ["약사법 제20조제5항제2호"]),
        ("의료법 제22조 내용과 같은 법 시행규칙 제15조", ["의료법 제22조", "의료법 시행규칙 제15조"]),
        ("응급의료법 제2조", ["응급의료에 관한 법률 제2조"]),
        ("의료법 시행령 제18조의2", ["의료법 시행령 제18조의2"]),
        ("「의료법 시행규칙」 제15조 알려줘", ["의료법 시행규칙 제15조"]),
        ("「의료법」 시행규칙 제15조", ["의료법 시행규칙 제15조"]),
        ("감염병예방법 시행령 제23조 기준이 뭐예요", ["감염병의 예방 및 관리에 관한 법률 시행령 제23조"]),
        (
            "연명의료결정법 제17조",
            ["호스피스ㆍ완화의료 및 임종과정에 있는 환자의 연명의료결정에 관한 법률 제17조"],
        ),
        ("의료법 22조 2항", ["의료법 제22조제2항"]),
        ("의료법 제 22 조 제 2 항은요", ["의료법 제22조제2항"]),
        ("의료법제22조제2항", ["의료법 제22조제2항"]),
        (
            "요양급여규칙 제5조 제1항 제3호 가목",
            ["국민건강보험 요양급여의 기준에 관한 규칙 제5조제1항제3호가목"],
        ),
        ("의료법 제33조제2항 및 제4항", ["의료법 제33조제2항", "의료법 제33조제4항"]),
    ],
)
def test_references_are_read_as_staff_write_them(question: str, expected: list[str], names: LawNames) -> None:
    assert labels(question, names) == expected


@pytest.mark.parametrize(
    "question",
    [
        "의료법인 설립 허가는 제3조에 있나요?",  # 의료법인 is a medical corporation, not 의료법
        "33조 2항은 무슨 내용이에요?",  # no law named
        "진료기록부는 몇 년 보관하나요?",
        "이 법 제3조",  # 'this law' means nothing in a question
    ],
)
def test_no_reference_without_a_known_law(question: str, names: LawNames) -> None:
    assert labels(question, names) == []


def test_short_forms_of_titles() -> None:
    assert "응급의료법" in short_forms("응급의료에 관한 법률")
    assert "개인정보보호법" in short_forms("개인정보 보호법")


def test_a_question_that_is_only_the_reference(names: LawNames) -> None:
    for question, only in [
        ("의료법 제22조제2항", True),
        ("「약사법」 제20조제5항제2호가 뭐야?", True),
        ("의료법 시행규칙 제15조 내용 알려줘", True),
        ("의료법 제33조 제2항에 따르면 누가 개설하나요?", False),
    ]:
        _, rest = find_references(question, names)
        assert is_reference_only(rest) is only, question


def test_particles_follow_the_last_sound() -> None:
    assert particle("제3조", "이", "가") == "제3조가"
    assert particle("제15조의3", "이", "가") == "제15조의3이"
    assert particle("제2항", "이", "가") == "제2항이"
    assert particle("「의료법」", "은", "는") == "「의료법」은"


# --- against an index -----------------------------------------------------------------------


def _version(tmp_path: Path, effective: str, *, with_article_3: bool) -> Path:
    """The sample rule as another version; the older one still has a 제3조 (repealed later)."""
    text = (DATA / "statute_sample.md").read_text(encoding="utf-8")
    text = text.replace("시행일자: 2024-04-01", f"시행일자: {effective}")
    text = text.replace("공포일자: 2024-03-15", f"공포일자: {effective}")
    if with_article_3:
        text = text.replace(
            "##### 제3조\n\n삭제 <2023.5.6>",
            "##### 제3조 (신고)\n\n보건기관의 장은 보건요원을 채용하면 30일 이내에 신고하여야 한다.",
        )
    path = tmp_path / effective / "rule.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory, encoder: SparseEncoder) -> Iterator[Searcher]:
    tmp = tmp_path_factory.mktemp("lookup")
    settings = load_settings(data_dir=tmp / "data")
    embedder = CountingEmbedder()
    index = open_for_writing(settings, embedder)
    old = _version(tmp, "2023-01-01", with_article_3=True)
    assert "30일 이내에 신고" in old.read_text(encoding="utf-8")
    for path in (old, _version(tmp, "2024-04-01", with_article_3=False)):  # the later one is in force
        ingest_paths([path], index=index, embedder=embedder, encoder=encoder)
    yield Searcher(index, embedder, encoder, settings.index, law_aliases={"시험보건법": ["시험법"]})
    index.close()


def test_lookup_of_an_item_returns_its_clause_and_names_the_item(searcher: Searcher) -> None:
    (found,) = lookup(searcher, "시험보건법 시행규칙 제2조제1호의2")
    assert [c.label for c in found.clauses] == ["시험보건법 시행규칙 제2조"]
    assert found.reference.item == "제1호의2"


def test_lookup_of_an_article_returns_every_paragraph_and_aliases_work(searcher: Searcher) -> None:
    (found,) = lookup(searcher, "「시험법 시행규칙」 제2조의2")
    assert [c.paragraph for c in found.clauses] == ["제1항", "제3항", "제4항"]


def test_a_clause_that_does_not_exist_says_so(searcher: Searcher) -> None:
    with pytest.raises(MissingClause, match="시험보건법 시행규칙에는 제999조가 없습니다"):
        lookup(searcher, "시험보건법 시행규칙 제999조")
    with pytest.raises(MissingClause, match="제2조의2에는 제2항이 없습니다"):  # 삭제 paragraphs are gone
        lookup(searcher, "시험보건법 시행규칙 제2조의2제2항")
    with pytest.raises(MissingClause, match="시험보건법 시행규칙 제2조에는 제7호가 없습니다"):
        lookup(searcher, "시험보건법 시행규칙 제2조제7호")
    with pytest.raises(MissingClause):  # also when searching: no search for what is not there
        search_details(searcher, "시험보건법 시행규칙 제999조에 따르면 보관 기간은?")


def test_as_of_reads_the_version_in_force_that_day(searcher: Searcher) -> None:
    with pytest.raises(MissingClause, match="제3조가 없습니다"):
        lookup(searcher, "시험보건법 시행규칙 제3조")
    (found,) = lookup(searcher, "시험보건법 시행규칙 제3조", as_of=date(2023, 6, 1))
    assert "30일 이내에 신고" in found.clauses[0].text
    with pytest.raises(MissingClause, match="2023-06-01"):
        lookup(searcher, "시험보건법 시행규칙 제999조", as_of=date(2023, 6, 1))


def test_no_reference_and_unknown_law_are_errors_with_advice(searcher: Searcher) -> None:
    with pytest.raises(InvalidQuery, match="의료법 제22조제2항"):
        lookup(searcher, "진료기록 보관 기간")
    with pytest.raises(NotFound, match="「의료법」은 색인에 없습니다"):
        lookup(searcher, "의료법 제22조")


def test_a_reference_only_question_gets_the_named_clause_first(searcher: Searcher) -> None:
    result = search_details(searcher, "시험보건법 시행규칙 제2조의2제4항", k=3)
    assert result.only_reference
    assert result.hits[0].clause.label == "시험보건법 시행규칙 제2조의2제4항"
    assert [r.label for r in result.references] == ["시험보건법 시행규칙 제2조의2제4항"]


def test_named_clauses_join_the_candidates_with_their_signals(searcher: Searcher) -> None:
    question = "시험보건법 시행규칙 제2조의2제3항에 따르면 기록은 몇 년 보관하나요?"
    result = search_details(searcher, question, k=20, legs=True)
    assert not result.only_reference
    named = {h.clause.label: h.signals.named for h in result.ranked if h.signals and h.signals.named}
    assert named["시험보건법 시행규칙 제2조의2제3항"] == 1.0
    assert named["시험보건법 시행규칙 제2조의2제1항"] == 0.5  # its article, not the 항
    assert all(h.signals and h.signals.named_law and h.signals.legs for h in result.ranked)


def test_named_clauses_respect_the_filters(searcher: Searcher) -> None:
    filters = SearchFilters(doc_type="guideline")
    result = search_details(searcher, "시험보건법 시행규칙 제2조의2제4항", k=5, filters=filters)
    assert result.hits == []

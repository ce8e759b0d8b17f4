"""verify_citations over the real 의료법, its 2015 and 2020 versions (statutes_history) and its
시행규칙: each kind of citation gets its verdict, for today and for a day in 2017."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from retrieval.citecheck import CitationCheck, verify_citations
from retrieval.errors import InvalidQuery
from retrieval.runtime import open_for_writing
from retrieval.search import Searcher
from retrieval.settings import load_settings
from retrieval.sparse import SparseEncoder
from retrieval.text import KoreanTokenizer
from tests.fakes import CountingEmbedder

pytestmark = pytest.mark.corpus
SETTINGS = load_settings()
IN_2017 = date(2017, 1, 1)

DRAFT = (
    "의료인은 진료기록부를 갖추어 두고 환자의 주된 증상, 진단 및 치료 내용 등 의료행위에 관한 사항과 "
    "의견을 상세히 기록하고 서명하여야 한다(의료법 제22조제1항). "
    "의료인은 추가기재ㆍ수정된 진료기록부등과 추가기재ㆍ수정 전의 원본을 모두 보존하여야 한다"
    "(「의료법」 제22조제2항). "
    "직접 진찰을 받은 환자의 가족은 의료법 제17조의2에 따라 처방전을 대리수령할 수 있다. "
    "의료법 제22조제2항에 따라 간호사는 마약류를 처방할 수 있다. "
    "진료기록부의 보존 기간은 같은 법 시행규칙 제15조제1항에 따른다. "
    "의료법 제999조에 따라 진료비를 감면한다. "
    "조리사는 식품위생법 제40조에 따라 건강진단을 받는다."
)


@pytest.fixture(scope="module")
def searcher(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("citecheck") / "data")
    embedder = CountingEmbedder(dim=256)  # random directions: similarity never passes 0.9 by chance
    encoder = SparseEncoder(KoreanTokenizer(), settings.text)
    index = open_for_writing(settings, embedder)
    act = shared / "corpora" / "statutes" / "의료법"
    history = sorted((shared / "corpora" / "statutes_history" / "의료법").glob("*.md"))
    report = ingest_paths(
        [act / "법률.md", *history, act / "시행규칙.md"], index=index, embedder=embedder, encoder=encoder
    )
    assert not report.failed
    yield Searcher(index, embedder, encoder, settings.index)
    index.close()


def verdicts(checks: list[CitationCheck]) -> list[tuple[str, str]]:
    return [(c.label, c.verdict) for c in checks]


def test_each_citation_gets_its_verdict_today(searcher: Searcher) -> None:
    report = verify_citations(searcher, DRAFT, SETTINGS.answer)
    assert verdicts(report.citations) == [
        ("의료법 제22조제1항", "ok"),
        ("의료법 제22조제2항", "ok"),
        ("의료법 제17조의2", "ok"),
        ("의료법 제22조제2항", "mismatch"),  # the clause exists; the sentence is not in it
        ("의료법 시행규칙 제15조제1항", "ok"),  # 같은 법 시행규칙: 의료법 시행규칙
        ("의료법 제999조", "missing_clause"),
        ("식품위생법 제40조", "law_not_indexed"),
    ]
    assert not report.all_ok
    first = report.citations[0]
    assert first.exists and first.clause_ids == ["s-001788-a22-p1"] and "진료기록부" in first.text
    assert first.term_share is not None and first.term_share >= 0.5
    assert "간호사는 마약류를" in report.citations[3].sentence
    assert "제999조가 없습니다" in report.citations[5].message
    assert "색인에 없어" in report.citations[6].message and not report.citations[6].law_indexed


def test_as_of_finds_clauses_not_yet_in_force_and_superseded_wording(searcher: Searcher) -> None:
    report = verify_citations(searcher, DRAFT, SETTINGS.answer, as_of=IN_2017)
    found = dict(zip([c.label for c in report.citations][:3], report.citations[:3], strict=True))
    assert found["의료법 제22조제1항"].verdict == "ok"
    superseded = found["의료법 제22조제2항"]  # the 추가기재ㆍ수정 rule came in 2018
    assert superseded.verdict == "superseded" and superseded.exists
    assert "추가기재" not in superseded.text  # the 2016 wording, in force in 2017
    assert "2021-06-30" in superseded.message
    later = found["의료법 제17조의2"]  # 처방전 대리수령: added in 2019
    assert later.verdict == "not_in_force" and not later.exists and "신설" in later.message
    assert [str(v.valid_from) for v in later.other_versions] == ["2021-06-30", "2026-04-07"]
    rule = report.citations[4]  # the 시행규칙 is indexed only in its 2026 version
    assert rule.verdict == "version_not_indexed"


def test_a_text_without_citations_holds_and_an_empty_one_is_refused(searcher: Searcher) -> None:
    report = verify_citations(searcher, "진료기록부는 오래 보존한다.", SETTINGS.answer)
    assert report.citations == [] and report.all_ok
    with pytest.raises(InvalidQuery):
        verify_citations(searcher, "   ", SETTINGS.answer)

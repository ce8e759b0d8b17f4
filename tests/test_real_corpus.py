"""End to end on real statutes: 의료법 at its three levels, and three versions of the Act, from
the shared corpora.

Embeds about 960 clauses (a few minutes on 2 cores, once per run). Skipped, with a message,
when the shared corpora are absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ingest.pipeline import IngestReport, ingest_paths
from retrieval.answer import answer
from retrieval.errors import NotFound
from retrieval.index import clause_from_payload
from retrieval.models import SearchFilters
from retrieval.registry import load_documents
from retrieval.runtime import build_answerer, build_dense, build_encoder, build_searcher, open_for_writing
from retrieval.search import Searcher, get_clause, search
from retrieval.settings import Settings, load_settings
from retrieval.sparse import SparseEncoder
from tests.fakes import CountingEmbedder

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


@pytest.fixture(scope="module")
def medical_act(
    shared: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, IngestReport]]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("real") / "data")
    embedder = build_dense(settings)
    index = open_for_writing(settings, embedder)
    report = ingest_paths(
        [shared / "corpora" / "statutes" / "의료법"],
        index=index,
        embedder=embedder,
        encoder=build_encoder(settings),
    )
    index.close()
    yield settings, report


@pytest.fixture(scope="module")
def searcher(medical_act: tuple[Settings, IngestReport]) -> Iterator[Searcher]:
    searcher = build_searcher(medical_act[0])
    yield searcher
    searcher.index.close()


def test_three_levels_ingest_without_errors(medical_act: tuple[Settings, IngestReport]) -> None:
    _, report = medical_act
    assert not report.failed
    assert {f.title for f in report.files} == {"의료법", "의료법 시행령", "의료법 시행규칙"}
    assert all(f.clauses > 100 for f in report.files)


def test_references_between_levels_resolve(searcher: Searcher) -> None:
    rule = [clause_from_payload(p) for p in searcher.index.scroll(SearchFilters(law="의료법 시행규칙"))]
    refs = [r for c in rule for r in c.references if r.law == "의료법"]
    assert refs and sum(r.target_id is not None for r in refs) / len(refs) > 0.9
    target = next(r for c in rule if c.label == "의료법 시행규칙 제11조의2제1항" for r in c.references)
    assert target.target_id and get_clause(searcher, target.target_id).article == target.article


def test_a_delegated_detail_is_found_in_the_rule(searcher: Searcher) -> None:
    hits = search(searcher, "처방전 대리수령 신청서는 몇 년 보관해야 하나요?", k=5)
    assert "의료법 시행규칙 제11조의2제2항" in [h.clause.label for h in hits]


def test_filters_on_real_data(searcher: Searcher) -> None:
    hits = search(searcher, "진료기록부 보존", k=5, filters=SearchFilters(level="시행규칙"))
    assert hits and all(h.clause.level == "시행규칙" for h in hits)
    assert all(not h.clause.supplementary for h in search(searcher, "시행일", k=10))
    supplementary = search(searcher, "시행일", k=10, filters=SearchFilters(include_supplementary=True))
    assert any(h.clause.supplementary for h in supplementary)


def test_three_versions_of_the_act_and_as_of(shared: Path, tmp_path: Path, encoder: SparseEncoder) -> None:
    """The current 의료법 and its 2015 and 2020 versions (statutes_history) in one index: searches
    read the one in force on the day asked, the current one by default."""
    settings = load_settings(data_dir=tmp_path / "data")
    embedder = CountingEmbedder()  # the assertions read texts and versions, not dense ranks
    index = open_for_writing(settings, embedder)
    history = shared / "corpora" / "statutes_history" / "의료법"
    files = [shared / "corpora" / "statutes" / "의료법" / "법률.md", *sorted(history.glob("*.md"))]
    report = ingest_paths(files, index=index, embedder=embedder, encoder=encoder)
    assert [f.status for f in report.files] == ["new", "updated", "updated"]
    record = load_documents(index)["law-001788"]
    assert [(str(v.valid_from), record.status(v)) for v in record.ordered()] == [
        ("2016-09-30", "superseded"),
        ("2021-06-30", "superseded"),
        ("2026-04-07", "current"),
    ]
    searcher = Searcher(index, embedder, encoder, settings.index)
    records_clause = "s-001788-a22-p2"  # 진료기록부등: the 추가기재ㆍ수정 rule came in 2018
    assert "추가기재ㆍ수정된" in get_clause(searcher, records_clause).text
    assert "추가기재ㆍ수정된" not in get_clause(searcher, records_clause, as_of=date(2017, 1, 1)).text
    with pytest.raises(NotFound, match="in force on 2017-01-01"):
        get_clause(searcher, "s-001788-a17-2-p1", as_of=date(2017, 1, 1))  # 처방전 대리수령, added 2019
    hits = search(
        searcher, "진료기록부 보존", k=20, mode="sparse", filters=SearchFilters(as_of=date(2022, 1, 1))
    )
    in_2022 = record.in_force(date(2022, 1, 1))
    assert in_2022 is not None and hits and {h.clause.version_key for h in hits} == {in_2022.key}
    index.close()


def test_extractive_answer_on_real_statutes(
    medical_act: tuple[Settings, IngestReport], searcher: Searcher
) -> None:
    """The offline default answers from 의료법's own words, with the 시행규칙 clause that holds the
    numbers, and refuses a question about a law that is not indexed."""
    settings, _ = medical_act
    answerer = build_answerer(settings, searcher)
    result = answer(answerer, "진료기록부는 몇 년 동안 보존해야 하나요?")
    assert not result.abstained and result.sentences
    assert all(s.citations for s in result.sentences)
    assert "의료법 시행규칙 제15조제1항" in [c.label for c in result.citations]
    assert "10년" in result.answer
    for citation in result.citations:  # every quote is the clause's own text
        assert citation.quote in get_clause(searcher, citation.clause_id).text
    refused = answer(answerer, "식품위생법상 조리원은 건강진단을 몇 번 받아야 하나요?")
    assert refused.abstained and refused.citations == [] and refused.references


def test_extractive_answer_on_a_real_guideline(shared: Path, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    embedder = build_dense(settings)
    index = open_for_writing(settings, embedder)
    pdf = shared / "corpora" / "guidelines" / "pdf" / "코로나19_대응지침_신생아영아소아청소년_2020-03-20.pdf"
    assert not ingest_paths([pdf], index=index, embedder=embedder, encoder=build_encoder(settings)).failed
    index.close()
    answerer = build_answerer(settings)
    result = answer(answerer, "코로나 검사 결과를 기다리는 산모가 유축한 모유는 어떻게 보관하나요?")
    assert not result.abstained
    pages = {(c.doc_type, c.page_start) for c in result.citations}
    assert ("guideline", 26) in pages
    assert all(c.label.startswith("코로나바이러스감염증-19 대응지침") for c in result.citations)
    answerer.searcher.index.close()


def test_the_learned_stage_moves_a_sibling_paragraph_miss_up(searcher: Searcher) -> None:
    """A question of our validation fold (the shipped ranker never trained on it): fused search
    puts 제33조제2항 (who may open a clinic) first, while the answer, one doctor running one
    clinic only, is 제33조제8항 of the same article."""
    question = "의사 한 명이 의원을 두 군데 개설해서 동시에 운영해도 되나요? 한 곳은 주말에만 열려고요."
    assert searcher.reranker.name == "learned"
    fused = search(searcher, question, k=10, rerank=False)
    learned = search(searcher, question, k=10)
    assert fused[0].clause.label == "의료법 제33조제2항"
    gold = "의료법 제33조제8항"
    fused_rank = next(h.rank for h in fused if h.clause.label == gold)
    assert learned[0].clause.label == gold and fused_rank > 1


def test_a_question_naming_a_real_clause(searcher: Searcher) -> None:
    hits = search(searcher, "의료법 제22조제2항", k=3)
    assert hits[0].clause.label == "의료법 제22조제2항"
    hits = search(searcher, "의료법 시행규칙 제15조에 따르면 처방전은 몇 년 보존해요?", k=5)
    assert "의료법 시행규칙 제15조제1항" in [h.clause.label for h in hits[:3]]

"""Both index backends (Qdrant Edge in-process, qdrant-client local mode) behave alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from retrieval.errors import IndexNotBuilt, IndexUnavailable
from retrieval.index import EdgeIndex, Index, ServerIndex, clause_from_payload, open_index
from retrieval.index.schema import SCHEMA_VERSION
from retrieval.models import SearchFilters, SearchMode
from retrieval.registry import load_documents
from retrieval.settings import IndexSettings, load_settings

MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
ALL = {"records", "retention", "proxy", "counselling", "report", "secrecy", "sensitive", "commencement"}
SUPPLEMENTARY = {"commencement"}
QUESTIONS = ["처방전 대리수령할 때 신분증 제시", "약사의 복약지도 의무", "진료기록부 보존 기간"]


def test_the_corpus_is_the_one_these_tests_describe(corpus: Any) -> None:
    assert set(corpus.clauses) == ALL
    assert {k for k, c in corpus.clauses.items() if c.supplementary} == SUPPLEMENTARY


def test_upsert_count_and_idempotent_reupsert(fresh_index: Index, corpus: Any) -> None:
    assert fresh_index.count() == len(ALL)
    fresh_index.upsert(corpus.points)  # same ids: replaced, not added
    fresh_index.upsert([])
    assert fresh_index.count() == len(ALL)


def test_retrieve_round_trips_clauses_in_request_order(index: Index, corpus: Any) -> None:
    wanted = [corpus.points[3], corpus.points[0]]
    payloads = index.retrieve([p.id for p in wanted] + ["00000000-0000-0000-0000-000000000000"])
    assert [p["clause_id"] for p in payloads] == [p.payload["clause_id"] for p in wanted]
    assert clause_from_payload(payloads[0]) == corpus.clauses[corpus.key_of(payloads[0])]
    assert payloads[0]["schema_version"] == SCHEMA_VERSION
    assert payloads[0]["content_hash"] == wanted[0].payload["content_hash"]


def test_scroll_pages_through_everything(index: Index, corpus: Any) -> None:
    assert sorted(corpus.keys(list(index.scroll(batch=3)))) == sorted(ALL)
    assert set(corpus.keys(list(index.scroll(SearchFilters())))) == ALL - SUPPLEMENTARY


def test_delete(fresh_index: Index, corpus: Any) -> None:
    gone = corpus.points[0]
    fresh_index.delete([gone.id])
    fresh_index.delete([])
    assert fresh_index.count() == len(ALL) - 1
    assert fresh_index.retrieve([gone.id]) == []
    assert corpus.key_of(gone.payload) not in corpus.keys(list(fresh_index.scroll()))


@pytest.mark.parametrize("mode", MODES)
def test_obvious_question_finds_its_clause_first(
    index: Index, corpus: Any, mode: SearchMode, obvious: tuple[str, str]
) -> None:
    question, expected = obvious
    results = index.query(corpus.plan(question, mode))
    assert corpus.keys(results)[0] == expected
    scores = [s for _, s in results]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_with_dbsf_fusion(index: Index, corpus: Any) -> None:
    results = index.query(corpus.plan("처방전 대리수령할 때 신분증 제시", "hybrid", fusion="dbsf"))
    assert corpus.keys(results)[0] == "proxy"


def test_query_limit(index: Index, corpus: Any) -> None:
    assert len(index.query(corpus.plan("의료인의 의무", "dense", limit=3))) == 3


def test_sparse_query_without_terms_returns_nothing(index: Index, corpus: Any) -> None:
    assert index.query(corpus.plan("   ", "sparse")) == []


FILTER_CASES = {
    "none": (SearchFilters(), ALL - SUPPLEMENTARY),
    "act matches every level": (
        SearchFilters(law="의료법"),
        {"records", "retention", "proxy", "secrecy", "sensitive"},
    ),
    "full law title": (SearchFilters(law="의료법 시행규칙"), {"retention", "proxy"}),
    "level": (SearchFilters(level="시행규칙"), {"retention", "proxy"}),
    "level 법률": (SearchFilters(level="법률"), {"records", "counselling", "report", "secrecy"}),
    "doc_id": (SearchFilters(doc_id="statute:의료법 시행규칙"), {"retention", "proxy"}),
    "doc_type": (SearchFilters(doc_type="guideline"), set()),
    "include supplementary": (SearchFilters(include_supplementary=True), ALL),
    "law and supplementary": (
        SearchFilters(law="의료법", level="법률", include_supplementary=True),
        {"records", "secrecy", "commencement"},
    ),
}


@pytest.mark.parametrize("case", FILTER_CASES)
def test_filters(index: Index, corpus: Any, case: str) -> None:
    filters, expected = FILTER_CASES[case]
    assert set(corpus.keys(list(index.scroll(filters)))) == expected
    for mode in MODES:
        results = index.query(corpus.plan("진료기록부 보존", mode, filters))
        found = set(corpus.keys(results))
        # dense ranks every allowed clause; sparse only those sharing a term
        assert found == expected if mode == "dense" else found <= expected, mode


def test_versions_keep_only_the_listed_document_versions(index: Index, corpus: Any) -> None:
    later = corpus.clauses["report"].version_key
    others = tuple({c.version_key for c in corpus.clauses.values()} - {later})
    kept = set(corpus.keys(index.scroll(SearchFilters(), versions=others)))
    assert kept == ALL - SUPPLEMENTARY - {"report"}
    assert list(index.scroll(versions=[])) == []
    for mode in MODES:
        plan = corpus.plan("감염병 발생 신고", mode)
        assert "report" in corpus.keys(index.query(plan)), mode
        assert "report" not in corpus.keys(index.query(replace(plan, versions=others))), mode
        assert index.query(replace(plan, versions=())) == [], mode


def test_registry_records_are_only_seen_by_record_scrolls(index: Index, corpus: Any) -> None:
    documents = {c.doc_id for c in corpus.clauses.values()}
    assert index.count() == len(ALL)
    assert {p["document"]["doc_id"] for p in index.scroll(records=True)} == documents
    assert sorted(corpus.keys(index.scroll())) == sorted(ALL)
    assert set(load_documents(index)) == documents
    for mode in MODES:
        assert all("record" not in p for p, _ in index.query(corpus.plan("의료법", mode))), mode


@pytest.mark.parametrize("mode", MODES)
def test_backends_rank_alike(shared_indexes: dict[str, Index], corpus: Any, mode: SearchMode) -> None:
    edge, server = shared_indexes["edge"], shared_indexes["qdrant"]
    questions = [*QUESTIONS, "환자 비밀 누설", "민감정보 처리", "감염병 신고"]
    # hybrid also with the article legs (four prefetches fused)
    variants: list[dict[str, Any]] = [{}, {"article_weights": (1.0, 0.5)}] if mode == "hybrid" else [{}]
    compared = 0
    for question in questions:
        for filters in (SearchFilters(), SearchFilters(law="의료법"), SearchFilters(level="법률")):
            for options in variants:
                query = corpus.plan(question, mode, filters, **options)
                edge_hits, server_hits = edge.query(query), server.query(query)
                case = (question, filters, options)
                assert corpus.keys(edge_hits)[:1] == corpus.keys(server_hits)[:1], case
                if edge_hits:
                    assert edge_hits[0][1] == pytest.approx(server_hits[0][1], rel=1e-3), case
                    compared += 1
    assert compared >= 12


def test_edge_shard_keeps_points_after_reopening(tmp_path: Path, corpus: Any) -> None:
    path = tmp_path / "shard"
    index = EdgeIndex(path, dim=corpus.embedder.dim, create=True)
    index.upsert(corpus.points)
    index.flush()
    index.close()

    reopened = EdgeIndex(path)
    try:
        assert reopened.count() == len(ALL)
        results = reopened.query(corpus.plan("약사의 복약지도 의무", "hybrid"))
        assert corpus.keys(results)[0] == "counselling"
    finally:
        reopened.close()


def test_edge_shard_is_held_by_one_opener(shared_indexes: dict[str, Index]) -> None:
    held = shared_indexes["edge"]
    assert isinstance(held, EdgeIndex)
    with pytest.raises(IndexUnavailable, match="open in another process"):
        EdgeIndex(held.path)
    assert held.count() == len(ALL)  # the holder is unaffected


def test_missing_edge_shard_is_not_built(tmp_path: Path) -> None:
    with pytest.raises(IndexNotBuilt, match="kmed ingest"):
        EdgeIndex(tmp_path / "missing")
    with pytest.raises(IndexNotBuilt):
        EdgeIndex(tmp_path / "missing", create=True)  # no dim: cannot create
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotBuilt):
        EdgeIndex(tmp_path / "empty")
    assert not (tmp_path / "missing").exists()


def test_missing_server_collection_is_not_built() -> None:
    with pytest.raises(IndexNotBuilt, match="kmed ingest"):
        ServerIndex(IndexSettings(qdrant_url=":memory:", collection="nothing"))


def test_open_index_picks_the_backend(tmp_path: Path) -> None:
    edge = open_index(load_settings(data_dir=tmp_path), dim=4, create=True)
    server = open_index(load_settings(data_dir=tmp_path, qdrant_url=":memory:"), dim=4, create=True)
    try:
        assert isinstance(edge, EdgeIndex) and edge.path == tmp_path / "index" / "kmed"
        assert isinstance(server, ServerIndex) and server.collection == "kmed"
        assert (edge.backend, server.backend) == ("edge", "qdrant")
    finally:
        edge.close()
        server.close()

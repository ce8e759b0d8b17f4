"""search(): question validation, ranks, and the plan it hands the index."""

from __future__ import annotations

from typing import Any

import pytest

from retrieval.errors import InvalidQuery
from retrieval.index import Index
from retrieval.models import Hit, SearchFilters, SearchMode
from retrieval.search import MAX_K, Searcher, plan_query, search
from retrieval.settings import IndexSettings


@pytest.fixture
def searcher(index: Index, corpus: Any) -> Searcher:
    return Searcher(index, corpus.embedder, corpus.encoder, IndexSettings(), max_question_chars=40)


@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_empty_question_is_invalid(searcher: Searcher, question: str) -> None:
    with pytest.raises(InvalidQuery, match="empty"):
        search(searcher, question)


def test_too_long_question_is_invalid(searcher: Searcher) -> None:
    with pytest.raises(InvalidQuery, match="41 characters; the limit is 40"):
        search(searcher, "가" * 41)
    # surrounding whitespace does not count
    assert search(searcher, "  " + "진료기록부 " * 6 + "  ", k=1)


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1])
def test_k_out_of_range_is_invalid(searcher: Searcher, k: int) -> None:
    with pytest.raises(InvalidQuery, match=f"k must be between 1 and {MAX_K}"):
        search(searcher, "진료기록부 보존", k=k)


@pytest.mark.parametrize("question", ["zzzz qqqq", "그리고 또는"])
def test_no_shared_terms_in_sparse_mode_is_no_hits(searcher: Searcher, question: str) -> None:
    assert search(searcher, question, mode="sparse") == []


def test_hits_are_ranked_from_one(searcher: Searcher, corpus: Any) -> None:
    hits = search(searcher, "의료인의 진료기록부 작성과 보존", k=5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(isinstance(h, Hit) for h in hits)
    assert len({h.clause.clause_id for h in hits}) == 5


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_hit_carries_the_whole_clause(
    searcher: Searcher, corpus: Any, obvious: tuple[str, str], mode: SearchMode
) -> None:
    question, expected = obvious
    top = search(searcher, question, k=3, mode=mode)[0]
    assert top.clause == corpus.clauses[expected]
    assert top.rank == 1


def test_filters_are_applied(searcher: Searcher) -> None:
    hits = search(searcher, "진료기록부 보존", k=10, filters=SearchFilters(law="의료법", level="시행규칙"))
    assert hits
    assert {(h.clause.act, h.clause.level) for h in hits} == {("의료법", "시행규칙")}
    assert all(not h.clause.supplementary for h in search(searcher, "공포 후 시행", k=10))


def test_sparse_mode_does_not_embed(index: Index, corpus: Any, counting: Any) -> None:
    fake = counting(dim=corpus.embedder.dim)
    searcher = Searcher(index, fake, corpus.encoder, IndexSettings())
    search(searcher, "처방전 대리수령", mode="sparse")
    assert fake.calls == []
    search(searcher, "처방전 대리수령", mode="dense")
    assert fake.calls == [(["처방전 대리수령"], "query")]


def test_plan_follows_the_index_settings(index: Index, corpus: Any) -> None:
    settings = IndexSettings(fusion="dbsf", rrf_k=10, dense_weight=2.0, sparse_weight=0.5, prefetch=20)
    searcher = Searcher(index, corpus.embedder, corpus.encoder, settings)
    plan = plan_query(searcher, "처방전 대리수령", k=30, mode="hybrid", filters=SearchFilters(level="법률"))
    assert (plan.fusion, plan.rrf_k, plan.weights, plan.limit) == ("dbsf", 10, (2.0, 0.5), 30)
    assert plan.prefetch == 30  # never fewer candidates than hits asked for
    assert plan.dense is not None and len(plan.dense) == corpus.embedder.dim
    assert plan.sparse is not None and plan.sparse.indices
    assert plan.filters == SearchFilters(level="법률")
    assert plan_query(searcher, "처방전", k=5, mode="dense", filters=SearchFilters()).sparse is None

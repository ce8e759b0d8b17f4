"""End to end on real statutes: 의료법 at its three levels, from the shared corpora.

Embeds about 960 clauses (a few minutes on 2 cores, once per run). Skipped, with a message,
when the shared corpora are absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import IngestReport, ingest_paths
from retrieval.citations import point_id
from retrieval.index import clause_from_payload
from retrieval.models import SearchFilters
from retrieval.runtime import build_dense, build_encoder, build_searcher, open_for_writing
from retrieval.search import Searcher, search
from retrieval.settings import Settings, load_settings

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
    assert target.target_id and searcher.index.retrieve([point_id(target.target_id)])


def test_a_delegated_detail_is_found_in_the_rule(searcher: Searcher) -> None:
    hits = search(searcher, "처방전 대리수령 신청서는 몇 년 보관해야 하나요?", k=5)
    assert "의료법 시행규칙 제11조의2제2항" in [h.clause.label for h in hits]


def test_filters_on_real_data(searcher: Searcher) -> None:
    hits = search(searcher, "진료기록부 보존", k=5, filters=SearchFilters(level="시행규칙"))
    assert hits and all(h.clause.level == "시행규칙" for h in hits)
    assert all(not h.clause.supplementary for h in search(searcher, "시행일", k=10))
    supplementary = search(searcher, "시행일", k=10, filters=SearchFilters(include_supplementary=True))
    assert any(h.clause.supplementary for h in supplementary)

"""The ingestion pipeline on real engines: cited context reaches the article's BM25 vector."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from retrieval.index import QueryPlan, clause_from_payload, open_index
from retrieval.models import SearchFilters
from retrieval.runtime import build_encoder, open_for_writing
from retrieval.settings import Settings, load_settings
from retrieval.sparse import SparseEncoder

DATA = Path(__file__).resolve().parent.parent / "data"
PARENT_ACT = """---
제목: 시험보건법
법령ID: '990000'
법령구분: 법률
공포일자: 2024-01-02
시행일자: 2024-03-01
---

# 시험보건법

##### 제7조의2 (방문 기록)

**①** 보건기관은 방문 기록을 관리하여야 한다.

**②** 보건기관은 방문객의 출입명부를 작성하여야 한다.
"""


def _ingest(tmp_path: Path, embedder: object, *, cited_context: bool) -> Settings:
    parent = tmp_path / "act.md"
    parent.write_text(PARENT_ACT, encoding="utf-8")
    settings = load_settings(data_dir=tmp_path / "data", index={"cited_context": cited_context})
    index = open_for_writing(settings, embedder)  # type: ignore[arg-type]
    report = ingest_paths(
        [parent, DATA / "statute_sample.md"],
        index=index,
        embedder=embedder,  # type: ignore[arg-type]
        encoder=build_encoder(settings),
        cited_context=cited_context,
    )
    index.close()
    assert not report.failed
    return settings


def _bm25_labels(settings: Settings, encoder: SparseEncoder, query: str) -> set[str]:
    """Sparse legs only (paragraph and article context), so dense similarity cannot blur the test."""
    index = open_index(settings)
    plan = QueryPlan(
        mode="hybrid",
        limit=10,
        filters=SearchFilters(),
        sparse=encoder.encode_query(query),
        article_weights=(1, 1),
    )
    labels = {clause_from_payload(p).label for p, _ in index.query(plan)}
    index.close()
    return labels


@pytest.mark.parametrize("cited_context", [True, False])
def test_rule_is_found_through_the_act_clause_it_cites(
    tmp_path: Path, embedder: object, encoder: SparseEncoder, cited_context: bool
) -> None:
    settings = _ingest(tmp_path, embedder, cited_context=cited_context)
    labels = _bm25_labels(settings, encoder, "출입명부")
    assert "시험보건법 제7조의2제2항" in labels
    # 시행규칙 제2조의2① says only "법 제7조의2제2항에 따라 기록을 작성": the word comes from the Act
    assert ("시험보건법 시행규칙 제2조의2제1항" in labels) is cited_context


def test_callbacks_follow_each_file_from_start_to_result(tmp_path: Path) -> None:
    """What the progress bars are drawn from: the total, then per file its units, the units as
    they are written (summing to them), and its result; a file that fails gets only its result."""
    from tests.fakes import CountingEmbedder

    act = tmp_path / "act.md"
    act.write_text(PARENT_ACT, encoding="utf-8")
    broken = tmp_path / "broken.xml"
    broken.write_text("<법령><조문단위>", encoding="utf-8")
    settings = load_settings(data_dir=tmp_path / "data")
    embedder = CountingEmbedder()
    index = open_for_writing(settings, embedder)  # type: ignore[arg-type]
    events: list[str] = []  # "start N", "document NAME N", "progress N", "file NAME STATUS"

    def run() -> list[list[str]]:
        events.clear()
        ingest_paths(
            [act, broken, DATA / "statute_sample.md"],
            index=index,
            embedder=embedder,  # type: ignore[arg-type]
            encoder=build_encoder(settings),
            on_start=lambda total: events.append(f"start {total}"),
            on_document=lambda path, units: events.append(f"document {path.name} {units}"),
            on_progress=lambda n: events.append(f"progress {n}"),
            on_file=lambda result: events.append(f"file {result.path.name} {result.status}"),
        )
        return [e.split() for e in events]

    seen = run()
    assert seen[0] == ["file", "broken.xml", "failed"]
    assert seen[1][0] == "start"
    documents = [(i, e[1], int(e[2])) for i, e in enumerate(seen) if e[0] == "document"]
    assert [name for _, name, _ in documents] == ["act.md", "statute_sample.md"]
    assert int(seen[1][1]) == sum(units for _, _, units in documents)
    for start, name, units in documents:
        end = seen.index(["file", name, "new"])
        assert sum(int(e[1]) for e in seen[start:end] if e[0] == "progress") == units
    calls = len(embedder.calls)
    # unchanged on a second run: the bars still reach their totals, nothing is embedded
    seen = run()
    assert sum(int(e[1]) for e in seen if e[0] == "progress") == int(seen[1][1])
    assert {e[2] for e in seen if e[0] == "file"} == {"failed", "unchanged"}
    assert len(embedder.calls) == calls
    index.close()

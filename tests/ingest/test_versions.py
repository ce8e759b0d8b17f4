"""Versioned ingestion on a real Edge shard: unchanged files cost nothing, new editions switch
atomically and keep the old one for `as_of`, a killed run leaves the old version whole, and a
removed document leaves the others' scores exactly as in an index that never held it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest

from ingest.guidelines import GuidelineMeta
from ingest.pipeline import IngestReport, ingest_paths
from retrieval.errors import NotFound
from retrieval.index import Index, QueryPlan
from retrieval.models import SearchFilters
from retrieval.registry import load_documents
from retrieval.runtime import open_for_writing
from retrieval.search import Searcher, get_clause, search
from retrieval.settings import Settings, load_settings
from retrieval.sparse import SparseEncoder
from retrieval.writes import remove_document
from tests.data.guideline_pdf import make_guideline_pdf
from tests.fakes import CountingEmbedder

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE = (DATA / "statute_sample.md").read_text(encoding="utf-8")


def _settings(tmp_path: Path, name: str = "data") -> Settings:
    return load_settings(data_dir=tmp_path / name)


def _ingest(
    settings: Settings,
    paths: list[Path],
    embedder: CountingEmbedder,
    encoder: SparseEncoder,
    meta: GuidelineMeta | None = None,
) -> IngestReport:
    index = open_for_writing(settings, embedder)
    try:
        return ingest_paths(paths, index=index, embedder=embedder, encoder=encoder, meta=meta)
    finally:
        index.close()


def _statute(tmp_path: Path, effective: str, sentence: str, name: str = "rule.md") -> Path:
    """The sample statute as another version: its own 시행일자 and one changed sentence."""
    text = SAMPLE.replace("시행일자: 2024-04-01", f"시행일자: {effective}")
    text = text.replace("공포일자: 2024-03-15", f"공포일자: {effective}")
    path = tmp_path / effective / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace("이 규칙은", sentence, 1), encoding="utf-8")
    return path


def _searcher(index: Index, embedder: CountingEmbedder, encoder: SparseEncoder) -> Searcher:
    return Searcher(index, embedder, encoder, load_settings().index)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


def test_reingesting_unchanged_files_changes_nothing_and_embeds_nothing(
    tmp_path: Path, embedder: CountingEmbedder, encoder: SparseEncoder
) -> None:
    settings = _settings(tmp_path)
    files = [DATA / "statute_sample.md", make_guideline_pdf(tmp_path / "fever.pdf")]
    first = _ingest(settings, files, embedder, encoder)
    assert [r.status for r in first.files] == ["new", "new"] and embedder.embedded
    calls = len(embedder.calls)
    second = _ingest(settings, files, embedder, encoder)
    assert [r.status for r in second.files] == ["unchanged", "unchanged"]
    assert len(embedder.calls) == calls and second.embedded == 0
    assert sum(r.written + r.removed for r in second.files) == 0
    index = open_for_writing(settings, embedder)
    assert {d: len(r.versions) for d, r in load_documents(index).items()} == {"law-990001": 1, "g-fever": 1}
    index.close()


def test_a_new_edition_supersedes_the_old_and_as_of_still_finds_it(
    tmp_path: Path, embedder: CountingEmbedder, encoder: SparseEncoder
) -> None:
    settings = _settings(tmp_path)
    old = make_guideline_pdf(tmp_path / "fever-2024.pdf", dose="10–15 mg/kg")
    new = make_guideline_pdf(tmp_path / "fever-2025.pdf", edition="2025", dose="12–15 mg/kg")
    _ingest(
        settings, [old], embedder, encoder, GuidelineMeta(doc_id="hanbit-fever", effective=date(2024, 3, 1))
    )
    meta = GuidelineMeta(doc_id="hanbit-fever", effective=date(2025, 3, 1))
    report = _ingest(settings, [new], embedder, encoder, meta)
    assert report.files[0].status == "updated" and report.files[0].removed == 0
    index = open_for_writing(settings, embedder)
    searcher = _searcher(index, embedder, encoder)
    record = load_documents(index)["hanbit-fever"]
    assert [record.status(v) for v in record.ordered()] == ["superseded", "current"]
    assert record.valid_to(record.ordered()[0]) == date(2025, 3, 1)

    def doses(as_of: date | None) -> set[str]:
        filters = SearchFilters(as_of=as_of)
        hits = search(searcher, "아세트아미노펜 1회 용량", k=20, mode="sparse", filters=filters)
        return {dose for h in hits for dose in ("10–15", "12–15") if f"1회 용량: {dose}" in h.clause.text}

    assert doses(None) == {"12–15"}
    assert doses(date(2024, 6, 1)) == {"10–15"}
    assert doses(date(2023, 1, 1)) == set()  # no edition was in force yet
    table = next(
        h for h in search(searcher, "해열제 용량 표", k=20, mode="sparse") if h.clause.kind == "table"
    )
    assert "12–15" in table.clause.text
    assert "10–15" in get_clause(searcher, table.clause.clause_id, as_of=date(2024, 6, 1)).text
    index.close()


def test_a_corrected_file_of_the_same_edition_replaces_it(
    tmp_path: Path, embedder: CountingEmbedder, encoder: SparseEncoder
) -> None:
    settings = _settings(tmp_path)
    meta = GuidelineMeta(doc_id="hanbit-fever", effective=date(2024, 3, 1))
    first = _ingest(settings, [make_guideline_pdf(tmp_path / "a.pdf")], embedder, encoder, meta)
    fixed = make_guideline_pdf(tmp_path / "b.pdf", dose="10–15 mg/kg (최대 1회 500 mg)")
    second = _ingest(settings, [fixed], embedder, encoder, meta)
    assert second.files[0].status == "updated" and second.files[0].removed == first.files[0].clauses
    index = open_for_writing(settings, embedder)
    assert len(load_documents(index)["hanbit-fever"].versions) == 1
    assert index.count() == second.files[0].clauses
    index.close()


def test_statute_versions_follow_their_effective_dates(
    tmp_path: Path, embedder: CountingEmbedder, encoder: SparseEncoder
) -> None:
    settings = _settings(tmp_path)
    later = _statute(tmp_path, "2025-07-01", "이 개정 규칙은")
    earlier = _statute(tmp_path, "2024-04-01", "이 규칙은")
    _ingest(settings, [later], embedder, encoder)
    _ingest(settings, [earlier], embedder, encoder)  # an older version ingested afterwards
    index = open_for_writing(settings, embedder)
    searcher = _searcher(index, embedder, encoder)
    article = "s-990001-a1"

    assert get_clause(searcher, article).text.startswith("이 개정 규칙은")
    assert get_clause(searcher, article, as_of=date(2025, 1, 1)).text.startswith("이 규칙은")
    hits = search(searcher, "규칙의 목적", k=50, mode="sparse")
    assert len({h.clause.version_key for h in hits}) == 1
    index.close()


CHILD = """
import sys
from pathlib import Path
from ingest.pipeline import ingest_paths
from retrieval.runtime import build_encoder, open_for_writing
from retrieval.settings import load_settings
from tests.fakes import CountingEmbedder

settings = load_settings(data_dir=Path(sys.argv[1]))
index = open_for_writing(settings, CountingEmbedder())

def progress(n: int) -> None:
    sys.stdout.write(f"written {n}\\n")
    sys.stdout.flush()

ingest_paths([Path(sys.argv[2])], index=index, embedder=CountingEmbedder(), encoder=build_encoder(settings),
             on_progress=progress)
sys.stdout.write("done\\n")
"""


def _big_statute(tmp_path: Path, effective: str, word: str) -> Path:
    """A statute long enough to be written in several batches."""
    head = SAMPLE.split("# 시험보건법 시행규칙")[0].replace("시행일자: 2024-04-01", f"시행일자: {effective}")
    head = head.replace("공포일자: 2024-03-15", f"공포일자: {effective}")
    body = "\n".join(
        f"##### 제{n}조 (조문 {n})\n\n보건기관은 {word} 기록 {n}번을 보관하여야 한다.\n"
        for n in range(1, 401)
    )
    path = tmp_path / f"big-{effective}.md"
    path.write_text(f"{head}\n# 시험보건법 시행규칙\n\n{body}", encoding="utf-8")
    return path


def test_kill_9_during_ingestion_leaves_the_old_version_whole(
    tmp_path: Path, embedder: CountingEmbedder, encoder: SparseEncoder
) -> None:
    settings = _settings(tmp_path)
    v1, v2 = _big_statute(tmp_path, "2024-01-01", "종이"), _big_statute(tmp_path, "2025-01-01", "전자")
    assert _ingest(settings, [v1], embedder, encoder).files[0].clauses == 400
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(settings.data_dir), str(v2)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    deadline = time.monotonic() + 120
    written = 0
    while written == 0 and time.monotonic() < deadline:  # wait for the first batch on disk
        line = child.stdout.readline()
        assert line and line != "done\n", "the child finished before it could be killed"
        written = int(line.split()[1])
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert 0 < written < 400

    index = open_for_writing(settings, embedder)
    searcher = _searcher(index, embedder, encoder)
    record = load_documents(index)["law-990001"]
    assert len(record.versions) == 1  # the new version was never committed
    hits = search(searcher, "기록 보관", k=100, mode="sparse")
    assert hits and all("종이" in h.clause.text for h in hits)
    assert index.count() > 400  # the orphaned points are there, and invisible
    index.close()

    report = _ingest(settings, [v2], embedder, encoder)  # the rerun finishes the job
    assert report.files[0].status == "updated" and report.files[0].written < 400  # reused what was written
    index = open_for_writing(settings, embedder)
    searcher = _searcher(index, embedder, encoder)
    assert all("전자" in h.clause.text for h in search(searcher, "기록 보관", k=100, mode="sparse"))
    assert index.count() == 800  # both versions, nothing orphaned
    index.close()


def _scores(
    index: Index, encoder: SparseEncoder, versions: tuple[str, ...], question: str
) -> list[tuple[str, float]]:
    plan = QueryPlan(
        mode="hybrid",
        limit=20,
        filters=SearchFilters(),
        sparse=encoder.encode_query(question),
        article_weights=(1.0, 1.0),
        versions=versions,
    )
    return [(p["clause_id"], round(s, 6)) for p, s in index.query(plan)]


def test_removing_a_document_leaves_scores_as_in_a_fresh_index(
    tmp_path: Path, embedder: CountingEmbedder, encoder: SparseEncoder
) -> None:
    keep, drop = DATA / "statute_sample.md", make_guideline_pdf(tmp_path / "fever.pdf")
    both, alone = _settings(tmp_path, "both"), _settings(tmp_path, "alone")
    _ingest(both, [keep, drop], embedder, encoder)
    _ingest(alone, [keep], embedder, encoder)
    index = open_for_writing(both, embedder)
    assert remove_document(index, "g-fever") > 0
    index.optimize()
    removed_versions = tuple(v.key for r in load_documents(index).values() for v in r.versions)
    questions = ["보건요원 교육 시간", "기록 보관 기간", "보건기관의 정의", "발열 소아 해열제 용량"]
    after = {q: _scores(index, encoder, removed_versions, q) for q in questions}
    assert load_documents(index).keys() == {"law-990001"}
    index.close()
    fresh = open_for_writing(alone, embedder)
    fresh_versions = tuple(v.key for r in load_documents(fresh).values() for v in r.versions)
    assert fresh_versions == removed_versions
    assert after == {q: _scores(fresh, encoder, fresh_versions, q) for q in questions}
    fresh.close()


def test_removing_an_unknown_document_says_how_to_list_them(
    tmp_path: Path, embedder: CountingEmbedder, encoder: SparseEncoder
) -> None:
    settings = _settings(tmp_path)
    _ingest(settings, [DATA / "statute_sample.md"], embedder, encoder)
    index = open_for_writing(settings, embedder)
    with pytest.raises(NotFound, match="kmed documents list"):
        remove_document(index, "g-nope")
    index.close()

"""Snapshots of a real Edge index: a restore answers every query exactly as before, a damaged or
foreign file is refused, and so is a restore under a process that holds the index."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from retrieval.errors import IndexUnavailable, InvalidQuery
from retrieval.index import EdgeIndex
from retrieval.runtime import build_searcher
from retrieval.search import search
from retrieval.settings import Settings, load_settings
from retrieval.snapshots import create_snapshot, restore_snapshot
from retrieval.writes import remove_document
from tests.data.guideline_pdf import make_guideline_pdf
from tests.indexing import index_files

DATA = Path(__file__).resolve().parent.parent / "data"
QUESTIONS = ["진료기록부 보존 기간", "해열제 용량", "처방전 대리수령", "열성 경련 응급실"]


def answers(settings: Settings) -> list[list[tuple[str, float]]]:
    searcher = build_searcher(settings)
    try:
        return [
            [(h.clause.clause_id, round(h.score, 6)) for h in search(searcher, q, k=10)] for q in QUESTIONS
        ]
    finally:
        searcher.index.close()


@pytest.fixture
def indexed(tmp_path: Path) -> Settings:
    settings = load_settings(data_dir=tmp_path / "data")
    index_files(settings, [DATA / "statute_sample.md", make_guideline_pdf(tmp_path / "fever.pdf")])
    return settings


def test_a_restore_answers_exactly_as_before(indexed: Settings, tmp_path: Path) -> None:
    before = answers(indexed)
    info = create_snapshot(indexed, tmp_path / "backup.tar")
    assert info.points > 0 and info.files > 0
    index = EdgeIndex(indexed.data_dir / "index" / indexed.index.collection)
    remove_document(index, "g-fever")  # the index changes after the snapshot
    index.close()
    assert answers(indexed) != before
    restored = restore_snapshot(indexed, tmp_path / "backup.tar")
    assert restored.points == info.points
    assert answers(indexed) == before
    elsewhere = load_settings(data_dir=tmp_path / "other")  # onto another host's empty data folder
    restore_snapshot(elsewhere, tmp_path / "backup.tar")
    assert answers(elsewhere) == before


def test_a_restore_under_a_holder_is_refused(indexed: Settings, tmp_path: Path) -> None:
    create_snapshot(indexed, tmp_path / "backup.tar")
    holder = EdgeIndex(indexed.data_dir / "index" / indexed.index.collection)
    try:
        with pytest.raises(IndexUnavailable, match="held by a running service"):
            restore_snapshot(indexed, tmp_path / "backup.tar")
        with pytest.raises(IndexUnavailable):
            create_snapshot(indexed, tmp_path / "again.tar")  # only through the holder (the API)
        assert create_snapshot(indexed, tmp_path / "through.tar", holder).points == holder.count()
    finally:
        holder.close()


def test_damaged_and_foreign_files_are_refused_and_change_nothing(indexed: Settings, tmp_path: Path) -> None:
    before = answers(indexed)
    create_snapshot(indexed, tmp_path / "backup.tar")
    foreign = tmp_path / "foreign.tar"
    with tarfile.open(foreign, "w") as tar:
        tar.add(DATA / "statute_sample.md", arcname="statute_sample.md")
    with pytest.raises(InvalidQuery, match="not a kmed snapshot"):
        restore_snapshot(indexed, foreign)
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(tmp_path / "backup.tar") as src, tarfile.open(damaged, "w") as out:
        for member in src.getmembers():
            data = src.extractfile(member)
            if member.isfile() and member.name.startswith("shard/") and member.size > 64:
                raw = bytearray(data.read() if data else b"")
                raw[len(raw) // 2] ^= 0xFF
                out.addfile(member, io.BytesIO(bytes(raw)))
            else:
                out.addfile(member, data)
    with pytest.raises(InvalidQuery, match="damaged"):
        restore_snapshot(indexed, damaged)
    assert answers(indexed) == before

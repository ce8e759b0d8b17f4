"""kmed's hybrid Korean retrieval as a llama-index retriever.

`KmedRetriever` is a `BaseRetriever` over a `Searcher` in this process, or over a running
service's `GET /v1/search` (with its key), so llama-index query engines (including
`CitationQueryEngine`) and agents get kmed's clauses: each `NodeWithScore` is one statute clause
or guideline chunk, its text the clause's own words, its id the clause id, and its metadata the
citation (clause id, label, law, level, article, paragraph, pages, link, document). The label
and law are also in what the LLM reads (`metadata_mode=LLM`), so its answer can name them;
nothing in metadata is embedded again. The question is redacted before it is searched or sent.

    from retrieval.llamaindex import KmedRetriever
    retriever = KmedRetriever(url="http://kmed.hospital.local:8000", api_key=KEY, k=5)
    engine = CitationQueryEngine.from_args(index=None, retriever=retriever, llm=llm)  # or:
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from retrieval.citations import clause_url
from retrieval.errors import IndexUnavailable, InvalidQuery, KmedError, NotFound
from retrieval.models import SearchFilters
from retrieval.redact import redact
from retrieval.search import Searcher, search_details

# what the LLM sees above each clause; the rest of the metadata is for the caller
LLM_KEYS = ("label", "law", "doc_type")
METADATA_KEYS = (
    "clause_id",
    "label",
    "law",
    "act",
    "level",
    "article",
    "article_title",
    "paragraph",
    "doc_id",
    "doc_type",
    "page_start",
    "page_end",
    "version_key",
)


def clause_node(fields: dict[str, Any], score: float | None) -> NodeWithScore:
    """One clause (as a `Clause` dump or the API's clause object) as a scored node."""
    metadata = {k: fields.get(k) for k in METADATA_KEYS}
    metadata["url"] = fields.get("url") or clause_url(
        str(fields["doc_type"]), str(fields.get("level") or ""), str(fields["law"]), str(fields["article"])
    )
    node = TextNode(
        id_=str(fields["clause_id"]),
        text=str(fields["text"]),
        metadata=metadata,
        excluded_llm_metadata_keys=[k for k in metadata if k not in LLM_KEYS],
        excluded_embed_metadata_keys=list(metadata),
    )
    return NodeWithScore(node=node, score=score)


class KmedRetriever(BaseRetriever):
    """Clauses for a question, from a searcher here or from a kmed service over HTTP."""

    def __init__(
        self,
        searcher: Searcher | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        k: int = 5,
        filters: SearchFilters | None = None,
        patient_patterns: Sequence[str] = (),
        timeout: float = 30.0,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        if (searcher is None) == (url is None):
            raise InvalidQuery("KmedRetriever takes a searcher or the url of a kmed service, not both")
        self.searcher, self.k, self.filters = searcher, k, filters or SearchFilters()
        self.patterns = tuple(patient_patterns)
        self._http = (
            httpx.Client(
                base_url=url.rstrip("/"), headers={"X-API-Key": api_key} if api_key else {}, timeout=timeout
            )
            if url
            else None
        )
        super().__init__(callback_manager=callback_manager)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        question = redact(query_bundle.query_str, self.patterns).text
        if self.searcher is not None:
            hits = search_details(self.searcher, question, k=self.k, filters=self.filters).hits
            return [clause_node(h.clause.model_dump(mode="json"), h.score) for h in hits]
        return self._remote(question)

    def _remote(self, question: str) -> list[NodeWithScore]:
        if self._http is None:  # pragma: no cover - the constructor sets one or the searcher
            raise RuntimeError("no kmed service to ask")
        params: dict[str, Any] = {"q": question, "k": self.k}
        given = self.filters.model_dump(mode="json", include={"law", "level", "doc_type", "as_of"})
        params |= {key: value for key, value in given.items() if value}  # what GET /v1/search filters on
        try:
            response = self._http.get("/v1/search", params=params)
        except httpx.HTTPError as exc:
            raise IndexUnavailable(f"cannot reach kmed at {self._http.base_url}: {exc}") from exc
        if response.status_code != 200:
            detail = _detail(response)
            codes: dict[int, type[KmedError]] = {404: NotFound, 422: InvalidQuery}
            error = codes.get(response.status_code, IndexUnavailable)
            raise error(f"kmed answered {response.status_code}: {detail}")
        return [clause_node(h["clause"], h["score"]) for h in response.json()["hits"]]

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))[:300]
    except ValueError:
        return response.text[:300]


__all__ = ["KmedRetriever", "clause_node"]

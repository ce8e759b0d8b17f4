"""The FastAPI application: `create_app(settings)` builds the searcher once, in its lifespan.

Routes stay thin; every `KmedError` maps to a status code in `service/errors.py` and nowhere else.
If no index exists yet the app still starts: /readyz answers 503 and says to run
`kmed ingest`, and the searcher is opened on the first request after ingestion.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from mcp.server.fastmcp.server import StreamableHTTPASGIApp
from starlette.routing import Route

from retrieval.answer import Answerer
from retrieval.errors import IndexUnavailable, KmedError
from retrieval.search import Searcher
from retrieval.settings import Settings
from service import ask, chat, documents, errors, snapshots, uploads, widget
from service.auth import Auth, ReadKeyed
from service.jobs import Ingest, JobRunner, JobStore
from service.mcp import build_mcp
from service.mcp import caller as mcp_caller
from service.middleware import RequestContext
from service.routes import router

log = logging.getLogger("kmed.service")

DESCRIPTION = """
한국 보건의료 법령(법률·시행령·시행규칙)과 진료지침을 조항·절 단위로 찾아 주는 하이브리드 검색 API입니다.
모든 결과는 「의료법」 제22조제2항, 또는 지침의 절과 쪽(§Ⅲ.가, p.47)처럼 정확한 인용과 함께 반환됩니다.

Hybrid search over Korean health statutes (clause level) and clinical guidelines (section
chunks with pages): dense (multilingual-e5) and BM25 (character bigrams, with statute
references and quantities kept whole), each on the unit and on its article or section, plus BM25
over Kiwi morphemes, fused inside Qdrant, then reordered by the rerank stage (`reranker` in each
response says which). A clause the question names (의료법 제33조제2항) joins the candidates, and
`GET /v1/clauses/lookup` resolves such a reference directly. Every hit carries its citation
label. Searches read the current version of each document, or the version in force on `as_of`.
`POST /v1/ask` answers in Korean with a verified citation on every sentence, or abstains
(근거를 찾지 못했습니다); `GET /` is a demo page with the embeddable widget (`/widget.js`).
`POST /v1/citations/verify` checks the statute citations in a text against the version in force.
`POST /v1/chat/completions` and `GET /v1/models` make kmed an OpenAI-compatible model (verified
answers with a 근거 list and `message.reference`), and `/mcp` serves the MCP tools (search,
get_clause, ask, verify_citations) over streamable HTTP.
Uploads and jobs (role ingest), document removal and snapshots (role admin) need a key in the
X-API-Key header; reads need one when the server sets KMED_AUTH__READ_REQUIRES_KEY.
"""


class SearcherHolder:
    """Opens the searcher lazily, so a server started before `kmed ingest` recovers by itself."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._searcher: Searcher | None = None
        self._answerer: Answerer | None = None
        self._lock = threading.Lock()
        self.write_lock = threading.Lock()  # one writer at a time: removals, snapshots, ingestion

    def get(self) -> Searcher:
        with self._lock:
            if self._searcher is None:
                from retrieval.runtime import build_searcher

                self._searcher = build_searcher(self.settings)
            return self._searcher

    def answerer(self) -> Answerer:
        """The answering pipeline over the same searcher, with the configured generator."""
        searcher = self.get()
        with self._lock:
            if self._answerer is None:  # with the answerability model, as `kmed ask` and `kmed eval`
                from retrieval.runtime import build_answerer

                self._answerer = build_answerer(self.settings, searcher)
            return self._answerer

    def close(self) -> None:
        self._answerer = None
        if self._searcher is not None:
            self._searcher.index.close()
            self._searcher = None


WARM_UP = "진료기록부 보존 기간"


def warm(searcher: Searcher) -> None:
    """One search before the first request: the embedder's threads, Kiwi, the reranker and the
    engine's caches start now, not in the first user's wait. Its question is not a user's."""
    from retrieval.search import search_details

    try:
        search_details(searcher, WARM_UP, k=1)
    except KmedError as exc:  # an empty index: nothing to warm
        log.info("warm-up search skipped: %s", exc)


def create_app(settings: Settings, ingest: Ingest | None = None) -> FastAPI:
    """The app; with `ingest` (the composition root's ingestion function) it accepts uploads."""
    holder = SearcherHolder(settings)
    store = JobStore(settings.data_dir / "jobs")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            warm(holder.get())
        except IndexUnavailable as exc:
            log.warning("starting without an index: %s", exc)
        cut = store.recover()
        if cut:
            log.warning("%d ingestion jobs were cut off by the last stop; marked failed", cut)
        app.state.jobs = (
            JobRunner(
                store,
                ingest,
                holder.get,
                holder.write_lock,
                settings.data_dir / "sources",
                audit_log=settings.answer.audit_log,
            )
            if ingest
            else None
        )
        async with mcp.session_manager.run():
            yield
        if app.state.jobs:
            app.state.jobs.close()
        holder.close()

    app = FastAPI(
        title="kmed — 한국어 의료 지식 검색 API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.state.settings = settings
    app.state.auth = Auth.of(settings)
    app.state.job_store, app.state.jobs = store, None
    app.include_router(router)
    app.include_router(ask.router)
    app.include_router(chat.router)
    app.include_router(widget.router)
    if settings.cors_origins:  # the widget on intranet pages of other origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.include_router(documents.router)
    app.include_router(snapshots.router)
    mcp = build_mcp(holder.get, holder.answerer, settings, allowed_hosts=settings.server.mcp_allowed_hosts)
    mcp.streamable_http_app()  # makes the session manager the route below hands requests to
    transport = StreamableHTTPASGIApp(mcp.session_manager)
    app.router.routes.append(Route("/mcp", ReadKeyed(transport, app.state.auth, mcp_caller.set)))
    app.include_router(uploads.build_router(settings))
    app.add_middleware(
        RequestContext,
        body_timeout=settings.server.body_timeout,
        max_body=settings.server.max_body_bytes,
        route_limits={
            ("POST", "/v1/documents"): (settings.server.max_upload_bytes, "KMED_SERVER__MAX_UPLOAD_BYTES")
        },
    )

    errors.install(app)

    return app

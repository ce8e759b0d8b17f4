"""The embeddable widget, its demo page, and the page images its citation panel shows."""

from __future__ import annotations

from datetime import date
from pathlib import Path as FilePath
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from retrieval.pages import render_page
from retrieval.search import get_clause
from service import auth
from service.errors import responses
from service.routes import SearcherDep

STATIC = FilePath(__file__).parent / "static"
router = APIRouter()


@router.get("/", include_in_schema=False)
def demo() -> HTMLResponse:
    """A plain intranet page with the widget on it: the out-of-the-box demo."""
    return HTMLResponse((STATIC / "demo.html").read_text(encoding="utf-8"))


@router.get("/widget.js", include_in_schema=False)
def widget() -> FileResponse:
    return FileResponse(STATIC / "widget.js", media_type="application/javascript; charset=utf-8")


@router.get(
    "/v1/clauses/{clause_id}/page.png",
    dependencies=[Depends(auth.read)],
    responses={
        **responses(401, 403, 404, 409, 422, 429, 503),
        200: {"content": {"image/png": {}}, "description": "The page, boxes highlighted."},
    },
    response_class=Response,
    tags=["search"],
)
def page_image(
    request: Request,
    searcher: SearcherDep,
    clause_id: Annotated[str, Path(description="Id of a guideline chunk.")],
    as_of: Annotated[date | None, Query(description="The version in force on this date.")] = None,
) -> Response:
    """원문 페이지: the PDF page of a guideline chunk, rendered with the chunk's text highlighted."""
    clause = get_clause(searcher, clause_id, as_of=as_of)
    settings = request.app.state.settings
    record = searcher.registry.records().get(clause.doc_id)
    version = next((v for v in record.versions if v.key == clause.version_key), None) if record else None
    sha256 = version.sha256 if version else ""
    kept = settings.data_dir / "sources" / sha256 / PurePath(clause.source).name
    if sha256 and not FilePath(clause.source).is_file() and kept.is_file():
        clause = clause.model_copy(update={"source": str(kept)})  # ingested elsewhere, kept here
    cache = (settings.cache_dir or settings.data_dir / "cache") / "pages"
    png = render_page(clause, cache, sha256)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

"""Document management over HTTP, behind the admin key (`X-Admin-Key`, KMED_ADMIN_KEY).

Without a configured key these routes answer 403: the API never manages documents by default.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request

from retrieval.registry import describe, load_documents, remove_document
from retrieval.search import Searcher
from service.audit import audit
from service.errors import ErrorOut
from service.routes import ERRORS, SearcherDep
from service.schemas import DocumentDetail, DocumentOut, RemovedOut


def require_admin(
    request: Request,
    x_admin_key: Annotated[str | None, Header(description="The server's KMED_ADMIN_KEY.")] = None,
) -> None:
    key: str | None = request.app.state.settings.admin_key
    if not key:
        raise HTTPException(403, "document management over the API is off: set KMED_ADMIN_KEY on the server")
    if not x_admin_key or not secrets.compare_digest(x_admin_key.encode(), key.encode()):
        raise HTTPException(401, "missing or wrong X-Admin-Key header")
    request.state.key_name = "admin"


ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: {"model": ErrorOut, "description": "Missing or wrong X-Admin-Key."},
    403: {"model": ErrorOut, "description": "No admin key configured on the server."},
}
router = APIRouter(prefix="/v1/documents", tags=["documents"], dependencies=[Depends(require_admin)])
DocId = Annotated[str, Path(description="Document id from the list.", examples=["law-001788"])]


def _record(searcher: Searcher, doc_id: str) -> dict[str, Any]:
    record = load_documents(searcher.index).get(doc_id)
    if record is None:
        raise HTTPException(404, f"no document {doc_id!r} in the index")
    return describe(record)


@router.get("", response_model=list[DocumentOut], responses=ADMIN_ERRORS)
def list_documents(searcher: SearcherDep) -> list[DocumentOut]:
    """문서 목록: every indexed document with the version searched by default."""
    records = sorted(load_documents(searcher.index).values(), key=lambda r: (r.doc_type, r.title))
    return [DocumentOut(**{**describe(r), "versions": len(r.versions)}) for r in records]


@router.get("/{doc_id}", response_model=DocumentDetail, responses=ADMIN_ERRORS)
def read_document(searcher: SearcherDep, doc_id: DocId) -> DocumentDetail:
    """문서 조회: a document and all its versions with their status and validity."""
    return DocumentDetail.model_validate(_record(searcher, doc_id))


@router.delete("/{doc_id}", response_model=RemovedOut, responses=ADMIN_ERRORS)
def delete_document(request: Request, searcher: SearcherDep, doc_id: DocId) -> RemovedOut:
    """문서 삭제: remove a document with all its versions; searches stop seeing it at once."""
    removed = remove_document(searcher.index, doc_id)
    audit(request, "document.remove", doc_id=doc_id, points=removed)
    searcher.registry.invalidate()
    searcher.index.optimize()
    return RemovedOut(doc_id=doc_id, removed=removed)

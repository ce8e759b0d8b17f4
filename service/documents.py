"""Document management over HTTP: listing and reading need a key with role ingest, deleting admin.

Without any key configured these routes answer 403: the API never manages documents by default.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from retrieval.registry import describe, load_documents
from retrieval.search import Searcher
from retrieval.writes import remove_document
from service import auth
from service.audit import audit
from service.routes import ERRORS, SearcherDep
from service.schemas import DocumentDetail, DocumentOut, RemovedOut

router = APIRouter(prefix="/v1/documents", tags=["documents"])
DocId = Annotated[str, Path(description="Document id from the list.", examples=["law-001788"])]


def _record(searcher: Searcher, doc_id: str) -> dict[str, Any]:
    record = load_documents(searcher.index).get(doc_id)
    if record is None:
        raise HTTPException(404, f"no document {doc_id!r} in the index")
    return describe(record)


@router.get("", response_model=list[DocumentOut], responses=ERRORS, dependencies=[Depends(auth.ingest)])
def list_documents(searcher: SearcherDep) -> list[DocumentOut]:
    """문서 목록: every indexed document with the version searched by default."""
    records = sorted(load_documents(searcher.index).values(), key=lambda r: (r.doc_type, r.title))
    return [DocumentOut(**{**describe(r), "versions": len(r.versions)}) for r in records]


@router.get("/{doc_id}", response_model=DocumentDetail, responses=ERRORS, dependencies=[Depends(auth.ingest)])
def read_document(searcher: SearcherDep, doc_id: DocId) -> DocumentDetail:
    """문서 조회: a document and all its versions with their status and validity."""
    return DocumentDetail.model_validate(_record(searcher, doc_id))


@router.delete("/{doc_id}", response_model=RemovedOut, responses=ERRORS, dependencies=[Depends(auth.admin)])
def delete_document(request: Request, searcher: SearcherDep, doc_id: DocId) -> RemovedOut:
    """문서 삭제: remove a document with all its versions; searches stop seeing it at once."""
    with request.app.state.holder.write_lock:
        removed = remove_document(searcher.index, doc_id)
        searcher.registry.invalidate()
        searcher.index.optimize()
    audit(request, "document.remove", doc_id=doc_id, points=removed)
    return RemovedOut(doc_id=doc_id, removed=removed)

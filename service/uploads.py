"""POST /v1/documents (role ingest): upload files into the running service; GET /v1/jobs.

A file's type is read from its first bytes, not from its name: a PDF, law.go.kr XML or JSON, or a
Markdown statute. Archives (zip, gzip, 7z, rar) are refused: a zip bomb is never unpacked, and
a folder of files is uploaded as files. Each accepted file is kept in `<data dir>/sources/
<sha256>/<name>`, where the service renders guideline pages from, wherever ingestion ran.
Nothing is indexed before the job runs, and a bad file fails alone in the job's results.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from retrieval.settings import Settings
from service import auth
from service.audit import audit
from service.errors import responses
from service.jobs import Job, StoredFile, UploadMeta, new_job

_ARCHIVES = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"BZh")
_NAME = re.compile(r"[^\w.\- ()가-힣]")
MAX_FILES = 50


def sniff(head: bytes) -> str:
    """The suffix of what the bytes are (.pdf, .xml, .json, .md), or an HTTPException."""
    if not head:
        raise HTTPException(422, "an uploaded file is empty")
    if head.startswith(b"%PDF-"):
        return ".pdf"
    if head.startswith(_ARCHIVES):
        raise HTTPException(415, "archives are not ingested (and never unpacked): upload the files inside")
    try:
        text = head.decode("utf-8").lstrip("\ufeff \t\r\n")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sniffed part
            raise HTTPException(
                415, "not a PDF, and not UTF-8 text (law.go.kr XML/JSON or a Markdown statute)"
            ) from exc
        text = head[: exc.start].decode("utf-8").lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        return ".xml"
    if text.startswith(("{", "[")):
        return ".json"
    if text.startswith(("---", "#")):
        return ".md"
    raise HTTPException(
        415, "not a PDF, law.go.kr XML or JSON, or a Markdown statute (front matter or # title)"
    )


def clean_name(name: str | None, suffix: str, n: int) -> str:
    stem = Path(name or "").stem
    stem = _NAME.sub("_", stem).strip(" .") or f"upload-{n}"
    return stem[:120] + suffix


def store(upload: UploadFile, n: int, sources: Path) -> StoredFile:
    """Copy one upload into the source store by its SHA-256; the file's type from its bytes."""
    suffix = sniff(upload.file.read(8192))
    upload.file.seek(0)
    name = clean_name(upload.filename, suffix, n)
    sources.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=sources, prefix=".upload-", delete=False) as tmp:
        try:
            for block in iter(lambda: upload.file.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
                tmp.write(block)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    target = sources / digest.hexdigest() / name
    target.parent.mkdir(exist_ok=True)
    if target.exists():
        Path(tmp.name).unlink()
    else:
        shutil.move(tmp.name, target)
    return StoredFile(name=name, sha256=digest.hexdigest(), size=size)


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["documents"])

    @router.post(
        "/v1/documents",
        status_code=202,
        response_model=Job,
        dependencies=[Depends(auth.ingest)],
        responses=responses(401, 403, 408, 413, 415, 422, 429, 503),
    )
    def upload(
        request: Request,
        files: Annotated[
            list[UploadFile], File(description="Statutes (Markdown, law.go.kr XML/JSON) or PDFs.")
        ],
        doc_id: Annotated[
            str | None, Form(description="Id of one PDF (a revised edition: the old id).")
        ] = None,
        title: Annotated[str | None, Form(description="Title of one PDF.")] = None,
        issuer: Annotated[str | None, Form(description="Issuing body, e.g. 질병관리청.")] = None,
        version: Annotated[str | None, Form(description="Edition or year, e.g. 2024.")] = None,
        effective: Annotated[date | None, Form(description="Date the edition takes effect.")] = None,
        published: Annotated[date | None, Form(description="Publication date.")] = None,
    ) -> JSONResponse:
        """문서 등록: store the files and queue an ingestion job (202); GET /v1/jobs/{id} follows it.
        Searches go on meanwhile, and see each new version the moment it commits."""
        runner = request.app.state.jobs
        if runner is None:
            raise HTTPException(503, "this server was started without ingestion; run it with `kmed serve`")
        if not files or len(files) > MAX_FILES:
            raise HTTPException(422, f"upload between 1 and {MAX_FILES} files per job")
        try:
            meta = UploadMeta(
                doc_id=doc_id,
                title=title,
                issuer=issuer,
                version=version,
                effective=effective,
                published=published,
            )
        except ValidationError as exc:
            raise HTTPException(
                422, f"invalid {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}"
            ) from exc
        stored = [store(f, n, settings.data_dir / "sources") for n, f in enumerate(files, start=1)]
        names = [s.name for s in stored]
        if len(set(names)) != len(names):
            raise HTTPException(422, "two uploaded files have the same name; rename one")
        pdfs = [s for s in stored if s.name.endswith(".pdf")]
        if (doc_id or title) and len(pdfs) != 1:
            raise HTTPException(422, "doc_id and title describe one PDF: upload one PDF with them")
        job = new_job(stored, meta, getattr(request.state, "key_name", "anonymous"))
        runner.submit(job)
        audit(request, "upload", job=job.id, files=[(s.name, s.sha256, s.size) for s in stored])
        return JSONResponse(
            status_code=202, content=job.model_dump(mode="json"), headers={"Location": f"/v1/jobs/{job.id}"}
        )

    @router.get(
        "/v1/jobs",
        response_model=list[Job],
        dependencies=[Depends(auth.ingest)],
        responses=responses(401, 403),
    )
    def list_jobs(request: Request) -> list[Job]:
        """작업 목록: ingestion jobs, newest first."""
        return request.app.state.job_store.all()[:100]  # type: ignore[no-any-return]

    @router.get(
        "/v1/jobs/{job_id}",
        response_model=Job,
        dependencies=[Depends(auth.ingest)],
        responses=responses(401, 403, 404),
    )
    def read_job(
        request: Request, job_id: Annotated[str, PathParam(description="Id from POST /v1/documents.")]
    ) -> Job:
        """작업 조회: queued, running, done or failed, with progress and each file's result."""
        return request.app.state.job_store.get(job_id)  # type: ignore[no-any-return]

    return router

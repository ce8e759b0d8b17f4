"""Ingestion jobs inside the running service: one writer thread, job records on disk.

`POST /v1/documents` stores the uploaded files and queues a job; one worker thread runs the jobs
in order, each under the service's write lock, through the ingestion function the composition
root gave `create_app` (the service does not import `ingest`). Searches go on meanwhile: a new
version becomes visible when its registry record commits, because the worker invalidates the
registry after every file. Each job is a JSON file in `<data dir>/jobs/`, rewritten atomically at
every step; a job found queued or running when the service starts was cut off by a stop or a
crash, and is marked failed with that reason (the index kept its previous versions: a version
only switches in at its commit).
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from retrieval.errors import NotFound
from retrieval.search import Searcher
from service import audit

log = logging.getLogger(__name__)
JobStatus = Literal["queued", "running", "done", "failed"]


class UploadMeta(BaseModel):
    """What the uploader says about a guideline PDF; unset fields are read from the PDF."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str | None = Field(default=None, pattern=r"^[\w.-]{1,80}$", description="Id of the document.")
    title: str | None = Field(default=None, max_length=300)
    issuer: str | None = Field(default=None, max_length=100)
    version: str | None = Field(default=None, max_length=50)
    effective: date | None = None
    published: date | None = None


class FileOutcome(BaseModel):
    """One file of a job, as the CLI's ingestion table shows it."""

    name: str
    status: str = Field(description="new, updated, unchanged or failed.")
    format: str = ""
    doc_id: str = ""
    title: str = ""
    version: str = ""
    units: int = 0
    supplementary: int = 0
    pages: int | None = None
    ocr_pages: int = 0
    written: int = 0
    removed: int = 0
    error: str = ""
    warnings: list[str] = Field(default_factory=list)


class Progress(BaseModel):
    files_done: int = 0
    files: int = 0
    units_embedded: int = 0
    units: int | None = None
    stage: str = "queued"


class StoredFile(BaseModel):
    name: str = Field(description="The file's name as uploaded (cleaned), with the suffix of its type.")
    sha256: str
    size: int


class Job(BaseModel):
    id: str
    status: JobStatus = "queued"
    submitted_by: str = "anonymous"
    files: list[StoredFile] = Field(description="The uploaded files, kept by content hash.")
    meta: UploadMeta = Field(default_factory=UploadMeta)
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    progress: Progress = Field(default_factory=Progress)
    results: list[FileOutcome] = Field(default_factory=list)
    error: str = ""


class JobProgress(Protocol):
    """What the ingestion function reports while it runs."""

    def start(self, units: int) -> None: ...
    def embedded(self, units: int) -> None: ...
    def file_done(self, outcome: FileOutcome) -> None: ...


class Ingest(Protocol):
    """Ingest stored files into the searcher's index; never raises for a bad file."""

    def __call__(
        self, paths: Sequence[Path], meta: UploadMeta, searcher: Searcher, progress: JobProgress
    ) -> list[FileOutcome]: ...


class JobStore:
    """Job records as JSON files; writes are atomic (temporary file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def save(self, job: Job) -> None:
        with self._lock:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f".{job.id}.json.tmp"
            tmp.write_text(job.model_dump_json(indent=1), "utf-8")
            tmp.replace(self.root / f"{job.id}.json")

    def get(self, job_id: str) -> Job:
        path = self.root / f"{job_id}.json"
        if not job_id.isalnum() or not path.is_file():
            raise NotFound(f"no job {job_id!r}; GET /v1/jobs lists them")
        return Job.model_validate_json(path.read_text("utf-8"))

    def all(self) -> list[Job]:
        if not self.root.is_dir():
            return []
        jobs = [Job.model_validate_json(p.read_text("utf-8")) for p in self.root.glob("*.json")]
        return sorted(jobs, key=lambda j: j.created, reverse=True)

    def recover(self) -> int:
        """Mark the jobs that a stop or crash cut off as failed; how many there were."""
        cut = [j for j in self.all() if j.status in ("queued", "running")]
        for job in cut:
            job.status, job.finished = "failed", datetime.now(UTC)
            job.error = (
                f"the service stopped while this job was {job.progress.stage}; the documents kept their "
                "previous versions. Upload the files again."
            )
            self.save(job)
        return len(cut)


class _Reporter:
    def __init__(self, runner: JobRunner, job: Job, searcher: Searcher) -> None:
        self.runner, self.job, self.searcher = runner, job, searcher

    def start(self, units: int) -> None:
        self.job.progress.units, self.job.progress.stage = units, "embedding"
        self.runner.store.save(self.job)

    def embedded(self, units: int) -> None:
        self.job.progress.units_embedded += units

    def file_done(self, outcome: FileOutcome) -> None:
        self.job.progress.files_done += 1
        self.job.results.append(outcome)
        self.searcher.registry.invalidate()  # the committed version is searched from now on
        self.runner.store.save(self.job)


class JobRunner:
    """One worker thread running queued jobs in order, one writer at a time."""

    def __init__(
        self,
        store: JobStore,
        ingest: Ingest,
        searcher: Callable[[], Searcher],
        write_lock: threading.Lock,
        sources: Path,
        audit_log: bool = False,
    ) -> None:
        self.store, self.ingest, self.searcher, self.write_lock = store, ingest, searcher, write_lock
        self.sources, self.audit_log = sources, audit_log
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="kmed-ingest", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        self.store.save(job)
        self._queue.put(job.id)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            job = self.store.get(job_id)
            try:
                self._run(job)
            except Exception as exc:  # a bug must fail the job, not kill the worker
                log.error("ingestion job %s failed", job.id, exc_info=exc)
                job.status, job.error = "failed", f"ingestion stopped: {type(exc).__name__}"
            job.finished = datetime.now(UTC)
            job.progress.stage = job.status
            self.store.save(job)
            log.info("ingestion job %s %s", job.id, job.status)
            if self.audit_log:
                audit.record(
                    "ingest",
                    job.submitted_by,
                    job=job.id,
                    files=[f.name for f in job.files],
                    versions=[
                        {"file": r.name, "status": r.status, "doc_id": r.doc_id, "version": r.version}
                        for r in job.results
                    ],
                )

    def _run(self, job: Job) -> None:
        searcher = self.searcher()
        job.status, job.started, job.progress.stage = "running", datetime.now(UTC), "parsing"
        job.progress.files = len(job.files)
        self.store.save(job)
        paths = [self.sources / f.sha256 / f.name for f in job.files]
        with self.write_lock:
            outcomes = self.ingest(paths, job.meta, searcher, _Reporter(self, job, searcher))
            searcher.registry.invalidate()
        job.results = outcomes
        failed = [o for o in outcomes if o.status == "failed"]
        job.status = "failed" if failed and len(failed) == len(outcomes) else "done"
        if failed:
            job.error = f"{len(failed)} of {len(outcomes)} files failed; see results"


def new_job(files: list[StoredFile], meta: UploadMeta, submitted_by: str) -> Job:
    return Job(
        id=uuid.uuid4().hex, files=files, meta=meta, submitted_by=submitted_by, created=datetime.now(UTC)
    )

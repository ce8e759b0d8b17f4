"""The ingestion function `kmed serve` hands the service: the CLI's pipeline, on the open index.

The service never imports `ingest` (the layering is ingest -> retrieval <- service); this module,
in the composition root, is where the two meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.search import Searcher
from retrieval.settings import Settings
from service.jobs import FileOutcome, Ingest, JobProgress, UploadMeta

if TYPE_CHECKING:
    from ingest.pipeline import FileResult


def outcome(r: FileResult) -> FileOutcome:
    return FileOutcome(
        name=r.path.name,
        status=r.status,
        format=r.format,
        doc_id=r.doc_id,
        title=r.title,
        version=r.version,
        units=r.clauses,
        supplementary=r.supplementary,
        pages=r.pages,
        ocr_pages=r.ocr_pages,
        written=r.written,
        removed=r.removed,
        error=r.error.replace(str(r.path.parent) + "/", ""),  # the store's path says nothing to a user
        warnings=r.warnings,
    )


def service_ingest(settings: Settings) -> Ingest:
    def run(
        paths: Sequence[Path], meta: UploadMeta, searcher: Searcher, progress: JobProgress
    ) -> list[FileOutcome]:
        from ingest.guidelines import GuidelineMeta
        from ingest.pipeline import ingest_paths

        report = ingest_paths(
            list(paths),
            index=searcher.index,
            embedder=searcher.embedder,
            encoder=searcher.encoder,
            pdf=settings.pdf,
            meta=GuidelineMeta.model_validate(meta.model_dump(exclude_none=True)),
            on_start=progress.start,
            on_file=lambda r: progress.file_done(outcome(r)),
            on_progress=progress.embedded,
            embed_supplementary=settings.index.embed_supplementary,
            cited_context=settings.index.cited_context,
        )
        if report.embedded or any(r.removed for r in report.files):
            searcher.index.optimize()
        return [outcome(r) for r in report.files]

    return run

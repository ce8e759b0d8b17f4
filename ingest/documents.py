"""One parsed document of any kind, as the pipeline writes it: units plus version facts.

Statute files (Markdown, law.go.kr XML/JSON) and guideline PDFs are read by their own parsers;
`parse_document` picks the parser from the file's content and returns a `ParsedDocument`, the
only shape the pipeline knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ingest.errors import IngestError
from ingest.guidelines import GuidelineMeta, parse_guideline
from ingest.guidelines.layout import Spacer
from ingest.statutes import detect_format, parse_statute
from ingest.statutes.detect import sniff_format
from retrieval import citations
from retrieval.models import Clause, DocType
from retrieval.pages import file_sha256
from retrieval.settings import PdfSettings

SUPPORTED_SUFFIXES = (".md", ".xml", ".json", ".pdf")


@dataclass
class ParsedDocument:
    """A document read into units, with what the registry records about this version."""

    doc_id: str
    doc_type: DocType
    title: str
    level: str
    format: str
    clauses: list[Clause]
    supplementary: list[Clause] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    issuer: str | None = None
    version: str | None = None
    valid_from: date | None = None
    promulgated: date | None = None
    mst: str | None = None
    pages: int | None = None
    ocr_pages: int = 0
    sha256: str = ""
    warnings: list[str] = field(default_factory=list)


def parse_document(
    path: Path,
    *,
    pdf: PdfSettings | None = None,
    meta: GuidelineMeta | None = None,
    spacer: Spacer | None = None,
) -> ParsedDocument:
    """Read one file; raises `IngestError` (with what to do) for anything unreadable."""
    if not path.exists():
        raise IngestError(f"{path}: no such file; check the path")
    with path.open("rb") as fh:
        head = fh.read(512)
    if path.suffix.lower() == ".pdf" or sniff_format(head) == "pdf":
        guideline = parse_guideline(path, settings=pdf or PdfSettings(), meta=meta, spacer=spacer)
        return ParsedDocument(
            doc_id=guideline.doc_id,
            doc_type="guideline",
            title=guideline.title,
            level=guideline.level,
            format="pdf+ocr" if guideline.ocr_pages else "pdf",
            clauses=guideline.chunks,
            counts=guideline.counts,
            issuer=guideline.issuer,
            version=guideline.version,
            valid_from=guideline.effective,
            promulgated=guideline.published,
            pages=guideline.pages,
            ocr_pages=guideline.ocr_pages,
            sha256=file_sha256(path),
            warnings=guideline.warnings,
        )
    fmt = detect_format(path)
    law = parse_statute(path)
    return ParsedDocument(
        doc_id=f"law-{citations.law_key(law.law_id, law.title)}",
        doc_type="statute",
        title=law.title,
        level=law.level,
        format=fmt,
        clauses=law.clauses,
        supplementary=law.supplementary,
        counts=law.counts,
        version=f"공포 {law.promulgated}" if law.promulgated else law.mst,
        valid_from=law.effective,
        promulgated=law.promulgated,
        mst=law.mst,
        sha256=file_sha256(path),
    )

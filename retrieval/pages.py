"""A guideline chunk's page as a PNG with the chunk's text boxes highlighted (for the widget).

Rendered with PyMuPDF from the PDF the chunk was ingested from, then kept in the cache folder:
a page is rendered once per version of its chunk. The file must still be the one ingested (its
SHA-256 as the registry recorded it): a PDF edited or replaced in place would otherwise show
another page, or highlight boxes over the wrong words. Concurrent renders of one page each write
their own temporary file and rename it into place, so a reader never sees half a PNG.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pymupdf

from retrieval.errors import NotFound, SourceChanged
from retrieval.models import Clause

ZOOM = 1.5  # about 108 dpi: readable in a 400-px panel, a few hundred KB per page
HIGHLIGHT = (1.0, 0.85, 0.2)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def render_page(clause: Clause, cache_dir: Path, sha256: str = "") -> bytes:
    """The first page of a guideline chunk with its boxes highlighted, as PNG bytes.

    `sha256` is the hash of the PDF as ingested; when given, a file that no longer has it is
    refused (`SourceChanged`) instead of rendered."""
    if clause.doc_type != "guideline" or not clause.page_start:
        raise NotFound(f"{clause.clause_id} is not a guideline chunk: it has no page to show")
    key = hashlib.sha256(f"{clause.clause_id}@{clause.version_key}@{sha256}".encode()).hexdigest()[:24]
    cached = cache_dir / f"{key}.png"
    if cached.exists():
        return cached.read_bytes()
    source = Path(clause.source)
    if not source.is_file():
        raise NotFound(
            f"the PDF of {clause.label} is no longer at {source}; ingest it again from its new place"
        )
    if sha256 and file_sha256(source) != sha256:
        raise SourceChanged(
            f"the PDF of {clause.label} at {source} has changed since it was ingested; "
            "ingest it again to show its pages"
        )
    try:
        with pymupdf.open(source) as doc:
            if clause.page_start > doc.page_count:
                raise SourceChanged(
                    f"the PDF of {clause.label} at {source} has {doc.page_count} pages, not "
                    f"{clause.page_start}; ingest it again"
                )
            page = doc[clause.page_start - 1]
            for box in clause.boxes:
                if box.page == clause.page_start:
                    page.draw_rect(
                        pymupdf.Rect(box.x0 - 2, box.y0 - 2, box.x1 + 2, box.y1 + 2),
                        color=HIGHLIGHT,
                        fill=HIGHLIGHT,
                        fill_opacity=0.3,
                        width=1.5,
                        overlay=True,
                    )
            png = page.get_pixmap(matrix=pymupdf.Matrix(ZOOM, ZOOM)).tobytes("png")
    except RuntimeError as exc:  # PyMuPDF's errors for an unreadable file (FileDataError is one)
        raise SourceChanged(f"the PDF of {clause.label} at {source} cannot be read: {exc}") from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(png)
        os.replace(tmp, cached)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return bytes(png)

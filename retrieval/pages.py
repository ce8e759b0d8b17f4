"""A guideline chunk's page as a PNG with the chunk's text boxes highlighted (for the widget).

Rendered with PyMuPDF from the PDF the chunk was ingested from, then kept in the cache folder:
a page is rendered once per version of its chunk.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pymupdf

from retrieval.errors import NotFound
from retrieval.models import Clause

ZOOM = 1.5  # about 108 dpi: readable in a 400-px panel, a few hundred KB per page
HIGHLIGHT = (1.0, 0.85, 0.2)


def render_page(clause: Clause, cache_dir: Path) -> bytes:
    """The first page of a guideline chunk with its boxes highlighted, as PNG bytes."""
    if clause.doc_type != "guideline" or not clause.page_start:
        raise NotFound(f"{clause.clause_id} is not a guideline chunk: it has no page to show")
    key = hashlib.sha256(f"{clause.clause_id}@{clause.version_key}".encode()).hexdigest()[:24]
    cached = cache_dir / f"{key}.png"
    if cached.exists():
        return cached.read_bytes()
    source = Path(clause.source)
    if not source.is_file():
        raise NotFound(
            f"the PDF of {clause.label} is no longer at {source}; ingest it again from its new place"
        )
    with pymupdf.open(source) as doc:
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
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_bytes(png)
    tmp.replace(cached)
    return bytes(png)

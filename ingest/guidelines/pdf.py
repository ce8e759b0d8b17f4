"""PDF pages to positioned text lines: validation, text-layer quality, OCR fallback, tables.

What comes out is a list of `Line`s per page in reading order, with running headers and
footers removed and tables turned into caption-plus-rows text. Everything about document
structure (headings, paragraphs, chunks) is `layout`'s business.

A page's text layer is unusable when it is missing (a scan: images, no text) or garbled
(fonts without a ToUnicode map give private-use characters, stray CJK and jamo). Such pages
are read again with Tesseract through PyMuPDF (`Page.get_textpage_ocr`) when it is installed.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import pymupdf

from ingest.errors import ParseError, UnsupportedFormat
from retrieval.settings import PdfSettings

OCR_INSTALL = "apt-get install tesseract-ocr tesseract-ocr-kor"
_PAGE_NUMBER = re.compile(r"^[-–—\s]*(\d{1,4}|[ivxlcIVXLC]{1,6})[-–—\s]*$")
_MARGIN = 0.09  # share of the page height where running headers and footers live
_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP | pymupdf.TEXT_DEHYPHENATE
# text a readable Korean page is made of: Hangul syllables, ASCII, and the symbols guidelines use
_READABLE = re.compile(
    r"[\uac00-\ud7a3\u0020-\u007e\u00b0-\u00bf\u00d7\u00f7\u0391-\u03c9\u2010-\u2044\u2150-\u21ff"
    r"\u2200-\u22ff\u2460-\u24ff\u25a0-\u25ff\u2600-\u26ff\u3000-\u303f\uff01-\uff5e\u2160-\u217f]"
)


@dataclass
class Line:
    """One visual line of text on a page (1-based page index, PDF points, origin top-left)."""

    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    size: float
    bold: bool = False
    table: bool = False  # a row of a detected table, already formatted
    ocr: bool = False  # read by Tesseract: its sizes are estimates, not the typesetter's


@dataclass
class PdfText:
    """All lines of a PDF and what was done to get them."""

    lines: list[Line]
    pages: int
    page_width: float
    body_size: float
    ocr_pages: list[int] = field(default_factory=list)
    skipped_pages: list[int] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    first_page: list[Line] = field(default_factory=list)  # with headers kept: titles live there


def open_pdf(path: Path, settings: PdfSettings) -> pymupdf.Document:
    """Open a PDF or raise a `ParseError` that says what is wrong and what to do."""
    with path.open("rb") as fh:
        if b"%PDF-" not in fh.read(1024):
            raise UnsupportedFormat(
                f"{path}: not a PDF file (no PDF header), though it is named .pdf; check that it is the "
                "right file, or convert it to PDF"
            )
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        raise ParseError(
            f"{path}: the PDF is damaged (truncated or corrupt) and cannot be repaired; "
            "download or export it again"
        ) from exc
    if doc.needs_pass:
        doc.close()
        raise ParseError(
            f"{path}: the PDF is password-protected; ask the publisher for an unprotected copy "
            "or remove the password (e.g. qpdf --decrypt) and ingest that"
        )
    if doc.page_count == 0:
        doc.close()
        raise ParseError(f"{path}: the PDF has no pages; download or export it again")
    if doc.page_count > settings.max_pages:
        pages = doc.page_count
        doc.close()
        raise ParseError(
            f"{path}: {pages} pages is more than the limit of {settings.max_pages} "
            "(KMED_PDF__MAX_PAGES); split the file or raise the limit"
        )
    return doc


def text_quality(text: str) -> float:
    """Share of non-space characters that readable Korean/English text is made of."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    return sum(1 for c in chars if _READABLE.match(c)) / len(chars)


def ocr_available() -> bool:
    if not shutil.which("tesseract"):
        return False
    try:
        tessdata = Path(pymupdf.get_tessdata())
    except RuntimeError:
        return False
    return (tessdata / "kor.traineddata").exists()


def read_pdf(path: Path, settings: PdfSettings) -> PdfText:
    doc = open_pdf(path, settings)
    try:
        return _read(path, doc, settings)
    finally:
        doc.close()


def _read(path: Path, doc: pymupdf.Document, settings: PdfSettings) -> PdfText:
    per_page: dict[int, list[Line]] = {}
    unusable: list[int] = []
    for pno in range(doc.page_count):
        try:
            page = doc[pno]
            raw = page.get_text(flags=_FLAGS)
        except (RuntimeError, ValueError):  # a damaged page: MuPDF could not repair it
            unusable.append(pno)
            continue
        chars = len("".join(raw.split()))
        scanned = chars < 20 and _has_page_image(page)
        garbled = chars >= 20 and text_quality(raw) < settings.min_text_quality
        if settings.ocr == "always" or scanned or garbled:
            unusable.append(pno)
        elif chars:
            per_page[pno] = _page_lines(page, pno + 1, None)
    ocr_pages: list[int] = []
    skipped: list[int] = []
    if unusable:
        can_ocr = settings.ocr != "off" and ocr_available()
        if not can_ocr and (len(unusable) * 2 >= doc.page_count or not per_page):
            raise ParseError(_unusable_message(path, len(unusable), doc.page_count, settings))
        for pno in unusable:
            lines = _ocr_lines(doc, pno, settings) if can_ocr else None
            if lines is None:
                skipped.append(pno + 1)
            else:
                per_page[pno] = lines
                ocr_pages.append(pno + 1)
    per_page = dict(sorted(per_page.items()))
    all_lines = [line for lines in per_page.values() for line in lines]
    if not all_lines:
        raise ParseError(
            f"{path}: no page has readable text (the file may be damaged or blank); "
            "download or export it again"
        )
    body = _body_size(all_lines)
    first = per_page[min(per_page)]
    repeated = _running_lines(per_page, doc)
    kept = [
        _reading_order(
            [ln for ln in lines if not _is_margin_noise(ln, doc[pno].rect.height, repeated)],
            doc[pno].rect.width,
        )
        for pno, lines in per_page.items()
    ]
    meta = {k: v for k, v in (doc.metadata or {}).items() if isinstance(v, str) and v}
    return PdfText(
        lines=[ln for page_lines in kept for ln in page_lines],
        pages=doc.page_count,
        page_width=doc[0].rect.width,
        body_size=body,
        ocr_pages=ocr_pages,
        skipped_pages=skipped,
        metadata=meta,
        first_page=first,
    )


def _has_page_image(page: pymupdf.Page) -> bool:
    """A scan: one image covering most of the page (not a divider page's ornaments)."""
    area = abs(page.rect)
    return any(abs(pymupdf.Rect(info["bbox"]) & page.rect) > 0.5 * area for info in page.get_image_info())


def _unusable_message(path: Path, bad: int, total: int, settings: PdfSettings) -> str:
    what = f"{bad} of {total} pages have no usable text layer (scanned, or fonts without a Unicode map)"
    if settings.ocr == "off":
        return f"{path}: {what}, and OCR is off; set KMED_PDF__OCR=auto to read them with Tesseract"
    return f"{path}: {what}; OCR needs Tesseract with Korean data: {OCR_INSTALL}, then ingest again"


def _ocr_lines(doc: pymupdf.Document, pno: int, settings: PdfSettings) -> list[Line] | None:
    """The page read by Tesseract; the text page lives only as long as its page object."""
    page = doc[pno]
    try:
        textpage = page.get_textpage_ocr(
            flags=_FLAGS, language=settings.ocr_language, dpi=settings.ocr_dpi, full=True
        )
    except (RuntimeError, ValueError):
        return None
    return [replace(line, ocr=True) for line in _page_lines(page, pno + 1, textpage)]


def _page_lines(page: pymupdf.Page, number: int, textpage: pymupdf.TextPage | None) -> list[Line]:
    """Lines of one page; rows of ruled tables replace the lines inside them."""
    tables = _tables(page, number) if textpage is None else []
    boxes = [pymupdf.Rect(t[0]) for t in tables]
    lines: list[Line] = []
    data = page.get_text("dict", flags=_FLAGS, textpage=textpage)
    for block in data["blocks"]:
        for raw in block.get("lines", []):
            spans = [s for s in raw["spans"] if s["text"].strip()]
            if not spans:
                continue
            x0, y0, x1, y1 = raw["bbox"]
            if any(pymupdf.Point((x0 + x1) / 2, (y0 + y1) / 2) in box for box in boxes):
                continue
            text = "".join(s["text"] for s in raw["spans"])
            lines.append(
                Line(
                    number,
                    x0,
                    y0,
                    x1,
                    y1,
                    text,
                    max(s["size"] for s in spans),
                    bold=all(s["flags"] & 16 or "Bold" in s["font"] for s in spans),
                )
            )
    lines = _merge_same_baseline(lines)
    for _, rows in tables:
        lines += rows
    return lines


def _tables(page: pymupdf.Page, number: int) -> list[tuple[pymupdf.Rect, list[Line]]]:
    """Ruled tables as lines: a header row, then one line per row with each cell named by its
    column header, so a row can be found and read on its own."""
    if len(page.get_drawings()) < 4:  # no ruling lines, no table; find_tables is slow
        return []
    found = []
    for table in page.find_tables(use_layout=False).tables:
        cells = [[(c or "").replace("\n", " ").strip() for c in row] for row in table.extract()]
        cells = [row for row in cells if any(row)]
        if len(cells) < 2 or table.col_count < 2:
            continue
        header = cells[0]
        rect = pymupdf.Rect(table.bbox)
        size = 9.0
        box = (rect.x0, rect.y0, rect.x1, rect.y1)
        rows = [Line(number, *box, " | ".join(c for c in header if c), size, table=True)]
        for row in cells[1:]:
            named = [f"{h}: {c}" if h and h != c else c for h, c in zip(header, row, strict=False) if c]
            rows.append(Line(number, *box, " | ".join(named), size, table=True))
        found.append((rect, rows))
    return found


def _merge_same_baseline(lines: list[Line]) -> list[Line]:
    """Spans PyMuPDF put in separate lines but that sit on one baseline (Hancom output,
    a section number set apart from its title) become one line, left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: ln.y1):
        row = rows[-1] if rows else None
        if (
            row
            and abs(row[0].y1 - line.y1) < 0.35 * max(row[0].size, line.size)
            and all(line.x0 >= other.x1 - 1 or line.x1 <= other.x0 + 1 for other in row)
        ):
            row.append(line)
        else:
            rows.append([line])
    merged: list[Line] = []
    for row in rows:
        row.sort(key=lambda ln: ln.x0)
        current = row[0]
        for line in row[1:]:
            if _same_line(current, line):
                spaced = line.x0 - current.x1 > 0.15 * line.size and not current.text.endswith(" ")
                gap = " " if spaced else ""
                current = Line(
                    current.page,
                    current.x0,
                    min(current.y0, line.y0),
                    line.x1,
                    max(current.y1, line.y1),
                    current.text + gap + line.text,
                    max(current.size, line.size),
                    current.bold and line.bold,
                )
            else:
                merged.append(current)
                current = line
        merged.append(current)
    return merged


def _same_line(left: Line, right: Line) -> bool:
    """Close enough to read as one line: near each other, and of one size unless the left
    part is a bare section number ("Ⅱ", "3") set larger than its title."""
    near = right.x0 - left.x1 < 4 * max(left.size, right.size)
    similar = max(left.size, right.size) <= 1.1 * min(left.size, right.size)
    return near and (similar or len(left.text.strip()) <= 4)


def _body_size(lines: list[Line]) -> float:
    weights: Counter[float] = Counter()
    for ln in lines:
        weights[round(ln.size * 2) / 2] += len(ln.text)
    return weights.most_common(1)[0][0] if weights else 10.0


def _normal(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.split()))


def _in_margin(line: Line, height: float) -> bool:
    return line.y1 < height * (_MARGIN + 0.02) or line.y0 > height * (1 - _MARGIN - 0.02)


def _running_lines(per_page: dict[int, list[Line]], doc: pymupdf.Document) -> set[str]:
    """Texts in the top or bottom margin that recur on many pages: running headers/footers."""
    seen: Counter[str] = Counter()
    for pno, lines in per_page.items():
        height = doc[pno].rect.height
        seen.update({_normal(ln.text) for ln in lines if _in_margin(ln, height)})
    threshold = max(3, int(0.2 * len(per_page)))
    return {text for text, n in seen.items() if n >= threshold}


def _is_margin_noise(line: Line, height: float, repeated: set[str]) -> bool:
    if line.table or not _in_margin(line, height):
        return False
    return _normal(line.text) in repeated or bool(_PAGE_NUMBER.match(line.text))


def _reading_order(lines: list[Line], width: float) -> list[Line]:
    """Top to bottom; on a two-column page, full-width lines and the left column before the
    right column."""
    lines = sorted(lines, key=lambda ln: (ln.y0, ln.x0))
    mid = width / 2
    left = [ln for ln in lines if ln.x1 <= mid + 5]
    right = [ln for ln in lines if ln.x0 >= mid - 5]
    spanning = [ln for ln in lines if ln.x0 < mid - 5 and ln.x1 > mid + 5]
    if len(left) < 5 or len(right) < 5 or len(spanning) > 0.2 * len(lines):
        return lines
    top = min(ln.y0 for ln in left + right)
    head = [ln for ln in spanning if ln.y0 < top]
    tail = [ln for ln in spanning if ln.y0 >= top]
    return head + left + right + tail

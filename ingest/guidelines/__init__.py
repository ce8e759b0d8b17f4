"""Guideline PDFs to citable chunks: `parse_guideline(path)`.

`pdf` reads positioned lines (OCR where the text layer is unusable), `layout` builds the
section tree and chunks, and this module names the document: metadata come from the command
line (`GuidelineMeta`), a sidecar next to the file (`<name>.yaml`, `.yml` or `.json` with the
same keys), and the PDF itself, in that order. A chunk's citation reads
`소아 청소년 하기도 감염의 항생제 사용지침(2017) §Ⅰ.가, p.19`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.errors import ParseError
from ingest.guidelines.layout import Chunk, Heading, Spacer, chunk_lines
from ingest.guidelines.pdf import PdfText, read_pdf
from retrieval.models import Clause
from retrieval.settings import PdfSettings

SIDECAR_SUFFIXES = (".yaml", ".yml", ".json")
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")
_DATE = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)[-._]?(0[1-9]|1[0-2])[-._]?(0[1-9]|[12]\d|3[01])(?!\d)")


class GuidelineMeta(BaseModel):
    """What the operator says about a guideline; unset fields are read from the PDF."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str | None = Field(
        default=None,
        description="Stable document id; give a revised edition the same id to replace the old one "
        "(default: 'g-' and the file name).",
    )
    title: str | None = None
    issuer: str | None = Field(default=None, description="Issuing body, e.g. 질병관리청.")
    version: str | None = Field(default=None, description="Edition or year, e.g. '2024'.")
    effective: date | None = Field(default=None, description="Date the edition takes effect.")
    published: date | None = None
    level: str | None = Field(default=None, description="지침 (default), 공고 or 고시.")

    def merged(self, fallback: GuidelineMeta) -> GuidelineMeta:
        return GuidelineMeta.model_validate(
            fallback.model_dump(exclude_none=True) | self.model_dump(exclude_none=True)
        )


@dataclass
class ParsedGuideline:
    doc_id: str
    title: str
    level: str
    issuer: str | None
    version: str | None
    effective: date | None
    published: date | None
    pages: int
    chunks: list[Clause]
    ocr_pages: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_sidecar(path: Path) -> GuidelineMeta:
    """Metadata from `<name>.yaml|.yml|.json` next to the PDF, if there is one."""
    for suffix in SIDECAR_SUFFIXES:
        sidecar = path.with_suffix(suffix)
        if not sidecar.exists():
            continue
        try:
            text = sidecar.read_text(encoding="utf-8")
            data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
            return GuidelineMeta.model_validate(data or {})
        except (ValueError, yaml.YAMLError, ValidationError, OSError) as exc:
            raise ParseError(
                f"{sidecar}: cannot read the metadata sidecar ({exc}); fix it or remove it"
            ) from exc
    return GuidelineMeta()


def parse_guideline(
    path: Path,
    *,
    settings: PdfSettings | None = None,
    meta: GuidelineMeta | None = None,
    spacer: Spacer | None = None,
) -> ParsedGuideline:
    """Read one guideline PDF; `spacer` (Kiwi's `space`) decides spaces at Korean line wraps."""
    settings = settings or PdfSettings()
    sidecar = read_sidecar(path)
    text = read_pdf(path, settings)
    given = (meta or GuidelineMeta()).merged(sidecar).merged(_detected(path, text))
    doc_id = given.doc_id or f"g-{path.stem}"
    title = given.title or path.stem
    level = given.level or "지침"
    chunks = chunk_lines(
        text.lines,
        body=text.body_size,
        width=text.page_width,
        max_chars=settings.max_chunk_chars,
        spacer=spacer,
    )
    ocr = set(text.ocr_pages)
    clauses = [
        _clause(chunk, n, doc_id=doc_id, title=title, level=level, meta=given, path=path, ocr=ocr)
        for n, chunk in enumerate(chunks, start=1)
    ]
    if not clauses:
        raise ParseError(f"{path}: no text could be read into sections; is it a scanned image?")
    warnings = []
    if text.ocr_pages:
        warnings.append(f"OCR used for {len(text.ocr_pages)} of {text.pages} pages: check the text")
    if text.skipped_pages:
        warnings.append(
            f"pages {_ranges(text.skipped_pages)} skipped: no usable text layer and no OCR "
            "(apt-get install tesseract-ocr tesseract-ocr-kor)"
        )
    sections = {tuple(h.text for h in c.path) for c in chunks}
    return ParsedGuideline(
        doc_id=doc_id,
        title=title,
        level=level,
        issuer=given.issuer,
        version=given.version,
        effective=given.effective,
        published=given.published,
        pages=text.pages,
        chunks=clauses,
        ocr_pages=len(text.ocr_pages),
        counts={
            "sections": len(sections),
            "recommendations": sum(c.kind == "recommendation" for c in chunks),
            "tables": sum(c.kind == "table" for c in chunks),
        },
        warnings=warnings,
    )


def section_number(path: list[Heading]) -> str:
    """'3.2' when the deepest number is already hierarchical, else the numbers joined: 'Ⅰ.가.1'."""
    numbers = [h.number.strip(".() ") for h in path if h.number]
    if not numbers:
        return path[-1].text[:30] if path else ""
    if "." in numbers[-1]:
        return numbers[-1]
    return ".".join(numbers)


def citation_label(title: str, version: str | None, section: str, pages: tuple[int, int]) -> str:
    edition = f"({version})" if version and version not in title else ""
    where = f"p.{pages[0]}" if pages[0] == pages[1] else f"pp.{pages[0]}–{pages[1]}"
    return f"{title}{edition} §{section}, {where}" if section else f"{title}{edition}, {where}"


def _clause(
    chunk: Chunk,
    n: int,
    *,
    doc_id: str,
    title: str,
    level: str,
    meta: GuidelineMeta,
    path: Path,
    ocr: set[int],
) -> Clause:
    path_ = [h for h in chunk.path if " ".join(h.text.split()) not in title]  # the cover title
    section = section_number(path_)
    return Clause(
        clause_id=f"{doc_id}-c{n:04d}",
        doc_id=doc_id,
        doc_type="guideline",
        law=title,
        act=title,
        level=level,
        article=section,
        article_title=path_[-1].text if path_ else "",
        headings=[h.text for h in path_],
        text=chunk.text,
        label=citation_label(title, meta.version, section, chunk.pages),
        effective=meta.effective,
        promulgated=meta.published,
        source=str(path),
        kind=chunk.kind,
        issuer=meta.issuer,
        version=meta.version,
        page_start=chunk.pages[0],
        page_end=chunk.pages[1],
        boxes=chunk.boxes,
        recommendation=chunk.recommendation,
        ocr=any(p in ocr for p in range(chunk.pages[0], chunk.pages[1] + 1)),
    )


def _detected(path: Path, text: PdfText) -> GuidelineMeta:
    """Title, edition and dates as far as the file tells them."""
    info = text.metadata
    title = info.get("title", "").strip()
    if not _plausible_title(title):
        title = _largest_text(text) or path.stem.replace("_", " ")
    found = _DATE.search(path.stem)
    day = date(int(found.group(1)), int(found.group(2)), int(found.group(3))) if found else None
    cover = " ".join(ln.text for ln in text.first_page if ln.size >= text.body_size + 2)
    year = _YEAR.search(path.stem) or _YEAR.search(title) or _YEAR.search(cover)
    created = re.match(r"D:(\d{4})(\d{2})(\d{2})", info.get("creationDate", ""))
    published = day or (date(*map(int, created.groups())) if created else None)
    first = " ".join(ln.text for ln in text.first_page)
    notice = re.search(r"(공고|고시)\s*제\s*\d", first)
    level = notice.group(1) if notice else None
    return GuidelineMeta(
        title=title,
        version=year.group(1) if year else (str(published.year) if published else None),
        effective=day,
        published=published,
        level=level,
    )


def _plausible_title(title: str) -> bool:
    return (
        bool(title)
        and not title.startswith("<")
        and not re.search(r"\.(hwp|docx?|pdf|indd)$", title, re.IGNORECASE)
        and not re.match(r"^\W*붙임", title)
        and len(re.findall(r"[\uac00-\ud7a3]", title)) >= 4
    )


def _largest_text(text: PdfText) -> str:
    """The largest lines of the first page with Korean on it: the cover title."""
    lines = [ln for ln in text.first_page if re.search(r"[\uac00-\ud7a3]", ln.text)]
    if not lines:
        return ""
    top = max(ln.size for ln in lines)
    floor = max(0.8 * top, text.body_size + 2)
    return " ".join(" ".join(ln.text.split()) for ln in lines if ln.size >= floor)[:120]


def _ranges(pages: list[int]) -> str:
    return ", ".join(str(p) for p in pages[:10]) + (" …" if len(pages) > 10 else "")

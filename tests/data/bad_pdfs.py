"""Writes a small corpus of broken and awkward PDFs for ingestion tests (issue 3).

Generated at test time, not committed: each file is made with PyMuPDF or by hand so that it
has exactly one defect. `python tests/data/bad_pdfs.py OUT_DIR` writes them for a look.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pymupdf

KINDS = ("corrupt", "truncated", "encrypted", "zero_pages", "image_only", "huge", "not_a_pdf")

_ZERO_PAGE_PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""


def _text_pdf(pages: int = 1, text: str = "Sample guideline page") -> bytes:
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page()
        page.insert_text((72, 72), f"{text} {n + 1}")
    data = doc.tobytes()
    doc.close()
    return bytes(data)


def _image_only_pdf() -> bytes:
    """A page whose words are pixels only: rendered text pasted back as an image."""
    source = pymupdf.open(stream=_text_pdf(), filetype="pdf")
    pixmap = source[0].get_pixmap(dpi=100)
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(page.rect, pixmap=pixmap)
    data = doc.tobytes()
    doc.close()
    return bytes(data)


def make_bad_pdfs(folder: Path, *, huge_pages: int = 2000) -> dict[str, Path]:
    """One file per kind in `folder`; returns kind → path."""
    folder.mkdir(parents=True, exist_ok=True)
    good = _text_pdf()
    encrypted = pymupdf.open(stream=good, filetype="pdf").tobytes(
        encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="user"
    )
    contents = {
        "corrupt": b"%PDF-1.7\n" + bytes(range(256)) * 8,
        "truncated": good[: len(good) // 2],
        "encrypted": bytes(encrypted),
        "zero_pages": _ZERO_PAGE_PDF,
        "image_only": _image_only_pdf(),
        "huge": _text_pdf(huge_pages),
        "not_a_pdf": "이것은 PDF가 아니라 텍스트 파일입니다.\n".encode(),
    }
    paths = {}
    for kind in KINDS:
        path = folder / f"{kind}.pdf"
        path.write_bytes(contents[kind])
        paths[kind] = path
    return paths


if __name__ == "__main__":
    for kind, path in make_bad_pdfs(Path(sys.argv[1] if len(sys.argv) > 1 else "bad-pdfs")).items():
        sys.stdout.write(f"{kind}\t{path}\n")

"""Writes a small fictional Korean guideline PDF whose layout the tests know line by line.

Made with PyMuPDF's built-in Korean font at test time (nothing binary is committed). It has
what real guidelines have: a cover, a running header and page numbers, size and numbering
headings, a sentence wrapped inside a Korean word, a graded recommendation, a ruled table
with its caption, a two-column page, and optionally a scanned (image-only) page.
`python tests/data/guideline_pdf.py OUT.pdf` writes one for a look.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pymupdf

FONT = "korea"  # PyMuPDF's built-in CJK font (Droid Sans Fallback)
TITLE = "한빛 소아 발열 관리 지침"


def _text(page: pymupdf.Page, x: float, y: float, text: str, size: float = 10.5) -> None:
    page.insert_text((x, y), text, fontname=FONT, fontsize=size)


def _frame(page: pymupdf.Page, number: int) -> None:
    """Running header and page number, as every page after the cover has them."""
    _text(page, 60, 40, f"{TITLE} (가상 문서)", 8)
    _text(page, 290, 810, f"- {number} -", 9)


def _table(page: pymupdf.Page, top: float, rows: list[list[str]]) -> None:
    left, widths, height = 80.0, [150.0, 150.0, 150.0], 22.0
    for r, row in enumerate(rows):
        y = top + r * height
        x = left
        for c, cell in enumerate(row):
            page.draw_rect(pymupdf.Rect(x, y, x + widths[c], y + height), color=(0, 0, 0), width=0.8)
            _text(page, x + 6, y + 15, cell, 9.5)
            x += widths[c]


def make_guideline_pdf(
    path: Path, *, edition: str = "2024", dose: str = "10–15 mg/kg", scanned_page: bool = False
) -> Path:
    """Write the guideline; `edition` and `dose` make a revised version differ."""
    doc = pymupdf.open()
    cover = doc.new_page()
    _text(cover, 90, 300, TITLE, 26)
    _text(cover, 250, 360, edition, 18)
    _text(cover, 200, 700, "한빛소아과학회 (가상 학회)", 12)

    intro = doc.new_page()
    _frame(intro, 2)
    _text(intro, 60, 100, "Ⅰ. 서론", 16)
    _text(intro, 60, 140, "1. 목적", 12)
    _text(intro, 72, 170, "이 지침은 소아 발열 환자의 초기 평가와 해열제 사용에 관한 권고를 제공하여 진료")
    _text(intro, 60, 187, "현장의 일관성을 높이기 위하여 개발되었다.")
    _text(intro, 60, 230, "2. 적용 대상", 12)
    _text(intro, 72, 260, "생후 3개월 이상 18세 미만의 발열 소아를 대상으로 하며, 신생아는 별도의 지침을")
    _text(intro, 60, 277, "따른다.")

    advice = doc.new_page()
    _frame(advice, 3)
    _text(advice, 60, 100, "Ⅱ. 해열제 사용", 16)
    _text(advice, 60, 140, "권고 1", 12)
    _text(advice, 72, 170, "38.5℃ 이상의 발열로 불편감을 보이는 소아에게는 아세트아미노펜 또는 이부프로펜을")
    _text(advice, 60, 187, "투여한다(권고등급 A, 근거수준 II).")
    _text(advice, 60, 240, "표 1. 연령별 해열제 용량", 10)
    _table(
        advice,
        255,
        [
            ["약제", "1회 용량", "투여 간격"],
            ["아세트아미노펜", dose, "4–6시간"],
            ["이부프로펜", "5–10 mg/kg", "6–8시간"],
        ],
    )
    _text(advice, 72, 380, "해열제는 체온을 낮추는 것보다 아이의 불편감을 줄이는 데 목적이 있다.")

    columns = doc.new_page()
    _frame(columns, 4)
    _text(columns, 60, 100, "Ⅲ. 보호자 교육", 16)
    left = ["보호자에게 체온 측정 방법과", "탈수 징후를 설명한다. 소변", "량이 줄면 병원을 찾도록 한다."]
    right = ["열성 경련이 5분 이상 지속되면", "즉시 응급실을 방문하도록", "교육한다."]
    for n, line in enumerate(left):
        _text(columns, 60, 140 + n * 17, line)
    for n, line in enumerate(right):
        _text(columns, 320, 140 + n * 17, line)
    for n in range(3, 6):  # more lines in each column, so the page reads as two columns
        _text(columns, 60, 140 + n * 17, f"왼쪽 단 설명 문장 {n}.")
        _text(columns, 320, 140 + n * 17, f"오른쪽 단 설명 문장 {n}.")

    if scanned_page:
        _scanned(doc, "Ⅳ. 재평가", "해열제 투여 후 48시간이 지나도 열이 내리지 않으면 다시 진찰한다.")
    doc.save(path)
    doc.close()
    return path


def _scanned(doc: pymupdf.Document, heading: str, sentence: str) -> None:
    """A page whose words are only pixels, as a scanner makes it."""
    source = pymupdf.open()
    page = source.new_page()
    _text(page, 60, 100, heading, 20)
    _text(page, 60, 150, sentence, 14)
    pixmap = page.get_pixmap(dpi=200)
    scan = doc.new_page()
    scan.insert_image(scan.rect, pixmap=pixmap)
    source.close()


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "guideline.pdf")
    make_guideline_pdf(out, scanned_page=True)
    sys.stdout.write(f"{out}\n")

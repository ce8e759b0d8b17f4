"""Lines to a section tree and citable chunks: headings, paragraphs, recommendations, tables.

Headings are found two ways: by size (lines set clearly larger than the body text) and by
Korean numbering at the start of a short line (Ⅰ., 1., 1.1, 가., 1), (1), 가), ①, 제N장, 제N조,
Q1.). Nesting follows the order numbering styles appear in, the way a reader infers it: a
style seen before closes everything opened after it; a new style opens a level below.

Paragraphs are rebuilt from lines (Korean wraps mid-word without hyphens, so lines join
without a space unless the line ended with one), then packed into chunks of about
`max_chars` within one section. A paragraph carrying a recommendation grade (권고등급 A,
Grade B, 근거수준 II) is a chunk of its own, and so is a table with its caption.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.guidelines.pdf import Line
from retrieval.models import Box, ChunkKind, Recommendation

_NUMBERING: list[tuple[str, re.Pattern[str]]] = [
    ("chapter", re.compile(r"^제\s*\d+\s*장")),
    ("part", re.compile(r"^제\s*\d+\s*절")),
    ("article", re.compile(r"^제\s*\d+\s*조(?:의\s*\d+)?")),
    ("roman", re.compile(r"^(?:[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ]+|[IVX]+\.)(?=[.\s]|$)")),
    ("d3", re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}\.?(?=\s)")),
    ("d2", re.compile(r"^\d{1,2}\.\d{1,2}\.?(?=\s)")),
    ("d1", re.compile(r"^\d{1,2}\.(?=\s)")),
    ("ko", re.compile(r"^[가나다라마바사아자차카타파하]\.(?=\s)")),
    ("dp", re.compile(r"^\d{1,2}\)(?=\s)")),
    ("pdp", re.compile(r"^\(\d{1,2}\)(?=\s)")),
    ("kop", re.compile(r"^[가나다라마바사아자차카타파하]\)(?=\s)")),
    ("pkop", re.compile(r"^\([가나다라마바사아자차카타파하]\)(?=\s)")),
    ("question", re.compile(r"^Q\s*\d+\.")),
    ("recommendation", re.compile(r"^권고\s*\d+(?:\.\d+)*(?=[.:\s]|$)")),
]
_ARTICLE_LINE = re.compile(r"^(제\s*\d+\s*조(?:의\s*\d+)?\s*\([^)]{1,30}\))\s*(.*)$")
_CAPTION = re.compile(r"^[【\[<〈(]?\s*(표|그림|Table|Figure|Fig\.)\s*\d+", re.IGNORECASE)
_TOC = re.compile(r"[·.…․‥ㆍ]{4,}\s*\d+\s*$")
_SENTENCE_END = re.compile(r"(다|요|음|함|임|됨|것)\s*[.。]\s*$")
_BULLET = re.compile(r"^[-•○◦▪■□◎●※①-⑳\u2022\u25aa\uf000-\uf8ff]")
_CONTENTS = re.compile(r"^(목\s*차|차\s*례|contents)\b", re.IGNORECASE)
_GRADE = re.compile(
    r"(?:Grade|권고\s*등급|권고\s*강도|권고수준)\s*[:：]?\s*([A-D]|[ⅠⅡⅢⅣ]|I{1,3}V?|강함|약함|조건부)",
    re.IGNORECASE,
)
_LEVEL = re.compile(
    r"(?:Level|근거\s*수준|근거\s*등급)\s*[:：]?\s*([ⅠⅡⅢⅣⅤ]|I{1,3}V?|V|[A-C]|높음|중등도|낮음|매우 낮음)",
    re.IGNORECASE,
)
_REC_NUMBER = re.compile(r"권고\s*(\d+(?:\.\d+)*)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.?!。])\s+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_UNSPACED = re.compile(r"[\uac00-\ud7a3]{14,}")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass
class Heading:
    style: str  # a numbering style, or "size" for an unnumbered heading set large
    number: str  # as printed, e.g. "3.2", "가.", "Ⅱ"; "" for an unnumbered heading
    text: str
    size: float
    big: bool = False  # set clearly larger than the body text


@dataclass
class Chunk:
    kind: ChunkKind
    path: list[Heading]
    text: str
    pages: tuple[int, int]
    boxes: list[Box]
    recommendation: Recommendation | None = None


@dataclass
class _Para:
    lines: list[Line] = field(default_factory=list)
    text: str = ""
    kind: ChunkKind = "text"


def numbering(text: str) -> tuple[str, str] | None:
    """(style, number) when the text starts with a Korean numbering pattern."""
    for style, pattern in _NUMBERING:
        m = pattern.match(text)
        if m:
            return style, m.group(0).strip()
    return None


Spacer = Callable[[str], str]  # adds missing spaces to Korean text (Kiwi's `space`)


def join_lines(first: str, second: str, spacer: Spacer | None = None) -> str:
    """Join wrapped lines: a space where the first ended with one or between Latin words, and
    a hyphen dropped between Latin word parts. Korean wraps inside words as well as between
    them without marking which: the spacer, when given, decides on the two words that meet;
    without one no space is invented. The second line's trailing space is kept: it tells the
    next join that a word ended there."""
    a, b = first.rstrip(), second.lstrip()
    if not a:
        return b
    if first != a:  # the line ended with a space: a word boundary
        return f"{a} {b}"
    if a.endswith("-") and b[:1].islower():
        return a[:-1] + b
    if _HANGUL.match(a[-1]) and b and _HANGUL.match(b[0]):
        return a + (" " if spacer and _space_between(a.split()[-1], b.split()[0], spacer) else "") + b
    return f"{a} {b}"


def _space_between(left: str, right: str, spacer: Spacer) -> bool:
    spaced = spacer(left + right)
    seen = 0
    for char in spaced:
        if seen == len(left):
            return char == " "
        if char != " ":
            seen += 1
    return False


class SectionTree:
    """The stack of open headings while reading the document in order.

    A numbering style already open closes everything below it and takes its place. Otherwise
    a heading set large closes the open headings that are not larger than it, and any other
    heading opens a level below the current one.
    """

    def __init__(self) -> None:
        self.stack: list[Heading] = []

    def open(self, heading: Heading) -> None:
        if heading.big and heading.style in ("roman", "chapter"):
            self.stack.clear()  # Ⅰ, Ⅱ… and 제N장 are the document's parts, whatever came before
        elif heading.style != "size" and any(h.style == heading.style for h in self.stack):
            while self.stack[-1].style != heading.style:
                self.stack.pop()
            self.stack.pop()
        elif heading.big:
            while self.stack and (not self.stack[-1].big or self.stack[-1].size <= heading.size + 0.5):
                self.stack.pop()
        self.stack.append(heading)

    @property
    def path(self) -> list[Heading]:
        return list(self.stack)


def _heading(line: Line, body: float, text: str) -> Heading | None:
    """The line as a heading, or None when it reads as body text."""
    if len(text) > 70 or _TOC.search(text) or line.table or _CAPTION.match(text) or _CONTENTS.match(text):
        return None
    numbered = numbering(text)
    if line.size >= body + 1.5 and len(text) <= 60 and not line.ocr:
        if not re.search(r"[^\W\d_]", text):  # a year or a date on a cover is not a section
            return None
        style, number = numbered or ("size", "")
        return Heading(style, number, text, line.size, big=True)
    if not numbered or _SENTENCE_END.search(text):
        return None
    style, number = numbered
    rest = text[len(number) :].strip()
    if not rest and style not in ("roman", "chapter"):
        return None
    if not _HANGUL.search(rest) and not line.bold:  # "32. doi:10.1111/…" in a reference list
        return None
    if style == "question" or line.bold or (line.size >= body + 0.5 and not line.ocr) or len(text) <= 40:
        return Heading(style, number, text, line.size)
    return None


def chunk_lines(
    lines: list[Line], *, body: float, width: float, max_chars: int, spacer: Spacer | None = None
) -> list[Chunk]:
    """Read lines in order into sections and chunks."""
    tree = SectionTree()
    chunks: list[Chunk] = []
    section: list[_Para] = []
    para = _Para()
    pending_heading: Heading | None = None

    def end_para() -> None:
        nonlocal para
        if para.lines:
            section.append(para)
        para = _Para()

    def end_section() -> None:
        end_para()
        chunks.extend(_pack(section, tree.path, max_chars))
        section.clear()

    prev: Line | None = None
    leading = line_gap(lines)
    for line in lines:
        text = " ".join(line.text.split())
        if not text or _TOC.search(text):
            continue
        if line.table:
            if para.kind != "table":
                end_para()
                para.kind = "table"
            if spacer and _UNSPACED.search(text):  # cells extracted glyph by glyph lose spaces
                text = spacer(text)
            para.lines.append(line)
            para.text = f"{para.text}\n{text}" if para.text else text
            prev = line
            continue
        article = _ARTICLE_LINE.match(text)
        wrapped = _continues(prev, line, leading) and para.kind == "text" and bool(para.lines)
        heading = None if wrapped else _heading(line, body, article.group(1) if article else text)
        if heading:
            if (
                pending_heading is not None
                and prev is not None
                and heading.big
                and pending_heading.big
                and heading.style == "size"
                and abs(heading.size - pending_heading.size) < 0.5
                and line.page == prev.page
                and line.y0 - prev.y1 < line.size
            ):  # a title set over two lines
                pending_heading.text = f"{pending_heading.text} {text}"
                prev = line
                continue
            end_section()
            tree.open(heading)
            pending_heading = heading
            prev = line
            if article and article.group(2):
                para.lines.append(line)
                para.text = article.group(2)
            continue
        pending_heading = None
        if _CAPTION.match(text):
            end_para()
            para.kind = "table" if re.match(r"^\W*(표|table)", text, re.IGNORECASE) else "figure"
            para.lines.append(line)
            para.text = text
            prev = line
            continue
        ruled = any(ln.table for ln in para.lines)
        resumed = ruled or (len(text) > 40 and _SENTENCE_END.search(text))
        if para.kind in ("table", "figure") and resumed:
            end_para()  # a full sentence after a caption: the body text resumes
        elif para.lines and _starts_paragraph(prev, line, width, text, leading) and para.kind == "text":
            end_para()
        para.lines.append(line)
        para.text = (
            join_lines(para.text, line.text, spacer) if para.kind == "text" else f"{para.text}\n{text}"
        )
        prev = line
    end_section()
    return [c for c in chunks if len(_LETTER.findall(c.text)) >= 6]  # not a lone year or page mark


def line_gap(lines: list[Line]) -> float:
    """The usual space between two lines of one paragraph, as a share of the font size."""
    gaps = sorted(
        (b.y0 - a.y1) / b.size
        for a, b in zip(lines, lines[1:], strict=False)
        if a.page == b.page and not a.table and 0 <= b.y0 - a.y1 < 2 * b.size and abs(a.size - b.size) < 1
    )
    return gaps[len(gaps) // 2] if gaps else 0.5


def _continues(prev: Line | None, line: Line, leading: float) -> bool:
    """The line carries on the sentence of the line before (so "다. …" there is not a heading)."""
    if prev is None or prev.page != line.page or prev.table:
        return False
    gap = (line.y0 - prev.y1) / line.size
    return 0 <= gap <= leading + 0.35 and not re.search(r"[.:?!)\]」』】]\s*$", prev.text)


def _starts_paragraph(prev: Line | None, line: Line, width: float, text: str, leading: float) -> bool:
    if prev is None or prev.page != line.page:
        return prev is None or bool(_BULLET.match(text) or numbering(text))
    gap = (line.y0 - prev.y1) / line.size
    if gap > leading + 0.4 or gap < -2:
        return True
    if _BULLET.match(text):
        return True
    if numbering(text):
        return not _continues(prev, line, leading)
    return prev.x1 < width * 0.6 and bool(_SENTENCE_END.search(prev.text))


def _recommendation(text: str, path: list[Heading]) -> Recommendation | None:
    grade, level = _GRADE.search(text), _LEVEL.search(text)
    if not grade and not level:
        return None
    number = _REC_NUMBER.search(text) or next(
        (found for h in reversed(path) if (found := _REC_NUMBER.match(h.text))), None
    )
    return Recommendation(
        number=number.group(1) if number else None,
        strength=grade.group(1) if grade else None,
        evidence=level.group(1) if level else None,
    )


def _pack(paras: list[_Para], path: list[Heading], max_chars: int) -> list[Chunk]:
    """Paragraphs of one section into chunks: recommendations and tables alone, text packed."""
    chunks: list[Chunk] = []
    group: list[tuple[str, list[Line]]] = []

    def flush() -> None:
        if group:
            chunks.append(_chunk("text", path, group))
            group.clear()

    for para in paras:
        rec = _recommendation(para.text, path) if para.kind == "text" else None
        if para.kind != "text" or rec:
            flush()
            pieces = _split(para.text, para.lines, max_chars * 2 if para.kind == "table" else max_chars)
            caption = para.text.split("\n", 1)[0] if para.kind in ("table", "figure") else ""
            for n, (text, lines) in enumerate(pieces):
                # every piece of a long table keeps the caption, so a row names its table
                piece = (f"{caption}\n{text}" if n and caption else text, lines)
                chunk = _chunk("recommendation" if rec else para.kind, path, [piece])
                chunk.recommendation = rec
                chunks.append(chunk)
            continue
        for piece in _split(para.text, para.lines, max_chars):
            if group and sum(len(t) for t, _ in group) + len(piece[0]) > max_chars:
                flush()
            group.append(piece)
    flush()
    return chunks


def _split(text: str, lines: list[Line], max_chars: int) -> list[tuple[str, list[Line]]]:
    """A paragraph longer than `max_chars` cut at sentence ends (tables at row ends); each
    piece keeps the lines it came from, for its pages and boxes."""
    if len(text) <= max_chars:
        return [(text, lines)]
    parts = text.split("\n") if "\n" in text else _SENTENCE_SPLIT.split(text)
    pieces: list[str] = []
    for part in parts:
        if pieces and len(pieces[-1]) + len(part) + 1 <= max_chars:
            pieces[-1] = f"{pieces[-1]}{chr(10) if chr(10) in text else ' '}{part}"
        else:
            pieces.append(part)
    # lines are shared out by the position of each piece in the text
    out: list[tuple[str, list[Line]]] = []
    total, start = max(len(text), 1), 0
    for piece in pieces:
        end = start + len(piece)
        lo, hi = int(len(lines) * start / total), max(int(len(lines) * end / total), 1)
        out.append((piece, lines[lo : max(hi, lo + 1)]))
        start = end + 1
    return out


def _chunk(kind: ChunkKind, path: list[Heading], group: list[tuple[str, list[Line]]]) -> Chunk:
    lines = [ln for _, ls in group for ln in ls]
    pages = (min(ln.page for ln in lines), max(ln.page for ln in lines))
    boxes: dict[int, Box] = {}
    for ln in lines:
        b = boxes.get(ln.page)
        boxes[ln.page] = (
            Box(page=ln.page, x0=ln.x0, y0=ln.y0, x1=ln.x1, y1=ln.y1)
            if b is None
            else Box(
                page=ln.page,
                x0=min(b.x0, ln.x0),
                y0=min(b.y0, ln.y0),
                x1=max(b.x1, ln.x1),
                y1=max(b.y1, ln.y1),
            )
        )
    text = "\n".join(t.strip() for t, _ in group)
    return Chunk(kind, path, text, pages, [boxes[p] for p in sorted(boxes)])

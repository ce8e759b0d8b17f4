"""Reader for the legalize-kr Markdown mirror of law.go.kr statutes.

Layout: YAML front matter (제목, 법령ID, 법령MST, 법령구분, 공포일자, 시행일자), '# 제목',
'## 제1장 …' / '### 제1절 …' headings, '##### 제N조의M (제목)' articles, '**①**' 항,
'  1\\.' 호 (also '1의2\\.'), '    가\\.' 목, deeper lines (' 1)', tab-indented tables) as
continuations, and a final '## 부칙' section of plain lines, one '부칙 <제N호,날짜>' per 부칙.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import ParseError
from .structure import (
    CIRCLED_CLASS,
    HeadingStack,
    RawArticle,
    RawLaw,
    RawSupplement,
    RawUnit,
    circled_number,
    parse_date,
    strip_notes,
    supplement_header,
)

_ARTICLE_RE = re.compile(r"^#####\s+제(\d+)조(?:의(\d+))?\s*(?:\((.*)\))?\s*$")
_HEADING_RE = re.compile(r"^(#{1,4})\s+(.*?)\s*$")
_PARAGRAPH_RE = re.compile(rf"^\*\*({CIRCLED_CLASS})\*\*\s*(.*)$")
_ITEM_RE = re.compile(r"^ {1,3}(\d+(?:의\d+)?)\\?\.\s+(.*)$")
_SUBITEM_RE = re.compile(r"^ {3,8}([가-힣])\\?\.\s+(.*)$")
_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")
_SUPPLEMENT_HEADING = "## 부칙"


def parse_markdown(path: Path, text: str) -> RawLaw:
    """Read one legalize-kr statute file into the shared intermediate."""
    meta, body, offset = _front_matter(path, text.replace("\r\n", "\n"))
    title = " ".join(str(meta.get("제목") or "").split())
    kind = str(meta.get("법령구분") or "").strip()
    if not title or not kind:
        raise ParseError(f"{path}: front matter lacks 제목 or 법령구분; add them as legalize-kr does")
    lines = body.split("\n")
    cut = next((i for i, ln in enumerate(lines) if ln.strip() == _SUPPLEMENT_HEADING), len(lines))
    return RawLaw(
        title=title,
        kind=kind,
        law_id=_identifier(meta.get("법령ID"), width=6),
        mst=_identifier(meta.get("법령MST")),
        promulgated=parse_date(meta.get("공포일자")),
        effective=parse_date(meta.get("시행일자")),
        format="markdown",
        source=str(path),
        articles=_articles(path, lines[:cut], offset),
        supplements=_supplements(lines[cut + 1 :]),
    )


def _front_matter(path: Path, text: str) -> tuple[dict[str, Any], str, int]:
    """(metadata, body, line number where the body starts)."""
    text = text.lstrip("\ufeff")
    if not text.startswith("---\n"):
        raise ParseError(
            f"{path}: no YAML front matter (a '---' block with 제목, 법령구분, 시행일자); "
            "is this a legalize-kr statute file?"
        )
    end = text.find("\n---\n", 3)
    if end < 0:
        raise ParseError(f"{path}: the YAML front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(text[4:end])
    except yaml.YAMLError as exc:
        raise ParseError(f"{path}: front matter is not valid YAML ({exc}); fix the '---' block") from exc
    if not isinstance(meta, dict):
        raise ParseError(f"{path}: front matter is not a mapping of 제목, 법령구분, …")
    return meta, text[end + 5 :], text[: end + 5].count("\n") + 1


def _identifier(value: object, width: int = 0) -> str | None:
    """법령ID is '001788'; unquoted in YAML it would arrive as the int 1788."""
    if value is None or value == "":
        return None
    return f"{value:0{width}d}" if isinstance(value, int) and width else str(value).strip()


def _unescape(text: str) -> str:
    return _ESCAPE_RE.sub(r"\1", text).strip()


def _articles(path: Path, lines: list[str], offset: int) -> list[RawArticle]:
    headings = HeadingStack()
    articles: list[RawArticle] = []
    article: RawArticle | None = None
    paragraph = item = subitem = None
    for number, line in enumerate(lines, start=offset):
        if not line.strip():
            continue
        if line.startswith("#"):
            heading, notes = strip_notes(line)
            match = _ARTICLE_RE.match(heading)
            if match:
                article = RawArticle(
                    number=int(match.group(1)),
                    branch=int(match.group(2)) if match.group(2) else None,
                    title=(match.group(3) or "").strip(),
                    headings=headings.current,
                    notes=notes,
                )
                articles.append(article)
            elif line.startswith("#####"):
                raise ParseError(f"{path}:{number}: {line.strip()!r} is not a '##### 제N조 (제목)' heading")
            elif not line.startswith("# "):
                headings.push(_HEADING_RE.sub(r"\2", line))
                article = None
            paragraph = item = subitem = None
            continue
        if article is None and not articles:
            continue  # a preamble under the title (e.g. a note on the document) is not a clause
        if article is None:
            raise ParseError(f"{path}:{number}: text outside any article: {line.strip()[:40]!r}")
        if match := _PARAGRAPH_RE.match(line):
            paragraph = RawUnit(str(circled_number(match.group(1))), [_unescape(match.group(2))])
            article.paragraphs.append(paragraph)
            item = subitem = None
        elif match := _ITEM_RE.match(line):
            if paragraph is None:
                paragraph = RawUnit(None)
                article.paragraphs.append(paragraph)
            item = RawUnit(match.group(1), [_unescape(match.group(2))])
            paragraph.children.append(item)
            subitem = None
        elif item is not None and (match := _SUBITEM_RE.match(line)):
            subitem = RawUnit(match.group(1), [_unescape(match.group(2))])
            item.children.append(subitem)
        else:
            target = subitem or item or paragraph
            if target is None:
                paragraph = target = RawUnit(None)
                article.paragraphs.append(paragraph)
            target.lines.append(_unescape(line))
    return articles


def _supplements(lines: list[str]) -> list[RawSupplement]:
    """Split the 부칙 section at its ' 부칙 <제N호,날짜>' header lines."""
    supplements: list[RawSupplement] = []
    for line in lines:
        header = supplement_header(line)
        if header:
            supplements.append(RawSupplement(number=header[0], promulgated=header[1], lines=[]))
        elif line.strip():
            if not supplements:
                supplements.append(RawSupplement(number=None, promulgated=None, lines=[]))
            supplements[-1].lines.append(_unescape(line))
    return supplements

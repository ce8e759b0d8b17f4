"""Reader for law.go.kr lawService.do payloads in their JSON shape.

Tree: 법령 → 기본정보, 조문/조문단위[] (조문여부 '조문' or '전문' = a 편/장/절/관 heading)
→ 항[] → 호[] → 목[], and 부칙/부칙단위[]. The XML reader converts its tree to this same
shape, so both go through `raw_law_from_payload`. law.go.kr is loose about shapes: a lone
항/호/목 is a dict where several are a list, and text may be a string, a list of strings or a
list of lists; `_list` and `_text` absorb that.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import ParseError, UnsupportedFormat
from .structure import (
    CIRCLED_CLASS,
    HeadingStack,
    RawArticle,
    RawLaw,
    RawSupplement,
    RawUnit,
    SourceFormat,
    circled_number,
    parse_date,
    supplement_header,
    tidy_lines,
)

_ARTICLE_HEAD_RE = re.compile(r"^\s*제\s*\d+\s*조(?:의\s*\d+)?\s*(?:\((?:[^()]|\([^()]*\))*\))?\s*")
_PARAGRAPH_HEAD_RE = re.compile(rf"^\s*{CIRCLED_CLASS}\s*")
_ITEM_HEAD_RE = re.compile(r"^\s*(\d+(?:의\d+)?)\s*\.\s*")
_SUBITEM_HEAD_RE = re.compile(r"^\s*[가-힣]\s*\.\s*")
_SEARCH_KEYS = ("LawSearch", "lawSearch", "Law", "law")


def parse_lawjson(path: Path, text: str) -> RawLaw:
    """Read one lawService.do JSON file into the shared intermediate."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); "
            "re-download the law with lawService.do?type=JSON"
        ) from exc
    return raw_law_from_payload(path, payload, "lawjson")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return _text(value.get("content"))
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return str(value)


def _list(value: Any) -> list[dict[str, Any]]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, dict)]


def _lines(value: Any, head: re.Pattern[str] | None = None) -> list[str]:
    """Text lines of a field, with the label the structure carries ('①', '1.', '가.') cut off."""
    text = _text(value)
    if head is not None:
        text = head.sub("", text, count=1)
    return tidy_lines(text) if text.strip() else []


def _check_payload(path: Path, payload: Any) -> dict[str, Any]:
    if isinstance(payload, list):
        raise UnsupportedFormat(
            f"{path}: a list of {len(payload)} entries (a law.go.kr history or search list), not one law; "
            "fetch each law's text with lawService.do (법령 본문 조회) and ingest that file"
        )
    if not isinstance(payload, dict):
        raise ParseError(f"{path}: top level is {type(payload).__name__}, expected a '법령' object")
    if "법령" not in payload:
        if any(key in payload for key in _SEARCH_KEYS):
            raise UnsupportedFormat(
                f"{path}: a law.go.kr search result, not one law; "
                "fetch each law with lawService.do and ingest that file"
            )
        keys = ", ".join(list(payload)[:5]) or "none"
        raise ParseError(
            f"{path}: no top-level '법령' object (keys: {keys}); expected law.go.kr lawService.do output"
        )
    law = payload["법령"]
    if not isinstance(law, dict) or not isinstance(law.get("기본정보"), dict):
        raise ParseError(f"{path}: '법령' has no '기본정보' (title, kind, dates); the download is incomplete")
    return law


def raw_law_from_payload(path: Path, payload: Any, fmt: SourceFormat, mst: str | None = None) -> RawLaw:
    """The shared JSON/XML reader: payload shaped like lawService.do JSON to the intermediate."""
    law = _check_payload(path, payload)
    info = law["기본정보"]
    title = " ".join(_text(info.get("법령명_한글")).split())
    kind = _text(info.get("법종구분")).strip()
    if not title or not kind:
        raise ParseError(f"{path}: 기본정보 lacks 법령명_한글 or 법종구분; the download is incomplete")
    law_id = _text(info.get("법령ID")).strip() or None
    serial = _text(info.get("법령일련번호")).strip() or mst
    units = law.get("조문")
    return RawLaw(
        title=title,
        kind=kind,
        law_id=law_id,
        mst=serial,
        promulgated=parse_date(_text(info.get("공포일자"))),
        effective=parse_date(_text(info.get("시행일자"))),
        format=fmt,
        source=str(path),
        articles=_articles(path, _list(units.get("조문단위") if isinstance(units, dict) else None)),
        supplements=_supplements(_list((law.get("부칙") or {}).get("부칙단위"))),
    )


def _articles(path: Path, units: list[dict[str, Any]]) -> list[RawArticle]:
    headings = HeadingStack()
    articles: list[RawArticle] = []
    for unit in units:
        content = _text(unit.get("조문내용"))
        if _text(unit.get("조문여부")).strip() == "전문":
            headings.push(content.strip())
            continue
        number = _text(unit.get("조문번호")).strip()
        branch = _text(unit.get("조문가지번호")).strip()
        if not number.isdigit():
            raise ParseError(f"{path}: 조문단위 {_text(unit.get('조문키'))!r} has no numeric 조문번호")
        article = RawArticle(
            number=int(number),
            branch=int(branch) if branch.isdigit() and int(branch) else None,
            title=_text(unit.get("조문제목")).strip(),
            headings=headings.current,
            notes=_lines(unit.get("조문참고자료")),
        )
        body = RawUnit(None, _lines(content, _ARTICLE_HEAD_RE))
        for paragraph in _list(unit.get("항")):
            label = _text(paragraph.get("항번호")).strip()
            items = [_item(path, article, i) for i in _list(paragraph.get("호"))]
            if not label:
                body.lines += _lines(paragraph.get("항내용"))
                body.children += items
                continue
            digits = label.rstrip(".")
            number_of = circled_number(label[0]) or (int(digits) if digits.isdigit() else None)
            if number_of is None:
                raise ParseError(f"{path}: {article.number}조 has an unreadable 항번호 {label!r}")
            lines = _lines(paragraph.get("항내용"), _PARAGRAPH_HEAD_RE)
            article.paragraphs.append(RawUnit(str(number_of), lines, items))
        if body.lines or body.children or not article.paragraphs:
            article.paragraphs.insert(0, body)
        articles.append(article)
    return articles


def _item(path: Path, article: RawArticle, raw: dict[str, Any]) -> RawUnit:
    number = _text(raw.get("호번호")).strip().rstrip(".")
    branch = _text(raw.get("호가지번호")).strip()
    if branch.isdigit() and int(branch) and "의" not in number:
        number = f"{number}의{int(branch)}"
    if not re.fullmatch(r"\d+(?:의\d+)?", number):
        match = _ITEM_HEAD_RE.match(_text(raw.get("호내용")))
        if not match:
            raise ParseError(f"{path}: 제{article.number}조 has a 호 without a readable number: {number!r}")
        number = match.group(1)
    subitems = [
        RawUnit(_text(s.get("목번호")).strip().rstrip("."), _lines(s.get("목내용"), _SUBITEM_HEAD_RE))
        for s in _list(raw.get("목"))
    ]
    return RawUnit(number, _lines(raw.get("호내용"), _ITEM_HEAD_RE), subitems)


def _supplements(units: list[dict[str, Any]]) -> list[RawSupplement]:
    supplements: list[RawSupplement] = []
    for unit in units:
        lines = [ln for ln in _text(unit.get("부칙내용")).split("\n") if ln.strip()]
        header = supplement_header(lines[0]) if lines else None
        if header:
            lines = lines[1:]
        number = _text(unit.get("부칙공포번호")).strip() or (header[0] if header else None)
        promulgated = parse_date(_text(unit.get("부칙공포일자"))) or (header[1] if header else None)
        supplements.append(RawSupplement(number=number, promulgated=promulgated, lines=lines))
    return supplements

"""Format-independent statute structure: parsed articles to `Clause`s.

The Markdown, XML and JSON parsers all fill the small intermediate below (`RawLaw` of
`RawArticle`s), so the clause rules live here once and the formats cannot drift apart:
one clause per 항 (per 조 when there is no 항), 삭제 units dropped and counted, amendment
notes moved from the text to `notes`, labels and ids from `retrieval.citations`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from retrieval import citations
from retrieval.models import Clause, Item
from retrieval.references import extract_references, law_aliases

SourceFormat = Literal["markdown", "lawxml", "lawjson"]

_CIRCLED = {
    **{chr(0x2460 + i): i + 1 for i in range(20)},  # ①..⑳
    **{chr(0x3251 + i): i + 21 for i in range(15)},  # ㉑..㉟
    **{chr(0x32B1 + i): i + 36 for i in range(15)},  # ㊱..㊿
}
CIRCLED_CLASS = "[" + "".join(_CIRCLED) + "]"

# Amendment notes: <개정 2015.5.29>, <신설 2024. 12. 27.>, <2023.9.22> after 삭제, and the
# bracketed article notes; the bracket comes first so '[종전 … <2010.1.18>]' goes whole.
_NOTE_RE = re.compile(
    r"[ \t]*(?:\[(?:본조신설|본조제목개정|전문개정|전문신설|제목개정|조제목개정|종전 )[^\[\]]*\]"
    r"|<(?:[가-힣]+\s*)?\d{4}\s*\.[\d.,\s]*>)"
)
_IMAGE_RE = re.compile(r"<img\b[^>]*>(.*?)</img>", re.DOTALL)
_SPACES_RE = re.compile(r"[ \t\u3000]{2,}")
_BOX_DRAWING_RE = re.compile(r"[\u2500-\u257f]")
_MIDDLE_DOTS = str.maketrans({"\u00b7": "\u318d", "\u2027": "\u318d", "\u30fb": "\u318d"})
_TAG_RE = re.compile(r"</?img\b[^>]*>")
_DELETED_RE = re.compile(r"^삭제\s*[.。]?$")
_OMITTED = "생략"  # '제5조 생략' in a 부칙 quoting another law: nothing to cite
_HEADING_RE = re.compile(r"^제\s*\d+\s*(편|장|절|관)(?:의\s*\d+)?(?:\s|$)")
_HEADING_RANK = {"편": 0, "장": 1, "절": 2, "관": 3}


def circled_number(char: str) -> int | None:
    """① → 1; None for anything else."""
    return _CIRCLED.get(char)


def strip_notes(text: str) -> tuple[str, list[str]]:
    """Move amendment notes out of the text: they date edits, they are not the rule."""
    notes = [m.group().strip() for m in _NOTE_RE.finditer(text)]
    return _NOTE_RE.sub("", text).strip(), notes


def tidy_lines(text: str) -> list[str]:
    """Non-blank lines, trimmed, with law.go.kr's <img> wrappers unwrapped.

    A one-line image body (a hanja gloss like 幼兒) joins its sentence; a multi-line one
    (a boxed formula) stays as its own lines. Runs of spaces shrink to one except in box
    tables, and '·' becomes the statutes' 'ㆍ', so Markdown, XML and JSON give the same text.
    """

    def unwrap(match: re.Match[str]) -> str:
        inner = [ln.strip() for ln in match.group(1).split("\n") if ln.strip()]
        return inner[0] if len(inner) == 1 else "\n" + "\n".join(inner) + "\n"

    text = _TAG_RE.sub("", _IMAGE_RE.sub(unwrap, text)).translate(_MIDDLE_DOTS)
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    return [ln if _BOX_DRAWING_RE.search(ln) else _SPACES_RE.sub(" ", ln) for ln in lines]


def heading_rank(text: str) -> int:
    """편 0, 장 1, 절 2, 관 3; unknown headings rank as 장 so they reset 절/관."""
    match = _HEADING_RE.match(text)
    return _HEADING_RANK[match.group(1)] if match else 1


class HeadingStack:
    """Enclosing 편/장/절/관 headings, outermost first, as the parser walks the law."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, text: str) -> None:
        title, _ = strip_notes(" ".join(text.split()))
        rank = heading_rank(title)
        self._stack = [(r, t) for r, t in self._stack if r < rank] + [(rank, title)]

    @property
    def current(self) -> tuple[str, ...]:
        return tuple(t for _, t in self._stack)


@dataclass
class RawUnit:
    """Text lines of a 항, 호 or 목 as read, notes still inside; `children` are 호 or 목."""

    number: str | None
    lines: list[str] = field(default_factory=list)
    children: list[RawUnit] = field(default_factory=list)
    omitted: bool = False  # '①부터 ⑦까지 생략' in a 부칙: numbered, but there is no text


@dataclass
class RawArticle:
    """One 조: unnumbered body (number None) and/or numbered 항 in `paragraphs`."""

    number: int
    branch: int | None = None
    title: str = ""
    paragraphs: list[RawUnit] = field(default_factory=list)
    headings: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


@dataclass
class RawSupplement:
    """One 부칙 as plain lines: its articles cannot be told from quoted amendments by layout."""

    number: str | None
    promulgated: date | None
    lines: list[str]


@dataclass
class RawLaw:
    """One statute as any reader sees it, before the clause rules apply."""

    title: str
    kind: str
    law_id: str | None
    mst: str | None
    promulgated: date | None
    effective: date | None
    format: SourceFormat
    source: str
    articles: list[RawArticle]
    supplements: list[RawSupplement]


@dataclass(frozen=True)
class ParsedLaw:
    """One statute file read into clauses, with the counts an operator checks after ingest."""

    title: str
    act: str
    level: str
    law_id: str | None
    mst: str | None
    promulgated: date | None
    effective: date | None
    format: SourceFormat
    clauses: list[Clause]
    supplementary: list[Clause]
    counts: dict[str, int]


_DATE_RE = re.compile(r"^(\d{4})[.\-\s]*(\d{1,2})[.\-\s]*(\d{1,2})\.?$")
_SUP_HEADER_RE = re.compile(r"^부칙\s*(?:\(.*\))?\s*<\s*제\s*(\d+)\s*호\s*,\s*([\d.\s]+?)\s*>\s*$")


def parse_date(value: object) -> date | None:
    """law.go.kr writes 20260304, the Markdown mirror 2026-03-04, 부칙 headers 2026.3.4."""
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}.{text[4:6]}.{text[6:]}"
    match = _DATE_RE.match(text)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def supplement_header(line: str) -> tuple[str, date | None] | None:
    """'부칙(간호법) <제20445호, 2024.9.20>' → ('20445', 2024-09-20); None for other lines."""
    match = _SUP_HEADER_RE.match(line.strip())
    return (match.group(1), parse_date(match.group(2))) if match else None


def law_level(title: str, kind: str) -> str:
    """시행령/시행규칙 by title (their 법령구분 is 대통령령/부령), else 법률 or the 법령구분."""
    for suffix in ("시행령", "시행규칙"):
        if title.endswith(suffix):
            return suffix
    return kind


def parent_act(title: str) -> str:
    """'의료법 시행규칙' → '의료법': the eval and the filters name the parent Act."""
    return re.sub(r"\s*시행(?:령|규칙)$", "", title)


# --- 부칙 -----------------------------------------------------------------------------------

_SUP_ARTICLE_RE = re.compile(r"^제\s*(\d+)\s*조(?:의\s*(\d+))?\s*(?:\((.*?)\))?\s*(.*)$")
# 부칙 number 항 ①..⑮ and then <16>, <17>, …
_SUP_PARAGRAPH_RE = re.compile(rf"^({CIRCLED_CLASS}|<\d+>)\s*(.*)$")
_SUP_RANGE_OMITTED_RE = re.compile(rf"^부터\s*({CIRCLED_CLASS}|<\d+>)\s*까지\s*생략")
_ARTICLE_NUMBER_RE = re.compile(r"제\s*(\d+)\s*조")


def split_supplement(lines: list[str]) -> list[RawArticle]:
    """부칙 lines to articles; article 0 holds text before the first 조 (or a 부칙 without 조).

    A '제N조(…)' line starts an article only when N follows the previous article: 부칙 that
    amend other laws quote their articles ('제80조의3(준용규정) …') at line starts too.
    '생략' lines advance the expected number without producing text.
    """
    articles: list[RawArticle] = []
    current = RawArticle(number=0)
    last = 0
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        match = _SUP_ARTICLE_RE.match(line)
        if match and line.endswith(_OMITTED) and not match.group(3) and int(match.group(1)) == last + 1:
            last = max(int(n) for n in _ARTICLE_NUMBER_RE.findall(line))
            current = RawArticle(number=-1)  # omitted: following lines are dropped with it
            continue
        if match and (match.group(3) is not None or match.group(4).startswith("삭제")):
            number, branch = int(match.group(1)), int(match.group(2)) if match.group(2) else None
            if number == last + 1 or (number == last and branch):
                if current.number >= 0 and current.paragraphs:
                    articles.append(current)
                current = RawArticle(number=number, branch=branch, title=(match.group(3) or "").strip())
                last = number
                line = match.group(4)
                if not line:
                    continue
        if current.number < 0:
            continue
        _add_supplement_line(current, line)
    if current.number >= 0 and current.paragraphs:
        articles.append(current)
    return articles


def _paragraph_number(marker: str) -> int:
    return _CIRCLED.get(marker) or int(marker.strip("<>"))


def _add_supplement_line(article: RawArticle, line: str) -> None:
    match = _SUP_PARAGRAPH_RE.match(line)
    expected = max((int(p.number) for p in article.paragraphs if p.number), default=0) + 1
    if match:
        number = _paragraph_number(match.group(1))
        omitted = _SUP_RANGE_OMITTED_RE.match(match.group(2))
        if omitted or match.group(2) == _OMITTED:
            last = _paragraph_number(omitted.group(1)) if omitted else number
            article.paragraphs.append(RawUnit(str(last), omitted=True))
            return
        if number == expected:
            article.paragraphs.append(RawUnit(str(number), [match.group(2)]))
            return
    if not article.paragraphs:
        article.paragraphs.append(RawUnit(None))
    article.paragraphs[-1].lines.append(line)


# --- clauses --------------------------------------------------------------------------------


@dataclass
class _Draft:
    """Clause fields known before references, which need every text of the law first."""

    article: str
    id_article: str
    article_title: str
    paragraph: str | None
    headings: list[str]
    items: list[Item]
    text: str
    notes: list[str]
    label: str
    supplementary: str | None


@dataclass
class _Counter:
    articles: int = 0
    paragraphs: int = 0
    items: int = 0
    deleted: int = 0


def _clean(lines: list[str]) -> tuple[list[str], list[str]]:
    text, notes = strip_notes("\n".join(lines))
    return tidy_lines(text), notes


def _render_items(items: list[RawUnit], counter: _Counter, notes: list[str]) -> tuple[list[str], list[Item]]:
    """Item lines for the clause text ('1. …', '  가. …') and the `Item`s with their 목."""
    lines: list[str] = []
    kept: list[Item] = []
    for raw in items:
        body, item_notes = _clean(raw.lines)
        if not body or _DELETED_RE.match(body[0]):
            counter.deleted += 1
            continue
        notes.extend(item_notes)
        block = list(body)
        for sub in raw.children:
            sub_body, sub_notes = _clean(sub.lines)
            notes.extend(sub_notes)
            if not sub_body or _DELETED_RE.match(sub_body[0]):
                counter.deleted += 1
                continue
            block += [f"{sub.number}. {sub_body[0]}"] + [f"  {x}" for x in sub_body[1:]]
        number, _, branch = (raw.number or "0").partition("의")
        counter.items += 1
        kept.append(
            Item(
                number=citations.item_label(int(number), int(branch) if branch else None),
                text="\n".join(block),
            )
        )
        lines += [f"{raw.number}. {block[0]}"] + [f"  {x}" for x in block[1:]]
    return lines, kept


def _article_drafts(
    law: str, article: RawArticle, counter: _Counter, supplement: tuple[str, str] | None = None
) -> list[_Draft]:
    label = citations.article_label(article.number, article.branch) if article.number else ""
    title, _ = strip_notes(article.title)
    drafts: list[_Draft] = []
    for unit in article.paragraphs:
        body, notes = _clean(unit.lines)
        if unit.omitted or body == [_OMITTED]:
            continue
        if not unit.children and (not body or _DELETED_RE.match(body[0])):
            counter.deleted += 1
            continue
        item_lines, items = _render_items(unit.children, counter, notes)
        paragraph = citations.paragraph_label(int(unit.number)) if unit.number else None
        label_law = f"{law} 부칙 {supplement[1]}" if supplement else law
        drafts.append(
            _Draft(
                article=label,
                id_article=label or "제0조",
                article_title=title,
                paragraph=paragraph,
                headings=list(article.headings),
                items=items,
                text="\n".join(body + item_lines),
                notes=notes + article.notes,
                label=citations.clause_label(label_law, label, paragraph).strip(),
                supplementary=supplement[0] if supplement else None,
            )
        )
        counter.paragraphs += unit.number is not None
    counter.articles += bool(drafts)
    return drafts


def _supplement_keys(supplements: list[RawSupplement]) -> list[tuple[str, str]]:
    """(id key, label text) per 부칙: '2024122020593' = 공포일자 + 공포번호, like law.go.kr's 부칙키."""
    keys: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for index, sup in enumerate(supplements, start=1):
        if sup.promulgated and sup.number:
            key = f"{sup.promulgated:%Y%m%d}{int(sup.number)}"
            when = f"{sup.promulgated.year}.{sup.promulgated.month}.{sup.promulgated.day}"
            text = f"<제{int(sup.number)}호,{when}>"
        else:
            key, text = f"u{index}", f"{index}"
        seen[key] = seen.get(key, 0) + 1
        keys.append((key if seen[key] == 1 else f"{key}x{seen[key]}", text))
    return keys


def build_law(raw: RawLaw) -> ParsedLaw:
    """Turn the intermediate into clauses; the one place the clause rules are written."""
    level = law_level(raw.title, raw.kind)
    act = parent_act(raw.title)
    key = citations.law_key(raw.law_id, raw.title)
    main = _Counter()
    main_drafts = [d for a in raw.articles for d in _article_drafts(raw.title, a, main)]
    sup_drafts: list[_Draft] = []
    sup_counter = _Counter()
    for sup, sup_key in zip(raw.supplements, _supplement_keys(raw.supplements), strict=True):
        for article in split_supplement(sup.lines):
            sup_drafts += _article_drafts(raw.title, article, sup_counter, sup_key)
    aliases = law_aliases(act, level, (d.text for d in main_drafts))

    def clause(draft: _Draft) -> Clause:
        return Clause(
            clause_id=citations.clause_id(
                key, draft.id_article, draft.paragraph, supplementary=draft.supplementary
            ),
            doc_id=f"law-{key}",
            law=raw.title,
            act=act,
            level=level,
            article=draft.article,
            article_title=draft.article_title,
            paragraph=draft.paragraph,
            headings=draft.headings,
            items=draft.items,
            text=draft.text,
            notes=draft.notes,
            label=draft.label,
            supplementary=draft.supplementary is not None,
            references=extract_references(
                draft.text,
                law=raw.title,
                aliases=aliases,
                article=draft.article or None,
                paragraph=draft.paragraph,
            ),
            law_id=raw.law_id,
            mst=raw.mst,
            promulgated=raw.promulgated,
            effective=raw.effective,
            source=raw.source,
        )

    clauses = [clause(d) for d in main_drafts]
    supplementary = [clause(d) for d in sup_drafts]
    counts = {
        "articles": main.articles,
        "paragraphs": main.paragraphs,
        "items": main.items,
        "deleted": main.deleted,
        "supplementary": len(supplementary),
    }
    return ParsedLaw(
        title=raw.title,
        act=act,
        level=level,
        law_id=raw.law_id,
        mst=raw.mst,
        promulgated=raw.promulgated,
        effective=raw.effective,
        format=raw.format,
        clauses=clauses,
        supplementary=supplementary,
        counts=counts,
    )

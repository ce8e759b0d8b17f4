"""Clause references in questions: '의료법 제33조 제2항에 따르면…', '「약사법」 제20조제5항제2호',
'같은 법 시행규칙 제15조', '응급의료법 제2조', '의료법 시행령 제18조의2'.

A question is read with the same extractor as statute text (`retrieval.references`), after
two rewrites that make a question look like a statute: law names the index knows, written any
way staff write them (full title with or without spaces, `…에 관한 법률` shortened to `…법`,
the abbreviations of `corpora/law_aliases.tsv`, a level after the name), become `「full title」`,
and references written loosely (`33조 2항`, `제 33 조 제 2 항`) become `제33조제2항`. A resolved
reference names a document in the registry and an article in the version searched (current or
`as_of`); an article or 항 that the indexed law does not have is an error that says so
(`의료법에는 제999조가 없습니다`), so the caller does not search for something that is not there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import NotFound
from retrieval.models import Clause, SearchFilters
from retrieval.references import extract_references

if TYPE_CHECKING:
    from retrieval.index import Index
    from retrieval.registry import DocumentRecord

# what may follow a law name: a particle, punctuation, a level, a reference; not '의료법인'
_AFTER_NAME = r"(?=$|[\s」』\"'.,?!():;·ㆍ/]|상|에|의|은|는|이|가|을|를|으로|로|과|와|도|만|시행|제?\s*\d)"
_LOOSE_REF = re.compile(
    r"(?<![\d가-힣])(?:제\s*)?(\d{1,4})\s*조(?:\s*의\s*(\d{1,3}))?"
    r"(?:\s*(?:제\s*)?(\d{1,3})\s*항)?"
    r"(?:\s*(?:제\s*)?(\d{1,3})\s*호(?:\s*의\s*(\d{1,3}))?)?"
    r"(?:\s*([가-하])\s*목)?"
)
_SUBITEM = re.compile(r"§목(?P<mok>[가-하])")
# what a question that is only a reference may say besides it
_FILLER = re.compile(
    r"(?:에\s*따르면|에\s*따라|에서|에는|의|은|는|이|가|을|를|상|과|와|및|"
    r"내용|조문|규정|원문|전문|알려\s*(?:줘|주세요|주십시오)?|보여\s*(?:줘|주세요)?|찾아\s*(?:줘|주세요)?|"
    r"뭐(?:야|예요|에요|지|죠|냐)?|무엇(?:인가요|입니까)?|뭔가요|어떻게\s*(?:돼|되어)\s*(?:있어|있나요)?|"
    r"좀|요|[\s\"'「」『』.,?!():~·ㆍ])+"
)


def bare(text: str) -> str:
    return re.sub(r"\s+", "", text)


def particle(word: str, with_final: str, without: str) -> str:
    """The Korean particle that fits the word's last sound: 이/가, 은/는 ('제3조가', '제15조의3이')."""
    last = next((ch for ch in reversed(word) if ch.isalnum()), "")  # 「의료법」: 법
    if "가" <= last <= "힣":
        final = (ord(last) - 0xAC00) % 28 != 0
    elif last.isdigit():
        final = last in "013678"  # 영 일 삼 육 칠 팔 end in a consonant
    else:
        final = False
    return word + (with_final if final else without)


def load_law_aliases(path: Path | None) -> dict[str, list[str]]:
    """title<TAB>alias[<TAB>alias...] rows; a line of only a title lists a known law."""
    if path is None or not path.exists():
        return {}
    table: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = [c.strip() for c in line.split("\t") if c.strip()]
        table.setdefault(cols[0], []).extend(cols[1:])
    return table


def short_forms(title: str) -> set[str]:
    """Names people use for a law without an alias table: '응급의료에 관한 법률' → '응급의료법'."""
    forms = {title, bare(title)}
    shortened = re.sub(r"\s*(?:에\s*관한|을\s*위한|등에\s*관한)\s*법률$", "법", title)
    if shortened != title:
        forms |= {shortened, bare(shortened)}
    return forms


@dataclass(frozen=True)
class LawMention:
    start: int
    end: int
    title: str  # the Act or stand-alone rule's title, e.g. '응급의료에 관한 법률'
    suffix: str | None  # 시행령 / 시행규칙 written after the name


class LawNames:
    """Every name a law may go by in a question, mapped to its title (the Act's, or a rule's)."""

    def __init__(self, titles: Iterable[str], aliases: Mapping[str, Sequence[str]]) -> None:
        self.by_name: dict[str, str] = {}
        for title in [*aliases, *titles]:
            for name in short_forms(title) | set(aliases.get(title, ())):
                self.by_name.setdefault(bare(name), title)
        names = sorted(self.by_name, key=len, reverse=True)  # longest first: 응급의료법 before 의료법
        spelled = "|".join(r"\s*".join(re.escape(ch) for ch in name) for name in names)
        self._pattern = re.compile(rf"(?<![가-힣A-Za-z])(?P<name>{spelled}){_AFTER_NAME}") if names else None
        self._suffix = re.compile(r"\s*(시행\s*령|시행\s*규칙)")
        self._close = re.compile(r"\s*」")

    def title(self, name: str) -> str | None:
        return self.by_name.get(bare(name))

    def mentions(self, text: str) -> list[LawMention]:
        """Law names in the text, with the 「」 around them and a level written after them."""
        if self._pattern is None:
            return []
        found = []
        for match in self._pattern.finditer(text):
            title = self.by_name[bare(match.group("name"))]
            start, end, suffix = match.start(), match.end(), None
            opened = text[:start].rstrip().endswith("「")
            if opened:
                start = text[:start].rstrip().rindex("「")
            for _ in range(2):  # '「의료법 시행규칙」' and '「의료법」 시행규칙'
                level = self._suffix.match(text, end) if suffix is None else None
                if level:
                    suffix, end = bare(level.group(1)), level.end()
                close = self._close.match(text, end) if opened else None
                if close:
                    end, opened = close.end(), False
            found.append(LawMention(start, end, title, suffix))
        return found


@dataclass(frozen=True)
class QuestionReference:
    """A clause a question names, with the law's full title at its level."""

    raw: str
    law: str  # e.g. '의료법 시행규칙'
    article: str
    paragraph: str | None = None
    item: str | None = None
    subitem: str | None = None  # 목, e.g. '가목'

    @property
    def label(self) -> str:
        return f"{self.law} {self.article}{self.paragraph or ''}{self.item or ''}{self.subitem or ''}"


def normalise_question(question: str, names: LawNames) -> str:
    """Law names as 「title」 (with the level), references as 제N조제M항제K호; 목 kept as a marker."""
    out, last = [], 0
    for mention in names.mentions(question):
        if mention.start < last:
            continue
        law = f"{mention.title} {mention.suffix}" if mention.suffix else mention.title
        out += [question[last : mention.start], f"「{law}」"]
        last = mention.end
    text = "".join([*out, question[last:]])

    def canonical(m: re.Match[str]) -> str:
        art, branch, para, item, item_branch, mok = m.groups()
        ref = f"제{art}조" + (f"의{branch}" if branch else "")
        ref += f"제{para}항" if para else ""
        ref += (f"제{item}호" + (f"의{item_branch}" if item_branch else "")) if item else ""
        return ref + (f" §목{mok}" if mok else "")

    return _LOOSE_REF.sub(canonical, text)


def find_references(
    question: str, names: LawNames, *, known_only: bool = True
) -> tuple[list[QuestionReference], str]:
    """The clause references in a question, and what is left of it without them; with
    `known_only`, only those to laws known by some name (not '치료법 제3조')."""
    text = normalise_question(question, names)
    refs = []
    for ref in extract_references(text, law="", aliases={}, article=None, paragraph=None):
        if not ref.law.strip() or (known_only and names.title(_level_free(ref.law)) is None):
            continue  # a bare '제3조', or a law this index does not know by any name
        after = text[text.find(ref.raw) + len(ref.raw) :] if ref.raw in text else ""
        mok = _SUBITEM.match(after.lstrip())
        refs.append(
            QuestionReference(
                raw=ref.raw,
                law=ref.law,
                article=ref.article,
                paragraph=ref.paragraph,
                item=ref.item,
                subitem=f"{mok.group('mok')}목" if mok and ref.item else None,
            )
        )
    rest = re.sub(r"「[^」]*」|제\d+조(?:의\d+)?(?:제\d+항)?(?:제\d+호(?:의\d+)?)?|§목[가-하]", " ", text)
    return refs, rest


def _level_free(law: str) -> str:
    return re.sub(r"\s*시행(?:령|규칙)$", "", law)


def is_reference_only(rest: str) -> bool:
    """Nothing but the reference and words like 내용, 알려줘, 뭐야 is left of the question."""
    return not _FILLER.sub("", rest).strip()


class MissingClause(NotFound):
    """The question names an article, 항 or 호 that the indexed law does not have."""


@dataclass(frozen=True)
class Resolved:
    """A reference and the indexed clauses it names (one 항, or every 항 of a named article)."""

    reference: QuestionReference
    clauses: list[Clause]


@dataclass
class Resolution:
    references: list[Resolved] = field(default_factory=list)
    only_reference: bool = False  # the question is nothing but the reference(s)

    @property
    def clauses(self) -> list[Clause]:
        return [c for r in self.references for c in r.clauses]


def resolve(
    question: str,
    *,
    names: LawNames,
    records: Mapping[str, DocumentRecord],
    versions: Sequence[str],
    index: Index,
    as_of: date | None = None,
) -> Resolution:
    """The indexed clauses a question names; raises `MissingClause` for one that does not exist.

    A reference to a law the index does not hold is ignored here (the answer refuses it).
    """
    refs, rest = find_references(question, names)
    by_title = {bare(r.title): r for r in records.values() if r.doc_type == "statute"}
    resolution = Resolution()
    for ref in refs:
        record = by_title.get(bare(ref.law))
        if record is None:
            continue
        clauses = article_clauses(index, record, ref.article, versions)
        resolution.references.append(Resolved(ref, pick_clauses(ref, record, clauses, as_of)))
    resolution.only_reference = bool(resolution.references) and is_reference_only(rest)
    return resolution


def article_clauses(
    index: Index, record: DocumentRecord, article: str, versions: Sequence[str]
) -> list[Clause]:
    from retrieval.index.schema import clause_from_payload

    payloads = index.scroll(SearchFilters(doc_id=record.doc_id, article=article), versions=versions)
    clauses = [clause_from_payload(p) for p in payloads]
    return sorted(clauses, key=lambda c: _number(c.paragraph))


def _number(label: str | None) -> int:
    found = re.search(r"\d+", label or "")
    return int(found.group()) if found else 0


def pick_clauses(
    ref: QuestionReference, record: DocumentRecord, clauses: list[Clause], as_of: date | None
) -> list[Clause]:
    when = f" ({as_of} 시행 기준)" if as_of else ""
    if not clauses:
        raise MissingClause(f"{record.title}에는 {particle(ref.article, '이', '가')} 없습니다{when}")
    if ref.paragraph:
        own = [c for c in clauses if c.paragraph == ref.paragraph]
        whole = [c for c in clauses if c.paragraph is None]
        if not own and not (whole and ref.paragraph == "제1항"):
            missing = particle(ref.paragraph, "이", "가")
            raise MissingClause(f"{record.title} {ref.article}에는 {missing} 없습니다{when}")
        clauses = own or whole
    if ref.item and len(clauses) == 1 and not any(i.number == ref.item for i in clauses[0].items):
        raise MissingClause(f"{clauses[0].label}에는 {particle(ref.item, '이', '가')} 없습니다{when}")
    return clauses

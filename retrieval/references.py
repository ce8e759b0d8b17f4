"""Cross-references inside statute text: '법 제4조제3항', '「간호법」 제12조', '같은 조 제2항'.

Extraction resolves who '법', '영', '규칙', '같은 법' and a bare '제N조' mean for the clause
being read, so a `Reference` names a full law title. Matching a reference to a clause id is a
separate step (`resolve_references`), done once every law of the index is known.

The extractor lives in `retrieval` because questions are read with it too
(`retrieval.lookup`): a clinician writes `의료법 제22조제2항` the way a statute does.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping

from retrieval.models import Clause, Reference

_LAW = (
    r"(?:「(?P<bracket>[^」\n]{1,80})」"
    r"|(?P<same>같은\s?(?:법|영|규칙)|동법)(?:\s?(?P<same_sfx>시행령|시행규칙))?"
    r"|(?<![가-힣)」])(?P<this>이\s(?:법|영|규칙))"
    r"|(?<![가-힣])(?P<alias>법|영|규칙)(?:\s(?P<alias_sfx>시행령|시행규칙))?"
    r"|(?<![가-힣])(?P<named>[가-힣]{1,20}법)(?:\s(?P<named_sfx>시행령|시행규칙))?)"
)
_ART = r"제(?P<art>\d+)조(?:의(?P<br>\d+))?"
_PARA = r"제(?P<{0}>\d+)항"
_ITEM = r"제(?P<{0}>\d+)호(?:의(?P<{0}_br>\d+))?"
_REF_RE = re.compile(
    rf"(?:{_LAW}\s?(?:중\s)?(?:\(이하[^()]{{0,30}}\)\s?)?)?{_ART}(?:{_PARA.format('para')})?(?:{_ITEM.format('item')})?"
    rf"|(?P<same_art>같은\s?조)(?:\s?{_PARA.format('sa_para')})?(?:\s?{_ITEM.format('sa_item')})?"
    rf"|(?P<same_para>같은\s?항)(?:\s?{_ITEM.format('sp_item')})?"
    rf"|{_PARA.format('b_para')}(?:{_ITEM.format('bp_item')})?"
    rf"|{_ITEM.format('b_item')}(?!서식)"
)
_CONNECTOR_RE = re.compile(r"^(?:\s|,|ㆍ|및|또는|이나|과|와|부터|까지)*$")
_MENTION_RE = re.compile(r"「([^」\n]{1,80})」")
_REMARK_RE = re.compile(r"\([^()]*\)")
_PARENS = {"(": 1, ")": -1}
_PAREN_RE = re.compile(r"[()]")
_DEFINITION_RE = re.compile(r"「([^」\n]{1,80})」\s?\(이하\s?\"(법|영|규칙)\"\s?(?:이)?라\s?한다\)")
_NOT_A_LAW = {"본법", "방법", "위법", "불법", "적법", "편법", "입법", "사법", "다른법", "해당법", "관계법"}
_MAX_RANGE = 10
_PLAIN_UNIT_RE = re.compile(r"^제(\d+)(조|항|호)$")

Key = tuple[str, str, str | None]


def law_aliases(act: str, level: str, texts: Iterable[str]) -> dict[str, str]:
    """What '법', '영' and '규칙' mean in this law: the parent Act's family unless defined.

    A decree usually says '「의료법」(이하 "법"이라 한다)' in 제1조; such a definition wins.
    In an Act itself '법' is not an abbreviation, so it gets no default.
    """
    aliases = {"영": f"{act} 시행령", "규칙": f"{act} 시행규칙"}
    if level in ("시행령", "시행규칙"):
        aliases["법"] = act
    for text in texts:
        for match in _DEFINITION_RE.finditer(text):
            aliases[match.group(2)] = " ".join(match.group(1).split())
    return aliases


def _item(number: str | None, branch: str | None) -> str | None:
    return f"제{number}호" + (f"의{branch}" if branch else "") if number else None


def _with_suffix(title: str, suffix: str | None) -> str:
    """'의료법 시행령' + 시행규칙 → '의료법 시행규칙'."""
    return re.sub(r"\s*시행(?:령|규칙)$", "", title) + f" {suffix}" if suffix else title


def _law_of(match: re.Match[str], aliases: Mapping[str, str], law: str, last_law: str | None) -> str | None:
    """Full title for the law part of a match; None when it names none, '' when unknown."""
    if match.group("bracket"):
        return " ".join(match.group("bracket").split())
    if match.group("same"):
        base = last_law or aliases.get("법", law)
        suffix = match.group("same_sfx")
        word = match.group("same")
        if word.endswith("영"):
            suffix = "시행령"
        elif word.endswith("규칙"):
            suffix = "시행규칙"
        return _with_suffix(base, suffix)
    if match.group("this"):
        return law
    if match.group("alias"):
        base = aliases.get(match.group("alias"), "")
        return _with_suffix(base, match.group("alias_sfx")) if base else ""
    named = match.group("named")
    if named:
        return law if named in _NOT_A_LAW else _with_suffix(named, match.group("named_sfx"))
    return None


def extract_references(
    text: str,
    *,
    law: str,
    aliases: Mapping[str, str],
    article: str | None,
    paragraph: str | None,
) -> list[Reference]:
    """References in one clause's text, with law names resolved; the clause itself is left out.

    A part that follows another after ',', 'ㆍ', '및', '또는' or '부터' inherits what it omits
    ('제3조제1항 및 제2항' → 제3조제2항); '제1항부터 제3항까지' also yields the 항 between.
    Parenthesised remarks do not break such a list ('「형법」 중 제233조, 제234조(…), 제235조'),
    and a reference opening a remark inherits from the one it qualifies.
    """
    depth = _depths(text)
    mentions = [(m.start(), " ".join(m.group(1).split())) for m in _MENTION_RE.finditer(text)]
    found: list[Reference] = []
    last: dict[int, tuple[Reference, int]] = {}  # per parenthesis depth: last reference, its end
    last_law: tuple[int, str] | None = None  # for '같은 법': the law named last, and where
    for match in _REF_RE.finditer(text):
        if text[max(0, match.start() - 3) : match.start()].strip().endswith("부칙"):
            continue  # '부칙 제2조' is the 부칙's own article, not this law's
        while mentions and mentions[0][0] < match.start():
            if last_law is None or mentions[0][0] > last_law[0]:
                last_law = mentions[0]
            mentions.pop(0)
        level = depth(match.start())
        last = {d: v for d, v in last.items() if d <= level}
        prev, gap = _chain(text, match.start(), level, last)
        ref = _reference(match, aliases, law, article, paragraph, prev, last_law[1] if last_law else None)
        if ref is None or ref.law == "":
            last.pop(level, None)
            continue
        if prev and "부터" in gap and text.startswith("까지", match.end()):
            found.extend(_between(prev, ref))
        if match.group("art") and ref.law != law:
            last_law = (match.start(), ref.law)
        found.append(ref)
        last[level] = (ref, match.end())
    return _unique(found, law, article, paragraph)


def _depths(text: str) -> Callable[[int], int]:
    """Parenthesis depth at an offset, from the offsets where the depth changes."""
    offsets, depths, depth = [0], [0], 0
    for match in _PAREN_RE.finditer(text):
        depth = max(0, depth + _PARENS[match.group()])
        offsets.append(match.end())
        depths.append(depth)
    return lambda offset: depths[bisect_right(offsets, offset) - 1]


def _chain(
    text: str, start: int, level: int, last: Mapping[int, tuple[Reference, int]]
) -> tuple[Reference | None, str]:
    """The reference this one continues, and the text between them (remarks removed)."""
    if level in last:
        prev, end = last[level]
        gap = text[end:start]
        while _REMARK_RE.search(gap):
            gap = _REMARK_RE.sub("", gap)
        if _CONNECTOR_RE.match(gap):
            return prev, gap
    if level - 1 in last and level not in last:
        prev, end = last[level - 1]
        if text[end:start].strip() == "(":
            return prev, ""
    return None, ""


def _reference(
    match: re.Match[str],
    aliases: Mapping[str, str],
    law: str,
    article: str | None,
    paragraph: str | None,
    prev: Reference | None,
    last_law: str | None,
) -> Reference | None:
    raw = match.group()
    if match.group("art"):
        named = _law_of(match, aliases, law, last_law)
        target = named if named is not None else (prev.law if prev else law)
        art = f"제{match.group('art')}조" + (f"의{match.group('br')}" if match.group("br") else "")
        para = f"제{match.group('para')}항" if match.group("para") else None
        return Reference(
            raw=raw,
            law=target,
            article=art,
            paragraph=para,
            item=_item(match.group("item"), match.group("item_br")),
        )
    base_law = prev.law if prev else law
    base_article = prev.article if prev else article
    if match.group("same_art"):
        if not (match.group("sa_para") or match.group("sa_item")) or base_article is None:
            return None
        para = f"제{match.group('sa_para')}항" if match.group("sa_para") else None
        return Reference(
            raw=raw,
            law=base_law,
            article=base_article,
            paragraph=para,
            item=_item(match.group("sa_item"), match.group("sa_item_br")),
        )
    if match.group("same_para"):
        base_para = prev.paragraph if prev else paragraph
        if base_article is None or base_para is None or not match.group("sp_item"):
            return None
        return Reference(
            raw=raw,
            law=base_law,
            article=base_article,
            paragraph=base_para,
            item=_item(match.group("sp_item"), match.group("sp_item_br")),
        )
    if match.group("b_para"):
        if base_article is None:
            return None
        para = f"제{match.group('b_para')}항"
        return Reference(
            raw=raw,
            law=base_law,
            article=base_article,
            paragraph=para,
            item=_item(match.group("bp_item"), match.group("bp_item_br")),
        )
    if prev is None or prev.item is None:
        return None  # a bare '제3호' outside a chain is ambiguous ('별지 제3호', '법률 제3호')
    return Reference(
        raw=raw,
        law=prev.law,
        article=prev.article,
        paragraph=prev.paragraph,
        item=_item(match.group("b_item"), match.group("b_item_br")),
    )


def _between(first: Reference, last: Reference) -> list[Reference]:
    """The units strictly between the ends of '제1항부터 제3항까지' (short numeric ranges only)."""
    for attr in ("item", "paragraph", "article"):
        a, b = getattr(first, attr), getattr(last, attr)
        if a != b:
            ma, mb = _PLAIN_UNIT_RE.match(a or ""), _PLAIN_UNIT_RE.match(b or "")
            if not (ma and mb) or not 0 < int(mb.group(1)) - int(ma.group(1)) <= _MAX_RANGE:
                return []
            unit = ma.group(2)
            return [
                first.model_copy(update={attr: f"제{n}{unit}", "raw": f"{first.raw}~{last.raw}"})
                for n in range(int(ma.group(1)) + 1, int(mb.group(1)))
            ]
    return []


def _unique(refs: list[Reference], law: str, article: str | None, paragraph: str | None) -> list[Reference]:
    seen: set[tuple[str, str, str | None, str | None]] = set()
    out: list[Reference] = []
    for ref in refs:
        key = (ref.law, ref.article, ref.paragraph, ref.item)
        is_self = (
            ref.law == law
            and ref.article == article
            and ref.paragraph in (None, paragraph)
            and ref.item is None
        )
        if key in seen or is_self:
            continue
        seen.add(key)
        out.append(ref)
    return out


def _norm(title: str) -> str:
    return "".join(title.split())


def clause_index(clauses: Iterable[Clause]) -> dict[Key, str]:
    """(law title, article, paragraph) → clause id for main-body clauses: what references hit."""
    return {(c.law, c.article, c.paragraph): c.clause_id for c in clauses if not c.supplementary}


def resolve_references(clauses: Iterable[Clause], known: Mapping[Key, str]) -> list[Clause]:
    """Fill `target_id` where the target is known: the 항 itself, else the whole-조 clause,
    else the 조's first 항 (a reference to a 조 lands on its opening paragraph)."""
    index = {(_norm(law), art, para): cid for (law, art, para), cid in known.items()}
    out: list[Clause] = []
    for clause in clauses:
        refs = []
        for ref in clause.references:
            law = _norm(ref.law)
            candidates = [
                (law, ref.article, ref.paragraph),
                (law, ref.article, None),
                (law, ref.article, "제1항"),
            ]
            target = next((index[c] for c in candidates if c in index), None)
            refs.append(ref.model_copy(update={"target_id": target}) if target != ref.target_id else ref)
        changed = any(a is not b for a, b in zip(refs, clause.references, strict=True))
        out.append(clause.model_copy(update={"references": refs}) if changed else clause)
    return out

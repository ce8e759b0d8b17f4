"""Citation labels and stable clause ids, in one place so every layer spells them alike.

Labels follow law.go.kr: ``의료법 시행규칙 제11조의2제2항``, ``「간호법」 제12조`` inside prose.
Clause ids are ASCII and depend only on (law id or title, 조, 조의, 항, 호), so re-ingesting
the same law from Markdown, XML or JSON gives the same id.
"""

from __future__ import annotations

import hashlib
import re
import uuid

_POINT_NAMESPACE = uuid.UUID("6f1c3a52-2b7e-4d59-9a43-0c1f6e0b7d21")
_ARTICLE_RE = re.compile(r"^제(\d+)조(?:의(\d+))?$")
_NUMBERED_RE = re.compile(r"^제(\d+)(?:항|호)(?:의(\d+))?$")


def article_label(number: int, branch: int | None = None) -> str:
    """'제22조' or '제22조의2'."""
    return f"제{number}조" + (f"의{branch}" if branch else "")


def paragraph_label(number: int) -> str:
    return f"제{number}항"


def item_label(number: int, branch: int | None = None) -> str:
    return f"제{number}호" + (f"의{branch}" if branch else "")


def clause_label(law: str, article: str, paragraph: str | None = None, item: str | None = None) -> str:
    """'의료법 시행규칙 제11조의2제2항' (no space between article, paragraph and item)."""
    return f"{law} {article}{paragraph or ''}{item or ''}"


def inline_label(law: str, article: str, paragraph: str | None = None) -> str:
    """Citation as written inside Korean prose: '「의료법」 제22조제2항'."""
    return f"「{law}」 {article}{paragraph or ''}"


def law_key(law_id: str | None, title: str) -> str:
    """The 법령ID when known, else a short hash of the title (stable, ASCII)."""
    if law_id:
        return law_id.strip().lstrip("'")
    return "t" + hashlib.sha1(title.replace(" ", "").encode()).hexdigest()[:10]


def _split(label: str, pattern: re.Pattern[str]) -> str:
    match = pattern.match(label)
    if not match:
        raise ValueError(f"not a statute label: {label!r}")
    number, branch = match.groups()
    return number + (f"-{branch}" if branch else "")


def clause_id(
    key: str,
    article: str,
    paragraph: str | None = None,
    *,
    supplementary: str | None = None,
) -> str:
    """'s-007863-a11-2-p2': law key, article (and branch), paragraph; 부칙 get their own namespace."""
    parts = ["s", key]
    if supplementary:
        parts.append("sup" + re.sub(r"[^0-9A-Za-z]", "", supplementary))
    parts.append("a" + _split(article, _ARTICLE_RE))
    if paragraph:
        parts.append("p" + _split(paragraph, _NUMBERED_RE))
    return "-".join(parts)


def point_id(clause_id_: str) -> str:
    """Qdrant point ids must be UUIDs or integers: a UUID5 of the clause id."""
    return str(uuid.uuid5(_POINT_NAMESPACE, clause_id_))


def clause_url(doc_type: str, level: str, law: str, article: str | None) -> str | None:
    """The clause's page on law.go.kr: statutes only, and not a hospital's own rules (내규)."""
    return law_go_kr_url(law, article) if doc_type == "statute" and level != "내규" else None


def law_go_kr_url(law: str, article: str | None = None) -> str:
    """Link to the law (and article) on 국가법령정보센터; law.go.kr resolves titles without spaces."""
    from urllib.parse import quote

    path = f"법령/{law.replace(' ', '')}" + (f"/{article}" if article else "")
    return "https://www.law.go.kr/" + quote(path)

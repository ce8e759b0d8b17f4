"""Check a QA set (the format of shared/eval/README.md) against the documents it cites.

A question set is only as good as its gold: a gold article that does not exist, a 항 of the
wrong level, or evidence that is not in the cited clause trains a reranker on noise. Every
statute gold must name an existing clause (law = the parent Act's title, level, article, and
optionally 항 and 호); every evidence excerpt (parts joined by ' / ') must be in one of the gold
clauses or on one of the gold pages, compared without whitespace (the README joins PDF line
wraps and drops Markdown markers). Guideline evidence is kept short: the PDFs may not be
redistributed, so a question set that ships quotes a few words at most.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymupdf

from ingest.errors import IngestError
from ingest.statutes import parse_statute
from retrieval.models import Clause

TYPES = ("statute", "guideline", "unanswerable")
FOLDS = ("train", "val")
MAX_GUIDELINE_EVIDENCE = 60  # characters of guideline text a shipped question may quote
_SPACE = re.compile(r"\s+")
_MIDDLE_DOTS = str.maketrans("·‧・", "ㆍㆍㆍ")  # parsers write the statutes' ㆍ for all of them


def _bare(text: str) -> str:
    return _SPACE.sub("", text).translate(_MIDDLE_DOTS)


@dataclass
class Sources:
    """The clauses of every statute file and the page texts of every PDF, read once."""

    clauses: dict[tuple[str, str, str], list[Clause]] = field(default_factory=dict)  # (act, level, article)
    pages: dict[str, list[str]] = field(default_factory=dict)  # pdf stem -> bare page texts

    @classmethod
    def read(cls, statutes: Iterable[Path] = (), pdfs: Iterable[Path] = ()) -> Sources:
        sources = cls()
        for path in statutes:
            try:
                law = parse_statute(path)
            except IngestError:
                continue  # not a statute file (a PDF sidecar, a history list): nothing to cite
            for clause in law.clauses:
                sources.clauses.setdefault((clause.act, clause.level, clause.article), []).append(clause)
        for path in pdfs:
            with pymupdf.open(path) as pdf:
                sources.pages[path.stem] = [_bare(page.get_text()) for page in pdf]
        return sources


def load_rows(path: Path) -> list[tuple[int, dict[str, Any] | str]]:
    """(line number, parsed row or the JSON error) for every non-empty line."""
    rows: list[tuple[int, dict[str, Any] | str]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append((n, f"not JSON: {exc}"))
            continue
        rows.append((n, row if isinstance(row, dict) else "not a JSON object"))
    return rows


def check_rows(
    rows: Sequence[tuple[int, dict[str, Any] | str]],
    sources: Sources,
    *,
    max_guideline_evidence: int | None = MAX_GUIDELINE_EVIDENCE,
) -> list[str]:
    """One line per problem, naming the line and the item id; empty when everything holds.
    `max_guideline_evidence` None: quotes of any length (a guideline of your own)."""
    problems: list[str] = []
    seen: set[str] = set()
    for n, row in rows:
        if isinstance(row, str):
            problems.append(f"line {n}: {row}")
            continue
        item_id = str(row.get("id", ""))
        where = f"line {n} ({item_id or 'no id'})"
        if not item_id:
            problems.append(f"{where}: no id")
        elif item_id in seen:
            problems.append(f"{where}: id used twice")
        seen.add(item_id)
        problems += [f"{where}: {p}" for p in check_item(row, sources, max_guideline_evidence)]
    return problems


def check_item(
    row: dict[str, Any], sources: Sources, max_guideline_evidence: int | None = MAX_GUIDELINE_EVIDENCE
) -> list[str]:
    kind, gold = row.get("type"), row.get("gold")
    problems: list[str] = []
    if kind not in TYPES:
        return [f"type must be one of {', '.join(TYPES)}, not {kind!r}"]
    if not str(row.get("question", "")).strip():
        problems.append("empty question")
    if "fold" in row and row["fold"] not in FOLDS:
        problems.append(f"fold must be one of {', '.join(FOLDS)}")
    if not isinstance(gold, list):
        return [*problems, "gold must be a list"]
    if kind == "unanswerable":
        if gold or row.get("answer") != "근거 없음":
            problems.append("an unanswerable item has empty gold and the answer '근거 없음'")
        return problems
    if not gold:
        return [*problems, "an answerable item needs at least one gold citation"]
    evidence = [p for p in str(row.get("evidence", "")).split(" / ") if p.strip()]
    if not evidence:
        problems.append("no evidence")
    if kind == "statute":
        found = [_statute_gold(g, sources, problems) for g in gold]
        texts = [_bare(c.text) for c in found if c is not None]
    else:
        texts = [page for g in gold if (page := _guideline_page(g, sources, problems)) is not None]
        if max_guideline_evidence and any(len(p) > max_guideline_evidence for p in evidence):
            problems.append(f"guideline evidence over {max_guideline_evidence} characters: quote a few words")
    if texts:
        for part in evidence:
            if not any(_bare(part) in text for text in texts):
                problems.append(f"evidence not in the gold clauses/pages: {part[:40]!r}")
    return problems


def _statute_gold(gold: dict[str, Any], sources: Sources, problems: list[str]) -> Clause | None:
    """The clause a statute gold names (the whole article when no 항 is given), or None."""
    if "doc" in gold or not {"law", "level", "article"} <= set(gold):
        problems.append(f"a statute gold has law, level and article: {gold}")
        return None
    clauses = sources.clauses.get((gold["law"], gold["level"], gold["article"]))
    if not clauses:
        levels = sorted({lv for (act, lv, _) in sources.clauses if act == gold["law"]})
        hint = f"levels of that law: {', '.join(levels)}" if levels else "no such law (use the Act's 제목)"
        problems.append(f"no {gold['law']} {gold['level']} {gold['article']} ({hint})")
        return None
    paragraph, item = gold.get("paragraph"), gold.get("item")
    if paragraph:
        clause = next((c for c in clauses if c.paragraph == paragraph), None)
        if clause is None:
            problems.append(f"{gold['law']} {gold['level']} {gold['article']} has no {paragraph}")
            return None
    else:
        clause = clauses[0]
        if len(clauses) > 1:  # the whole article: evidence may be in any of its 항
            clause = clause.model_copy(update={"text": "\n".join(c.text for c in clauses)})
    if item and not any(i.number == item for i in clause.items):
        problems.append(f"{clause.label} has no {item}")
    return clause


def _guideline_page(gold: dict[str, Any], sources: Sources, problems: list[str]) -> str | None:
    pages = sources.pages.get(str(gold.get("doc")))
    if pages is None:
        problems.append(f"no guideline PDF {gold.get('doc')!r}")
        return None
    page = gold.get("page")
    if not isinstance(page, int) or not 1 <= page <= len(pages):
        problems.append(f"page {page!r} is not a 1-based page of {gold['doc']} ({len(pages)} pages)")
        return None
    return pages[page - 1]

"""Files in, clauses in the index out: parse every file, resolve cross-references, embed, write.

Each file is parsed on its own; a file that fails is reported with its reason and the batch
goes on. Parsing happens for the whole batch first, so cross-references between laws in the
same batch (법 ↔ 시행령 ↔ 시행규칙) resolve to clause ids. A document's points are written
only after all of its vectors exist, and clauses whose content hash is already in the index
are not rewritten; the embedding cache makes re-embedding unchanged text free.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.errors import IngestError
from ingest.statutes import ParsedLaw, detect_format, parse_statute
from ingest.statutes.references import resolve_references
from retrieval.citations import point_id
from retrieval.embeddings import Embedder
from retrieval.index import Index, make_point
from retrieval.models import Clause, SearchFilters, article_key, article_text, passage_text
from retrieval.sparse import SparseEncoder

SUPPORTED_SUFFIXES = (".md", ".xml", ".json")
UPSERT_BATCH = 128
Progress = Callable[[int], None]


@dataclass
class FileResult:
    """What happened to one input file; the CLI prints one table row per result."""

    path: Path
    status: str = "ok"  # ok | unchanged | failed
    format: str = ""
    title: str = ""
    articles: int = 0
    clauses: int = 0
    supplementary: int = 0
    written: int = 0
    removed: int = 0
    error: str = ""
    seconds: float = 0.0


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    embedded: int = 0
    embedding_seconds: float = 0.0

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files given directly, and the supported files inside folders (recursively, sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            )
        else:
            found.append(path)
    return found


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_files(files: Sequence[Path]) -> tuple[list[tuple[FileResult, ParsedLaw]], list[FileResult]]:
    parsed: list[tuple[FileResult, ParsedLaw]] = []
    failed: list[FileResult] = []
    for path in files:
        result = FileResult(path)
        started = time.perf_counter()
        try:
            if not path.exists():
                raise IngestError(f"{path}: no such file; check the path")
            result.format = detect_format(path)
            law = parse_statute(path)
        except IngestError as exc:
            result.status, result.error = "failed", str(exc)
            failed.append(result)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            result.status, result.error = "failed", f"cannot read {path.name}: {exc}"
            failed.append(result)
            continue
        result.title = law.title
        result.articles = law.counts.get("articles", 0)
        result.clauses = len(law.clauses)
        result.supplementary = len(law.supplementary)
        result.seconds = time.perf_counter() - started
        parsed.append((result, law))
    return parsed, failed


def _known_targets(clauses: Iterable[Clause], index: Index) -> dict[tuple[str, str, str | None], str]:
    known: dict[tuple[str, str, str | None], str] = {}
    for payload in index.scroll():
        known.setdefault((payload["law"], payload["article"], payload.get("paragraph")), payload["clause_id"])
    for c in clauses:
        if not c.supplementary:
            known[(c.law, c.article, c.paragraph)] = c.clause_id
    return known


def ingest_paths(
    paths: Sequence[Path],
    *,
    index: Index,
    embedder: Embedder,
    encoder: SparseEncoder,
    on_start: Callable[[int], None] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    on_progress: Progress | None = None,
    embed_supplementary: bool = False,
    cited_context: bool = True,
) -> IngestReport:
    """Parse, resolve, embed and write every file; never raises for a bad file."""
    report = IngestReport()
    parsed, failed = parse_files(discover(paths))
    report.files.extend(failed)
    for result in failed:
        if on_file:
            on_file(result)
    if on_start:
        on_start(sum(len(law.clauses) + len(law.supplementary) for _, law in parsed))
    known = _known_targets((c for _, law in parsed for c in law.clauses), index)
    related = {c.clause_id: c.text for _, law in parsed for c in law.clauses} if cited_context else None
    for result, law in parsed:
        clauses = resolve_references([*law.clauses, *law.supplementary], known)
        write_document(
            clauses,
            result,
            index=index,
            embedder=embedder,
            encoder=encoder,
            report=report,
            related=related,
            on_progress=on_progress,
            embed_supplementary=embed_supplementary,
        )
        report.files.append(result)
        if on_file:
            on_file(result)
    index.flush()
    return report


def write_document(
    clauses: Sequence[Clause],
    result: FileResult,
    *,
    index: Index,
    embedder: Embedder,
    encoder: SparseEncoder,
    report: IngestReport,
    related: Mapping[str, str] | None = None,
    on_progress: Progress | None = None,
    embed_supplementary: bool = False,
) -> None:
    """Embed and write one document's clauses; drop its points that no longer exist.

    Work is done per article: a changed paragraph changes its article's vectors, so every
    paragraph of that article is rewritten; untouched articles cost nothing. An article's
    context also holds the text of the other laws' clauses it implements or cites
    (`법 제17조의2제2항에 따른` in a 시행규칙): questions are often worded like the Act, while
    the answer (a deadline, a form, a number) sits in the 시행규칙. `related` maps clause
    ids to texts; targets it lacks are read from the index; None leaves cited texts out.
    """
    started = time.perf_counter()
    groups: dict[str, list[int]] = defaultdict(list)
    for i, clause in enumerate(clauses):
        groups[article_key(clause)].append(i)
    cited = _cited_texts(clauses, related, index) if related is not None else {}
    articles = {
        key: "\n".join([article_text([clauses[i] for i in members]), *cited.get(key, [])])
        for key, members in groups.items()
    }
    texts = [passage_text(c) for c in clauses]
    hashes = [
        content_hash(texts[i] + c.model_dump_json() + articles[article_key(c)]) for i, c in enumerate(clauses)
    ]
    ids = [point_id(c.clause_id) for c in clauses]
    current = {p["clause_id"]: p.get("content_hash") for p in index.retrieve(ids)}
    todo = [
        key
        for key, members in groups.items()
        if any(current.get(clauses[i].clause_id) != hashes[i] for i in members)
    ]
    written = sum(len(groups[key]) for key in todo)
    if on_progress and written < len(clauses):
        on_progress(len(clauses) - written)
    points = []
    for batch in _article_batches(todo, groups):
        members = [i for key in batch for i in groups[key]]
        dense_members = [i for i in members if embed_supplementary or not clauses[i].supplementary]
        t0 = time.perf_counter()
        dense = embedder.embed([texts[i] for i in dense_members], kind="passage")
        report.embedding_seconds += time.perf_counter() - t0
        vectors = {i: dense[j] for j, i in enumerate(dense_members)}
        own, in_article = encoder.encode_in_context(
            [texts[i] for i in members], [articles[article_key(clauses[i])] for i in members]
        )
        sparse = dict(zip(members, zip(own, in_article, strict=True), strict=True))
        for key in batch:
            article_vectors = [vectors[i] for i in groups[key] if i in vectors]
            points += [
                make_point(
                    clauses[i],
                    vectors[i].tolist() if i in vectors else None,
                    sparse[i][0],
                    hashes[i],
                    dense_article=_in_context(vectors[i], article_vectors) if i in vectors else None,
                    sparse_article=sparse[i][1],
                )
                for i in groups[key]
            ]
        report.embedded += len(dense_members)
        if on_progress:
            on_progress(len(members))
    for start in range(0, len(points), UPSERT_BATCH):
        index.upsert(points[start : start + UPSERT_BATCH])
    keep = set(ids)
    stale = [
        p["clause_id"]
        for doc_id in {c.doc_id for c in clauses}
        for p in index.scroll(SearchFilters(doc_id=doc_id, include_supplementary=True))
        if point_id(p["clause_id"]) not in keep
    ]
    index.delete([point_id(c) for c in stale])
    result.written, result.removed = written, len(stale)
    if not todo and not stale:
        result.status = "unchanged"
    result.seconds += time.perf_counter() - started


def _cited_texts(clauses: Sequence[Clause], related: Mapping[str, str], index: Index) -> dict[str, list[str]]:
    """Per article, the texts of clauses in other laws that its clauses cite (at most 3)."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for clause in clauses:
        for ref in clause.references:
            key = article_key(clause)
            if ref.target_id and ref.law != clause.law and ref.target_id not in wanted[key]:
                wanted[key].append(ref.target_id)
    missing = {t for targets in wanted.values() for t in targets if t not in related}
    found = dict(related)
    if missing:
        found.update({p["clause_id"]: p["text"] for p in index.retrieve([point_id(t) for t in missing])})
    return {key: [found[t] for t in targets if t in found][:3] for key, targets in wanted.items()}


def _in_context(own: np.ndarray, article: Sequence[np.ndarray]) -> list[float]:
    """The article's mean embedding plus the paragraph's own: paragraphs of one article don't tie."""
    blend = np.mean(article, axis=0) + own
    return (blend / (np.linalg.norm(blend) or 1.0)).tolist()


def _article_batches(keys: Sequence[str], groups: dict[str, list[int]]) -> Iterator[list[str]]:
    """Whole articles, about UPSERT_BATCH clauses at a time."""
    batch: list[str] = []
    size = 0
    for key in keys:
        batch.append(key)
        size += len(groups[key])
        if size >= UPSERT_BATCH:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch

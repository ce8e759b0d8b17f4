"""Files in, searchable versions out: parse every file, resolve cross-references, embed, commit.

Each file is parsed on its own; a file that fails is reported with its reason and the batch
goes on. Parsing happens for the whole batch first, so cross-references between laws in the
same batch (법 ↔ 시행령 ↔ 시행규칙) resolve to clause ids.

Every document is written as a version (`retrieval.registry`): its points carry the version
key, and the version becomes searchable in one step, when the document's registry record is
written after all of its points. A file whose content is already a registered version costs
nothing; a killed run leaves only invisible points, reused or deleted by the next run; a new
version with another date or edition keeps the old one as superseded history, a re-read of the
same edition (a corrected file) replaces it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.documents import SUPPORTED_SUFFIXES, ParsedDocument, parse_document
from ingest.errors import IngestError
from ingest.guidelines import SIDECAR_SUFFIXES, GuidelineMeta
from ingest.guidelines.layout import Spacer
from retrieval import writes
from retrieval.embeddings import Embedder
from retrieval.index import Index, IndexPoint, make_point
from retrieval.index.schema import CLAUSE_ID
from retrieval.models import Clause, SearchFilters, article_key, article_text, passage_text
from retrieval.references import resolve_references
from retrieval.registry import DocumentRecord, DocumentVersion, load_documents, select_versions
from retrieval.settings import PdfSettings
from retrieval.sparse import SparseEncoder

log = logging.getLogger(__name__)
UPSERT_BATCH = writes.UPSERT_BATCH
Progress = Callable[[int], None]


@dataclass
class FileResult:
    """What happened to one input file; the CLI prints one table row per result."""

    path: Path
    status: str = "ok"  # new | updated | unchanged | failed
    format: str = ""
    doc_id: str = ""
    title: str = ""
    version: str = ""
    articles: int = 0
    clauses: int = 0
    supplementary: int = 0
    pages: int | None = None
    ocr_pages: int = 0
    written: int = 0
    removed: int = 0
    error: str = ""
    warnings: list[str] = field(default_factory=list)
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
    """Files given directly, and the supported files inside folders (recursively, sorted),
    leaving out a PDF's metadata sidecar (`guideline.json` next to `guideline.pdf`)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not _is_sidecar(p)
                )
            )
        else:
            found.append(path)
    return found


def _is_sidecar(path: Path) -> bool:
    return path.suffix.lower() in SIDECAR_SUFFIXES and path.with_suffix(".pdf").exists()


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_files(
    files: Sequence[Path],
    *,
    pdf: PdfSettings | None = None,
    meta: GuidelineMeta | None = None,
    spacer: Spacer | None = None,
) -> tuple[list[tuple[FileResult, ParsedDocument]], list[FileResult]]:
    parsed: list[tuple[FileResult, ParsedDocument]] = []
    failed: list[FileResult] = []
    for path in files:
        result = FileResult(path)
        started = time.perf_counter()
        try:
            doc = parse_document(path, pdf=pdf, meta=meta, spacer=spacer)
        except IngestError as exc:
            result.status, result.error = "failed", str(exc)
            failed.append(result)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            result.status, result.error = "failed", f"cannot read {path.name}: {exc}"
            failed.append(result)
            continue
        except RecursionError:
            result.status = "failed"
            result.error = f"{path.name} is nested too deeply to be a statute or a guideline; check the file"
            failed.append(result)
            continue
        except Exception as exc:  # a parser's bug on one file must not end the batch
            log.error("parsing %s failed", path.name, exc_info=exc)
            result.status = "failed"
            result.error = (
                f"{path.name} could not be parsed ({type(exc).__name__}: {exc}); the file may be "
                "malformed — if it opens correctly elsewhere, report it with the file"
            )
            failed.append(result)
            continue
        result.format, result.doc_id, result.title = doc.format, doc.doc_id, doc.title
        result.version = doc.version or ""
        result.articles = doc.counts.get("articles", doc.counts.get("sections", 0))
        result.clauses = len(doc.clauses)
        result.supplementary = len(doc.supplementary)
        result.pages, result.ocr_pages, result.warnings = doc.pages, doc.ocr_pages, doc.warnings
        result.seconds = time.perf_counter() - started
        parsed.append((result, doc))
    return parsed, failed


def _known_targets(clauses: Iterable[Clause], index: Index) -> dict[tuple[str, str, str | None], str]:
    known: dict[tuple[str, str, str | None], str] = {}
    for payload in index.scroll(SearchFilters(doc_type="statute")):
        known.setdefault((payload["law"], payload["article"], payload.get("paragraph")), payload[CLAUSE_ID])
    for c in clauses:
        if not c.supplementary and c.doc_type == "statute":
            known[(c.law, c.article, c.paragraph)] = c.clause_id
    return known


def ingest_paths(
    paths: Sequence[Path],
    *,
    index: Index,
    embedder: Embedder,
    encoder: SparseEncoder,
    pdf: PdfSettings | None = None,
    meta: GuidelineMeta | None = None,
    on_start: Callable[[int], None] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    on_document: Callable[[Path, int], None] | None = None,
    on_progress: Progress | None = None,
    embed_supplementary: bool = False,
    cited_context: bool = True,
) -> IngestReport:
    """Parse, resolve, embed and commit every file; never raises for a bad file.

    `meta` overrides what is read from guideline PDFs (title, issuer, version, dates).
    Callbacks, in order: on_start(units in all parsed files); per parsed file on_document(path,
    its units), on_progress(units done) as they are written, then on_file(result); a file that
    fails to parse gets only on_file.
    """
    report = IngestReport()
    parsed, failed = parse_files(discover(paths), pdf=pdf, meta=meta, spacer=encoder.tokenizer.space)
    report.files.extend(failed)
    for result in failed:
        if on_file:
            on_file(result)
    if on_start:
        on_start(sum(len(doc.clauses) + len(doc.supplementary) for _, doc in parsed))
    known = _known_targets((c for _, doc in parsed for c in doc.clauses), index)
    related = {c.clause_id: c.text for _, doc in parsed for c in doc.clauses} if cited_context else None
    for result, doc in parsed:
        units = [*doc.clauses, *doc.supplementary]
        if doc.doc_type == "statute":
            units = resolve_references(units, known)
        if on_document:
            on_document(result.path, len(units))
        write_document(
            doc,
            units,
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


def version_key(doc: ParsedDocument, hashes: Sequence[str]) -> str:
    """Same content, edition and dates give the same key: re-ingesting it changes nothing."""
    facts = [doc.version or "", str(doc.valid_from or ""), str(doc.promulgated or ""), *hashes]
    return f"{doc.doc_id}@{content_hash(chr(10).join(facts))}"


def write_document(
    doc: ParsedDocument,
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
    """Write one document as a new version and make it the searchable one in a single step.

    Vectors are built per article (a guideline's per section): each point also carries its
    article's vectors. An article's context also holds the text of the other laws' clauses it
    implements or cites (`법 제17조의2제2항에 따른` in a 시행규칙): questions are often worded
    like the Act, while the answer (a deadline, a form, a number) sits in the 시행규칙.
    `related` maps clause ids to texts; targets it lacks are read from the index; None leaves
    cited texts out.
    """
    started = time.perf_counter()
    groups: dict[str, list[int]] = defaultdict(list)
    for i, clause in enumerate(clauses):
        groups[article_key(clause)].append(i)
    records = load_documents(index)
    cited = _cited_texts(clauses, related, index, records) if related is not None else {}
    articles = {
        key: "\n".join([article_text([clauses[i] for i in members]), *cited.get(key, [])])
        for key, members in groups.items()
    }
    texts = [passage_text(c) for c in clauses]
    hashes = [
        content_hash(texts[i] + c.model_dump_json() + articles[article_key(c)]) for i, c in enumerate(clauses)
    ]
    key = version_key(doc, hashes)
    record = records.get(doc.doc_id)
    if record and any(v.key == key for v in record.versions):
        result.status = "unchanged"
        if on_progress:
            on_progress(len(clauses))
        result.removed = writes.drop_stale(index, record)
        result.seconds += time.perf_counter() - started
        return
    clauses = [c.model_copy(update={"version_key": key}) for c in clauses]
    # points already written for this version by an interrupted run are kept, not rewritten
    done = writes.written(index, key)
    todo = [
        article
        for article, members in groups.items()
        if any(done.get(clauses[i].clause_id) != hashes[i] for i in members)
    ]
    if on_progress and len(todo) < len(groups):
        on_progress(sum(len(groups[k]) for k in groups if k not in todo))
    for batch in _article_batches(todo, groups):
        points = _points(
            batch, groups, clauses, texts, hashes, articles, embedder, encoder, report, embed_supplementary
        )
        writes.upsert(index, points)
        result.written += len(points)
        if on_progress:
            on_progress(len(points))
    result.status = "updated" if record else "new"
    record = _commit(index, doc, record, key, units=len(clauses), source=str(result.path))
    result.removed = writes.drop_stale(index, record)
    result.seconds += time.perf_counter() - started


def _points(
    batch: Sequence[str],
    groups: Mapping[str, list[int]],
    clauses: Sequence[Clause],
    texts: Sequence[str],
    hashes: Sequence[str],
    articles: Mapping[str, str],
    embedder: Embedder,
    encoder: SparseEncoder,
    report: IngestReport,
    embed_supplementary: bool,
) -> list[IndexPoint]:
    members = [i for key in batch for i in groups[key]]
    dense_members = [i for i in members if embed_supplementary or not clauses[i].supplementary]
    t0 = time.perf_counter()
    dense = embedder.embed([texts[i] for i in dense_members], kind="passage")
    report.embedding_seconds += time.perf_counter() - t0
    report.embedded += len(dense_members)
    vectors = {i: dense[j] for j, i in enumerate(dense_members)}
    own, in_article, morph = encoder.encode_in_context(
        [texts[i] for i in members], [articles[article_key(clauses[i])] for i in members]
    )
    sparse = dict(zip(members, zip(own, in_article, morph, strict=True), strict=True))
    points = []
    for key in batch:
        article_vectors = [vectors[i] for i in groups[key] if i in vectors]
        points += [
            make_point(
                clauses[i],
                vectors[i].tolist() if i in vectors else None,
                sparse[i][0],
                hashes[i],
                dense_article=writes.article_vector(vectors[i], article_vectors) if i in vectors else None,
                sparse_article=sparse[i][1],
                sparse_morph=sparse[i][2],
            )
            for i in groups[key]
        ]
    return points


def _commit(
    index: Index, doc: ParsedDocument, record: DocumentRecord | None, key: str, *, units: int, source: str
) -> DocumentRecord:
    """Register the new version: the one write that makes it searchable.

    A version with the same edition and dates as a registered one replaces it (a corrected
    file, a better parser); any other is added, and the dates decide which one is in force.
    """
    version = DocumentVersion(
        key=key,
        label=doc.version,
        valid_from=doc.valid_from,
        promulgated=doc.promulgated,
        mst=doc.mst,
        source=source,
        sha256=doc.sha256,
        units=units,
        pages=doc.pages,
        ocr_pages=doc.ocr_pages,
        ingested_at=datetime.now(UTC),
    )
    same = (doc.version, doc.valid_from, doc.promulgated)
    kept = [v for v in (record.versions if record else []) if (v.label, v.valid_from, v.promulgated) != same]
    updated = DocumentRecord(
        doc_id=doc.doc_id,
        doc_type=doc.doc_type,
        title=doc.title,
        level=doc.level,
        issuer=doc.issuer,
        versions=[*kept, version],
    )
    return writes.commit(index, updated)


def _cited_texts(
    clauses: Sequence[Clause],
    related: Mapping[str, str],
    index: Index,
    records: Mapping[str, DocumentRecord],
) -> dict[str, list[str]]:
    """Per article, the texts of clauses in other laws that its clauses cite (at most 3)."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for clause in clauses:
        for ref in clause.references:
            key = article_key(clause)
            if ref.target_id and ref.law != clause.law and ref.target_id not in wanted[key]:
                wanted[key].append(ref.target_id)
    missing = sorted({t for targets in wanted.values() for t in targets if t not in related})
    found = dict(related)
    if missing:
        current = select_versions(records.values())
        found.update({p[CLAUSE_ID]: p["text"] for p in index.scroll(versions=current, clause_ids=missing)})
    return {key: [found[t] for t in targets if t in found][:3] for key, targets in wanted.items()}


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

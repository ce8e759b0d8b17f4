"""`kmed`: ingest statutes and guidelines, search them, evaluate retrieval, serve the API.

The composition root: it alone imports ingest, retrieval and service together. Each
command validates its input, builds what it needs from settings, calls one library
function and prints. Errors become one clean line and an exit code:
1 some input files failed, 2 bad usage or input, 3 index unavailable, 4 configuration.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import Progress, TaskID
from rich.table import Table

if TYPE_CHECKING:  # ingest is imported by the ingest command only, to keep start-up light
    from ingest.guidelines import GuidelineMeta
    from ingest.pipeline import FileResult
    from retrieval.evaluation import AnswerReport

from kmed.console import DataDir, err, fail, ingest_columns, ingest_table, out, pages_cell, settings_for
from kmed.documents_cli import documents_app
from kmed.keys_cli import keys_app
from kmed.laws_cli import laws_app
from kmed.qa_cli import qa_app
from kmed.reindex_cli import reindex
from kmed.rerank_cli import rerank_app
from kmed.snapshot_cli import snapshot_app
from retrieval.errors import KmedError
from retrieval.models import SearchFilters
from retrieval.settings import Settings, load_settings

app = typer.Typer(
    help="Korean medical knowledge service: clause-cited hybrid search over statutes and guidelines.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(laws_app, name="laws")
app.add_typer(documents_app, name="documents")
app.add_typer(qa_app, name="qa")
app.add_typer(rerank_app, name="rerank")
app.add_typer(keys_app, name="keys")
app.add_typer(snapshot_app, name="snapshot")
app.command()(reindex)


@app.callback()
def main() -> None:
    """Logging for every command: warnings and errors (an ingestion failure is also logged)."""
    from kmed.logs import configure_logging

    try:
        server = load_settings().server
    except ValidationError as exc:
        err.print(f"[red]error:[/red] invalid settings: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}")
        raise typer.Exit(4) from exc
    configure_logging(server, level="WARNING" if server.log_level in ("DEBUG", "INFO") else None)


def _filters(**given: str | None) -> SearchFilters:
    """Search filters from options, or exit 2 naming the bad one."""
    try:
        return SearchFilters.model_validate(given)
    except ValidationError as exc:
        err.print(f"error: --{str(exc.errors()[0]['loc'][0]).replace('_', '-')}: {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from exc


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Statute files (Markdown, law.go.kr XML/JSON), guideline PDFs, or folders."),
    ],
    doc_id: Annotated[
        str | None,
        typer.Option(
            "--doc-id", help="Document id of one PDF; give a revised edition the id of the one it replaces."
        ),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Title of one PDF.")] = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="Issuing body, e.g. 질병관리청.")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Edition or year, e.g. 2024.")] = None,
    effective: Annotated[
        str | None, typer.Option("--effective", help="Date the edition takes effect (YYYY-MM-DD).")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Send the files to a running `kmed serve` (e.g. http://HOST:8000)."),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", envvar="KMED_KEY", help="API key of role ingest for --server.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Parse, embed and index statutes and guideline PDFs; a failing file is reported and the
    batch goes on. Re-ingesting an unchanged file changes nothing; a changed one becomes a new
    version, switched in atomically. With --server the running service ingests them while it
    goes on answering. PDF metadata also come from a sidecar next to the file
    (guideline.yaml / .yml / .json with doc_id, title, issuer, version, effective, published);
    the options here win over it."""
    from ingest.guidelines import GuidelineMeta
    from ingest.pipeline import discover

    settings = settings_for(data_dir)
    files = discover(paths)
    if not files:
        err.print("error: no supported files found (.md, .xml, .json, .pdf) in the given paths")
        raise typer.Exit(2)
    pdfs = [f for f in files if f.suffix.lower() == ".pdf"]
    given = {"doc_id": doc_id, "title": title, "issuer": issuer, "version": version, "effective": effective}
    if any(given.values()) and not pdfs:
        err.print("error: --doc-id, --title, --issuer, --version and --effective describe guideline PDFs")
        raise typer.Exit(2)
    if (doc_id or title) and len(pdfs) > 1:
        err.print("error: --doc-id and --title name one document: give one PDF (or use sidecar files)")
        raise typer.Exit(2)
    try:
        meta = GuidelineMeta.model_validate({k: v for k, v in given.items() if v})
    except ValidationError as exc:
        err.print(f"error: --{exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from exc
    if server:
        from kmed.remote_ingest import remote_ingest

        form = {k: v for k, v in given.items() if v}
        raise typer.Exit(remote_ingest(files, server, key, form))
    raise typer.Exit(ingest_files(files, settings, meta=meta))


def ingest_files(files: list[Path], settings: Settings, *, meta: GuidelineMeta | None = None) -> int:
    """Ingest files into the index the settings point at, printing progress and a table.

    Shared by `kmed ingest` and `kmed laws sync`; returns the exit code (1 when a file failed).
    """
    from ingest.pipeline import ingest_paths
    from retrieval.runtime import build_dense, build_encoder, open_for_writing

    try:
        embedder = build_dense(settings, bulk=True)
        index = open_for_writing(settings, embedder)
    except KmedError as exc:
        return fail(exc).exit_code
    encoder = build_encoder(settings)
    with Progress(*ingest_columns(), console=err, transient=True) as progress:
        overall = progress.add_task("parsing", total=None)
        current: list[TaskID] = []  # the file being embedded, shown under the overall bar

        def on_file(result: FileResult) -> None:
            progress.console.print(_file_line(result))
            while current:
                progress.remove_task(current.pop())

        def on_document(path: Path, units: int) -> None:
            current.append(progress.add_task(f"  {path.name}", total=units))

        def on_progress(n: int) -> None:
            progress.update(overall, description="all files", advance=n)
            for task in current:
                progress.update(task, advance=n)

        def on_start(total: int) -> None:
            progress.update(overall, total=total)

        report = ingest_paths(
            files,
            index=index,
            embedder=embedder,
            encoder=encoder,
            pdf=settings.pdf,
            meta=meta,
            on_start=on_start,
            on_file=on_file,
            on_document=on_document,
            on_progress=on_progress,
            embed_supplementary=settings.index.embed_supplementary,
            cited_context=settings.index.cited_context,
        )
    if report.embedded or any(r.removed for r in report.files):
        with err.status("optimizing the index"):
            index.optimize()  # build the HNSW and sparse indexes now rather than at the first queries
    index.close()
    rows = [
        (r.path.name, r.status, r.format, r.title, r.version, r.clauses, r.supplementary,
         pages_cell(r.pages, r.ocr_pages), r.written, r.removed)
        for r in report.files
    ]  # fmt: skip
    table = ingest_table(f"ingested into {settings.index.qdrant_url or settings.data_dir}", rows)
    out.print(table)
    out.print(
        f"{len(report.files) - len(report.failed)} ok, {len(report.failed)} failed; "
        f"{sum(r.written for r in report.files)} units written, "
        f"{getattr(embedder, 'misses', report.embedded)} embedded (the rest from the embedding cache); "
        f"embedding took {report.embedding_seconds:.0f} s of {sum(r.seconds for r in report.files):.0f} s"
    )
    return 1 if report.failed else 0


def _file_line(r: FileResult) -> str:
    if r.status == "failed":
        error = r.error if str(r.path) in r.error else f"{r.path}: {r.error}"
        return f"[red]✗[/red] {error}"
    line = f"[green]✓[/green] {r.path.name}: {r.title}, {r.clauses} units ({r.status}, {r.seconds:.1f} s)"
    return "\n".join([line, *(f"  [yellow]![/yellow] {w}" for w in r.warnings)])


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="Question in Korean.")],
    k: Annotated[int, typer.Option("--k", help="Number of clauses to return.")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, dense or sparse.")] = "hybrid",
    law: Annotated[
        str | None, typer.Option("--law", help="Only this Act (e.g. 의료법), with its 시행령/시행규칙.")
    ] = None,
    level: Annotated[str | None, typer.Option("--level", help="법률, 시행령 or 시행규칙.")] = None,
    doc_type: Annotated[str | None, typer.Option("--type", help="Only statute or guideline units.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Search the versions in force on this date (YYYY-MM-DD)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Search the index and print the best clauses and guideline chunks with their citations."""
    from retrieval.runtime import build_searcher
    from retrieval.search import search as run_search

    if mode not in ("hybrid", "dense", "sparse"):
        err.print(f"error: --mode must be hybrid, dense or sparse, not {mode!r}")
        raise typer.Exit(2)
    filters = _filters(law=law, level=level, doc_type=doc_type, as_of=as_of)
    try:
        searcher = build_searcher(settings_for(data_dir))
        try:  # an Edge shard stays locked while open: release it even when the question is refused
            hits = run_search(searcher, question, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
        finally:
            searcher.index.close()
    except KmedError as exc:
        raise fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps([h.model_dump(mode="json") for h in hits], ensure_ascii=False) + "\n")
        return
    if not hits:
        out.print("근거를 찾지 못했습니다 (no matching clause).")
    for hit in hits:
        out.print(
            f"[bold]{hit.rank}. {hit.clause.label}[/bold] ({hit.clause.article_title}) score={hit.score:.4f}"
        )
        out.print(f"   {hit.clause.text[:300]}")


@app.command()
def show(
    reference: Annotated[
        str,
        typer.Argument(
            help="A citation: '의료법 제22조제2항', '약사법 시행규칙 제15조제1항제2호', '응급의료법 제2조'."
        ),
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The clause as in force on this date (YYYY-MM-DD).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the clauses as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Show the clause a citation names (every 항 when it names an article), with a named 호 or 목
    highlighted; a clause the law does not have is an error that says so."""
    from retrieval.runtime import build_searcher
    from retrieval.search import lookup

    filters = _filters(as_of=as_of)
    try:
        searcher = build_searcher(settings_for(data_dir), reranker=_reranker(settings_for(data_dir), "none"))
        try:
            found = lookup(searcher, reference, as_of=filters.as_of)
        finally:
            searcher.index.close()
    except KmedError as exc:
        raise fail(exc) from exc
    if as_json:
        rows = [
            {
                "reference": r.reference.label,
                "item": r.reference.item,
                "subitem": r.reference.subitem,
                "clauses": [c.model_dump(mode="json") for c in r.clauses],
            }
            for r in found
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    for resolved in found:
        ref = resolved.reference
        for clause in resolved.clauses:
            title = f" ({escape(clause.article_title)})" if clause.article_title else ""
            out.print(f"[bold]{escape(clause.label)}[/bold]{title}")
            for line in _highlighted(clause.text, ref.item, ref.subitem):
                out.print(line)
            out.print()


def _highlighted(text: str, item: str | None, subitem: str | None) -> list[str]:
    """The clause's lines, the named 호 (or only the named 목 of it) in reverse video."""
    number = item.removeprefix("제").split("호")[0] if item else None
    lines, inside = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if re.match(r"\d+(?:의\d+)?\.", stripped):
            inside = number is not None and stripped.startswith(f"{number}.")
            mark = inside and not subitem
        else:
            mark = inside and bool(subitem) and stripped.startswith(f"{(subitem or '').removesuffix('목')}.")
        lines.append(f"[reverse]{escape(line)}[/reverse]" if mark else escape(line))
    return lines


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Question in Korean.")],
    k: Annotated[int | None, typer.Option("--k", help="Clauses retrieved as context.")] = None,
    law: Annotated[str | None, typer.Option("--law", help="Only this Act, with its levels.")] = None,
    doc_type: Annotated[str | None, typer.Option("--type", help="Only statute or guideline.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="As in force on this date.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Answer in Korean from the indexed clauses, every sentence with a verified citation, or
    say 근거를 찾지 못했습니다. Without KMED_LLM__PROVIDER the answer is extractive (offline)."""
    from retrieval.answer import answer
    from retrieval.runtime import build_answerer

    filters = _filters(law=law, doc_type=doc_type, as_of=as_of)
    try:
        answerer = build_answerer(settings_for(data_dir))
        try:
            result = answer(answerer, question, filters=filters, k=k)
        finally:
            answerer.searcher.index.close()
    except KmedError as exc:
        raise fail(exc) from exc
    if as_json:
        sys.stdout.write(result.model_dump_json(exclude={"retrieval"}) + "\n")
        return
    out.print(f"[bold]{escape(result.answer)}[/bold]")
    if result.abstained:
        out.print(f"({escape(result.reason)})")
        for ref in result.references:
            out.print(f"  참고: {escape(ref.label)}")
    for c in result.citations:
        out.print(f"  [{c.n}] {escape(c.label)}: “{escape(c.quote)}”")
    for r in result.removed:
        out.print(f"  [yellow]removed[/yellow] ({escape(r.reason)}): {escape(r.text)}")
    out.print(f"  ({result.generator}, {result.timings_ms.get('total', 0):.0f} ms)")


@app.command("eval")
def evaluate(
    qa_file: Annotated[Path, typer.Argument(help="QA set in JSON Lines (format: shared/eval/README.md).")],
    k: Annotated[int, typer.Option("--k", help="Clauses retrieved per question.")] = 10,
    modes: Annotated[
        str, typer.Option("--modes", help="Comma-separated: hybrid,dense,sparse.")
    ] = "hybrid,dense,sparse",
    rerank: Annotated[
        str | None,
        typer.Option(
            "--rerank",
            help="Rerankers to compare on hybrid, comma-separated (none, learned, cross-encoder, http, llm); "
            "default: the configured one (KMED_RERANK__BACKEND).",
        ),
    ] = None,
    types: Annotated[str | None, typer.Option("--types", help="Only these item types, e.g. statute.")] = None,
    fold: Annotated[
        str | None, typer.Option("--fold", help="Only items of this fold (train or val) of a training set.")
    ] = None,
    answers: Annotated[
        bool, typer.Option("--answers", help="Also answer every question and score the answers.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Measure hit@1/5/10 and MRR@10 of each search mode (and each reranker on hybrid) on a QA set;
    with --answers also the answers' cited-sentence rate, citation precision, abstention, false
    abstention, and the abstention curve over answerability thresholds."""
    from retrieval.evaluation import evaluate as run_eval
    from retrieval.evaluation import load_qa
    from retrieval.runtime import build_searcher
    from retrieval.search import search as run_search

    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    if not mode_list or any(m not in ("hybrid", "dense", "sparse") for m in mode_list):
        err.print(f"error: --modes takes hybrid, dense and/or sparse, not {modes!r}")
        raise typer.Exit(2)
    if not qa_file.is_file():
        err.print(f"error: {qa_file}: no such file")
        raise typer.Exit(2)
    settings = settings_for(data_dir)
    names = [r.strip() for r in (rerank or settings.rerank.backend).split(",") if r.strip()]
    valid = ("none", "learned", "cross-encoder", "http", "llm")
    if not names or any(n not in valid for n in names):
        err.print(f"error: --rerank takes {', '.join(valid)}, not {rerank!r}")
        raise typer.Exit(2)
    try:
        items = [i for i in load_qa(qa_file) if fold is None or i.fold == fold]
        base = build_searcher(settings, reranker=_reranker(settings, names[0]))
        try:
            searchers = {names[0]: base}
            for name in names[1:]:
                searchers[name] = dataclasses.replace(base, reranker=_reranker(settings, name))
            runs = _eval_runs(mode_list, names)
            result = run_eval(
                items,
                lambda q, label: run_search(
                    searchers.get(runs[label][1], base),
                    q,
                    k=k,
                    mode=runs[label][0],  # type: ignore[arg-type]
                ),
                list(runs),
                types=types.split(",") if types else None,
            )
            answer_metrics = (
                {name: _answer_metrics(items, searchers[name], settings) for name in names}
                if answers
                else None
            )
        finally:
            base.index.close()
    except KmedError as exc:
        raise fail(exc) from exc
    labels = list(runs)
    if as_json:
        public: dict[str, Any] = {
            "n_answerable": result.n_answerable,
            "modes": result.modes,
            "misses": result.misses,
            "by_type": result.by_type,
            "rerankers": {label: runs[label][1] for label in labels},
        }
        if answer_metrics is not None:
            public["answer"] = answer_metrics[names[0]].as_json()
            if len(names) > 1:
                public["answers"] = {name: m.as_json() for name, m in answer_metrics.items()}
        sys.stdout.write(json.dumps(public, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{qa_file.name}: {result.n_answerable} answerable items, k={k}")
    for col in ("mode", "rerank", "type", "hit@1", "hit@5", "hit@10", "mrr@10"):
        table.add_column(col)
    for label in labels:
        rows = [("all", result.modes[label]), *result.by_type[label].items()]
        for kind, m in rows:
            cells = [f"{m[c]:.2f}" for c in ("hit@1", "hit@5", "hit@10", "mrr@10")]
            table.add_row(runs[label][0], runs[label][1], kind, *cells)
    out.print(table)
    out.print(f"missed by {labels[0]} in the top {k}: {', '.join(result.misses) or 'none'}")
    for name, metrics in (answer_metrics or {}).items():
        keys = ("cited_sentence_rate", "citation_precision", "abstain_rate", "false_abstain_rate")
        figures = metrics.as_json()
        out.print(f"answers, rerank {name} (" + ", ".join(f"{n} {figures[n]:.2f}" for n in keys) + ")")
        curve = "  ".join(
            f"{row.threshold:.1f}: {row.abstain_rate:.2f}/{row.false_abstain_rate:.2f}"
            for row in metrics.curve
        )
        out.print(f"  answerability threshold → abstain on unanswerable / on answerable: {curve}")


def _reranker(settings: Settings, name: str) -> Any:
    from retrieval.generators import build_chat_model
    from retrieval.rerank import build_reranker

    chat = build_chat_model(settings.llm) if name == "llm" else None
    return build_reranker(settings.rerank.model_copy(update={"backend": name}), chat)


def _eval_runs(modes: list[str], rerankers: list[str]) -> dict[str, tuple[str, str]]:
    """Run label → (mode, reranker): hybrid once per reranker, dense and sparse as they rank."""
    runs: dict[str, tuple[str, str]] = {}
    for mode in modes:
        if mode != "hybrid":
            runs[mode] = (mode, "none")
            continue
        for name in rerankers:
            runs["hybrid" if len(rerankers) == 1 else f"hybrid+{name}"] = ("hybrid", name)
    return runs


def _answer_metrics(items: list[Any], searcher: Any, settings: Settings) -> AnswerReport:
    from retrieval.answer import answer
    from retrieval.evaluation import evaluate_answers
    from retrieval.runtime import build_answerer
    from retrieval.search import get_clause

    answerer = build_answerer(settings, searcher)
    return evaluate_answers(items, lambda q: answer(answerer, q), lambda cid: get_clause(searcher, cid))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log", help="Log each request line (query values left out: they hold questions)."
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs). Request lines are not logged unless asked:
    questions may carry patient details."""
    import uvicorn

    from kmed.logs import configure_logging
    from kmed.service_ingest import service_ingest
    from service.app import create_app

    settings = settings_for(data_dir)
    configure_logging(settings.server)
    uvicorn.run(
        create_app(settings, ingest=service_ingest(settings)),
        host=host,
        port=port,
        log_config=None,  # ours, configured above: JSON lines, request ids, no raw questions
        access_log=access_log,
        timeout_keep_alive=5,
    )


@app.command()
def mcp(data_dir: DataDir = None) -> None:
    """Serve the MCP tools (search, get_clause, ask, verify_citations) and clause resources over
    stdio, for an agent that starts kmed as a subprocess. Logs go to stderr (or the log file),
    never to stdout, which carries the protocol. Over HTTP, `kmed serve` has them at /mcp."""
    from kmed.logs import configure_logging
    from retrieval.runtime import build_answerer, build_searcher
    from service.mcp import build_mcp

    settings = settings_for(data_dir)
    configure_logging(settings.server)
    # opened on the first call: a client lists the tools before any index work
    open_searcher = functools.cache(lambda: build_searcher(settings))
    open_answerer = functools.cache(lambda: build_answerer(settings, open_searcher()))
    try:
        build_mcp(open_searcher, open_answerer, settings).run("stdio")
    finally:
        if open_searcher.cache_info().currsize:
            open_searcher().index.close()


if __name__ == "__main__":
    app()

"""`kmed qa check`: a QA set's gold citations and evidence, checked against the source documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

qa_app = typer.Typer(
    help="Question sets in the eval format (shared/eval/README.md): check them against their sources.",
    no_args_is_help=True,
    add_completion=False,
)


@qa_app.command("check")
def check(
    qa_file: Annotated[Path, typer.Argument(help="QA set in JSON Lines.")],
    statutes: Annotated[
        list[Path] | None,
        typer.Option("--statutes", help="Statute files or folders (default: the shared corpora's statutes)."),
    ] = None,
    pdfs: Annotated[
        list[Path] | None,
        typer.Option("--pdfs", help="Guideline PDFs or folders (default: the shared corpora's PDFs)."),
    ] = None,
    max_quote: Annotated[
        int,
        typer.Option(
            "--max-guideline-evidence",
            help="Longest guideline quote in characters (third-party PDFs: a few words); 0: no limit.",
        ),
    ] = 60,
) -> None:
    """Every gold clause exists (law = the parent Act's title, level, article, 항, 호), every
    evidence excerpt is in a gold clause or on a gold page, ids are unique; exit 1 on a problem."""
    from ingest.qacheck import Sources, check_rows, load_rows
    from kmed.console import err, out, settings_for

    if not qa_file.is_file():
        err.print(f"error: {qa_file}: no such file")
        raise typer.Exit(2)
    corpora = settings_for(None).shared_dir / "corpora"
    statute_files = _files(statutes or [corpora / "statutes"], ".md", ".xml", ".json")
    pdf_files = _files(pdfs or [corpora / "guidelines" / "pdf"], ".pdf")
    rows = load_rows(qa_file)
    problems = check_rows(
        rows, Sources.read(statute_files, pdf_files), max_guideline_evidence=max_quote or None
    )
    for problem in problems:
        out.print(problem, markup=False)
    out.print(f"{len(rows)} items, {len(problems)} problems")
    raise typer.Exit(1 if problems else 0)


def _files(paths: list[Path], *suffixes: str) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes)
        elif path.exists():
            found.append(path)
    return found

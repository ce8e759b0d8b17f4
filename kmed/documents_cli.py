"""`kmed documents`: what is in the index, version by version, and removing a document."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kmed.console import AsJson, DataDir
from retrieval.errors import KmedError
from retrieval.registry import DocumentRecord, describe

documents_app = typer.Typer(
    help="List, inspect and remove indexed documents (statutes and guidelines, all versions).",
    no_args_is_help=True,
    add_completion=False,
)


def _records(data_dir: Path | None) -> dict[str, DocumentRecord]:
    from kmed.console import fail, settings_for
    from retrieval.index import open_index
    from retrieval.registry import load_documents

    try:
        index = open_index(settings_for(data_dir))
    except KmedError as exc:
        raise fail(exc) from exc
    try:
        return load_documents(index)
    finally:
        index.close()


@documents_app.command("list")
def list_documents(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """One line per document: id, type, title, the version searched by default, versions held."""
    from kmed.console import out

    records = sorted(_records(data_dir).values(), key=lambda r: (r.doc_type, r.title))
    if as_json:
        sys.stdout.write(json.dumps([describe(r) for r in records], ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(records)} documents")
    for col in ("id", "type", "title", "level", "current", "versions", "units"):
        table.add_column(col)
    for r in records:
        current = r.current()
        table.add_row(
            r.doc_id,
            r.doc_type,
            escape(r.title),
            r.level,
            escape(current.label or "") if current else "",
            str(len(r.versions)),
            str(current.units) if current else "",
        )
    out.print(table)


@documents_app.command("show")
def show_document(
    doc_id: Annotated[str, typer.Argument(help="Document id from `kmed documents list`.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """A document's metadata and every version held, with its status and validity."""
    from kmed.console import err, out

    record = _records(data_dir).get(doc_id)
    if record is None:
        err.print(f"error: no document {doc_id!r} in the index; `kmed documents list` shows the ids")
        raise typer.Exit(2)
    info = describe(record)
    if as_json:
        sys.stdout.write(json.dumps(info, ensure_ascii=False) + "\n")
        return
    out.print(f"[bold]{escape(record.title)}[/bold] ({record.doc_id}, {record.doc_type}, {record.level})")
    if record.issuer:
        out.print(f"issuer: {escape(record.issuer)}")
    table = Table()
    for col in ("version", "status", "in force", "units", "pages", "source", "ingested"):
        table.add_column(col)
    for v in info["versions"]:
        span = f"{v['valid_from'] or '…'} – {v['valid_to'] or ''}"
        pages = (
            ""
            if v["pages"] is None
            else f"{v['pages']} ({v['ocr_pages']} OCR)"
            if v["ocr_pages"]
            else str(v["pages"])
        )
        table.add_row(
            escape(v["label"] or v["key"]),
            v["status"],
            span,
            str(v["units"]),
            pages,
            escape(Path(v["source"]).name),
            v["ingested_at"][:19],
        )
    out.print(table)


@documents_app.command("remove")
def remove(
    doc_id: Annotated[str, typer.Argument(help="Document id from `kmed documents list`.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Remove a document with all its versions; other documents score as if it was never there."""
    from kmed.console import fail, out, settings_for
    from retrieval.index import open_index
    from retrieval.writes import remove_document

    if not yes:
        typer.confirm(f"remove {doc_id} and all its versions from the index?", abort=True)
    try:
        index = open_index(settings_for(data_dir))
        try:
            removed = remove_document(index, doc_id)
            index.optimize()
        finally:
            index.close()
    except KmedError as exc:
        raise fail(exc) from exc
    out.print(f"removed {doc_id}: {removed} units")

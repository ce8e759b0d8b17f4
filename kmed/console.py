"""What every `kmed` sub-command shares: the consoles, settings from `--data-dir`, and errors as
one clean line with an exit code (1 some input files failed, 2 bad usage or input, 3 index
unavailable, 4 configuration)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from retrieval.errors import ConfigurationError, IndexUnavailable, InvalidQuery, KmedError, NotFound
from retrieval.settings import Settings, load_settings

# wide enough for Korean law titles when output goes to a file or a pipe
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
EXIT_CODES = {InvalidQuery: 2, NotFound: 2, IndexUnavailable: 3, ConfigurationError: 4}

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Index and cache folder (default: KMED_DATA_DIR or ./data).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def fail(exc: KmedError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    code = next((c for t, c in EXIT_CODES.items() if isinstance(exc, t)), 1)
    return typer.Exit(code)


def settings_for(data_dir: Path | None) -> Settings:
    return load_settings(data_dir=data_dir) if data_dir else load_settings()


INGEST_COLUMNS = (
    "file",
    "status",
    "format",
    "title",
    "version",
    "units",
    "부칙",
    "pages",
    "written",
    "removed",
)


def pages_cell(pages: int | None, ocr_pages: int) -> str:
    return "" if pages is None else f"{pages} ({ocr_pages} OCR)" if ocr_pages else str(pages)


def ingest_table(title: str, rows: Iterable[Sequence[object]]) -> Table:
    """The table `kmed ingest` prints, local or through a server: one row per file."""
    table = Table(title=title)
    for col in INGEST_COLUMNS:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table


class RateColumn(ProgressColumn):
    """Clauses per second over the last half minute (rich's windowed speed estimate)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} clauses/s" if speed else "… clauses/s", style="progress.data.speed")


def ingest_columns() -> tuple[ProgressColumn, ...]:
    """An ingestion bar: what, how far, clauses per second, time left, time taken."""
    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )

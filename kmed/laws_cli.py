"""`kmed laws`: keep the statutes in the index current from the law.go.kr Open API.

`kmed laws sync` asks law.go.kr for the current version of each listed law, downloads the
versions not synced before, ingests them, and records them as synced only when ingestion
succeeded, so a version that failed to go in is fetched and ingested again next time.
Exit codes as in `kmed`: 1 some law failed, 2 bad usage, 4 no Open API id (OC) configured.

kmed/cli.py is imported inside the command, not at the top: it registers this sub-app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ingest.lawsync import (
    LawGoClient,
    LawOutcome,
    LawSyncError,
    MissingOcKey,
    load_law_list,
    mark_synced,
    sync_laws,
)

laws_app = typer.Typer(
    help="Keep statutes current from the law.go.kr Open API (set KMED_LAWGO__OC to your open.law.go.kr id).",
    no_args_is_help=True,
    add_completion=False,
)

STORE_FOLDER = "laws"  # <data_dir>/laws/<title>/<MST>.xml
STATE_FILE = "laws-sync.json"  # beside the store, not in it: `kmed ingest <data_dir>/laws` must not read it


@laws_app.callback()
def laws() -> None:
    """Statutes from law.go.kr: `kmed laws sync` fetches and ingests new versions."""


@laws_app.command()
def sync(
    law: Annotated[
        list[str] | None,
        typer.Option("--law", help="A law title as law.go.kr writes it (repeatable); default: the law list."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Index and cache folder (default: KMED_DATA_DIR or ./data)."),
    ] = None,
) -> None:
    """Fetch the laws whose current version was not synced yet, ingest them, and record them."""
    from kmed.cli import ingest_files
    from kmed.console import err, out, settings_for

    settings = settings_for(data_dir)
    lawgo = settings.lawgo
    try:
        titles = list(dict.fromkeys(" ".join(t.split()) for t in law)) if law else load_law_list(lawgo.laws)
    except LawSyncError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    if not titles:
        err.print(f"error: no law titles in {escape(str(lawgo.laws))}; add some or name laws with --law")
        raise typer.Exit(2)
    try:
        client = LawGoClient(lawgo.oc, base_url=lawgo.base_url, timeout=lawgo.timeout)
    except MissingOcKey as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(4) from exc
    state = settings.data_dir / STATE_FILE
    store = settings.data_dir / STORE_FOLDER
    try:
        with client:
            result = sync_laws(titles, client=client, store_dir=store, state_path=state)
    except LawSyncError as exc:  # an unreadable state file: nothing was fetched
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    for outcome in result.outcomes:
        out.print(_outcome_line(outcome))
    out.print(
        f"{len(result.fetched)} new, {len(result.up_to_date)} up to date, {len(result.failed)} failed "
        f"of {len(result.outcomes)} laws"
    )
    code = 1 if result.failed else 0
    if result.fetched:
        ingested = ingest_files([o.path for o in result.fetched if o.path is not None], settings)
        if ingested == 0:
            mark_synced(state, result.fetched)
            n = len(result.fetched)
            out.print(f"recorded {n} law{'s' if n != 1 else ''} as synced in {escape(str(state))}")
        else:
            err.print(
                "[yellow]warning:[/yellow] ingestion failed for some files; no new version was recorded "
                "as synced, so they are fetched and ingested again next time"
            )
            code = ingested
    raise typer.Exit(code)


def _outcome_line(o: LawOutcome) -> str:
    title = escape(o.title)
    if o.status == "failed":
        reason = o.error.removeprefix(f"{o.title}: ")
        return f"[red]✗[/red] {title}: failed: {escape(reason)}"
    assert o.version is not None  # fetched and up-to-date outcomes always carry their version
    dates = f"공포 {_date(o.version.promulgated)}, 시행 {_date(o.version.effective)}"
    if o.status == "up_to_date":
        return f"[green]✓[/green] {title}: up to date (MST {o.version.mst}, {dates})"
    replaces = f", replaces MST {o.previous_mst}" if o.previous_mst else ""
    return f"[cyan]↓[/cyan] {title}: new version fetched (MST {o.version.mst}, {dates}{replaces})"


def _date(yyyymmdd: str) -> str:
    if len(yyyymmdd) == 8 and yyyymmdd.isdigit():
        return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"
    return yyyymmdd or "?"

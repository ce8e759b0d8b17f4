"""`kmed snapshot create|restore PATH`: the index to one file, and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kmed.console import DataDir
from retrieval.errors import KmedError

snapshot_app = typer.Typer(
    help="Back up the index to one file, and restore it: the embedded shard (stop `kmed serve` to "
    "restore), or with KMED_QDRANT_URL the server collection, through Qdrant's snapshot API.",
    no_args_is_help=True,
    add_completion=False,
)


@snapshot_app.command("create")
def create(
    path: Annotated[Path, typer.Argument(help="Snapshot file to write (.tar).")],
    data_dir: DataDir = None,
) -> None:
    """Write a consistent copy of the index, its meta and a manifest with checksums. While
    `kmed serve` holds the index, use POST /v1/snapshots (admin key) instead."""
    from kmed.console import fail, out, settings_for
    from retrieval.snapshots import create_snapshot

    try:
        info = create_snapshot(settings_for(data_dir), path)
    except KmedError as exc:
        raise fail(exc) from exc
    out.print(f"{info.path}: {info.points} points in {info.files} files ({info.created})")


@snapshot_app.command("restore")
def restore(
    path: Annotated[Path, typer.Argument(help="Snapshot file written by `kmed snapshot create`.")],
    data_dir: DataDir = None,
) -> None:
    """Replace the index with the snapshot, after checking every file against its checksum;
    refused while a service holds the index."""
    from kmed.console import fail, out, settings_for
    from retrieval.snapshots import restore_snapshot

    try:
        info = restore_snapshot(settings_for(data_dir), path)
    except KmedError as exc:
        raise fail(exc) from exc
    out.print(f"restored {info.points} points from {info.path} (taken {info.created})")

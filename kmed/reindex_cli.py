"""`kmed reindex PATHS`: rebuild a Qdrant server collection behind its alias and switch it
atomically (`retrieval/index/aliases.py`); searches go on against the old build meanwhile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kmed.console import DataDir
from retrieval.errors import KmedError


def reindex(
    paths: Annotated[list[Path], typer.Argument(help="Everything the new build holds: files or folders.")],
    keep: Annotated[int, typer.Option("--keep", min=0, help="Older builds to keep for switching back.")] = 1,
    data_dir: DataDir = None,
) -> None:
    """Build the whole corpus into a new collection on the Qdrant server, check it, then point the
    alias KMED_INDEX__COLLECTION at it in one atomic step. For an embedder or schema change or a
    new shard layout; routine document updates need only `kmed ingest`."""
    from qdrant_client import QdrantClient

    from ingest.pipeline import discover, ingest_paths
    from kmed.console import err, fail, out, settings_for
    from retrieval.index.aliases import reindex as run_reindex
    from retrieval.runtime import build_dense, build_encoder, check_meta

    settings = settings_for(data_dir)
    url = settings.index.qdrant_url
    if not url:
        err.print(
            "error: reindex works on a Qdrant server (set KMED_QDRANT_URL); rebuild an embedded index "
            "into a new data folder with `kmed ingest` instead"
        )
        raise typer.Exit(2)
    remote = url.startswith(("http://", "https://"))
    client = (
        QdrantClient(url=url, api_key=settings.index.qdrant_api_key) if remote else QdrantClient(path=url)
    )
    embedder, encoder = build_dense(settings, bulk=True), build_encoder(settings)

    def build(open_target):  # type: ignore[no-untyped-def]
        index = open_target(embedder.dim)
        check_meta(settings, embedder, index, write=True)
        report = ingest_paths(discover(paths), index=index, embedder=embedder, encoder=encoder)
        for failed in report.failed:
            err.print(f"[red]✗[/red] {failed.path}: {failed.error}")
        if report.failed:
            raise typer.Exit(1)  # a partial corpus is not switched in
        return sum(r.written for r in report.files)

    try:
        done = run_reindex(client, settings.index, build, keep=keep)
    except KmedError as exc:
        raise fail(exc) from exc
    finally:
        client.close()
    out.print(
        f"alias {done.alias} → {done.collection} ({done.points} points); before: {done.previous or 'none'}"
        + (f"; dropped {', '.join(done.dropped)}" if done.dropped else "")
    )

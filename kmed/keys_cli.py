"""`kmed keys new`: a random API key and the KMED_API_KEYS entry that stores its hash."""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Literal

import typer

keys_app = typer.Typer(
    help="API keys for the service (KMED_API_KEYS).", no_args_is_help=True, add_completion=False
)


@keys_app.command("new")
def new(
    name: Annotated[str, typer.Option("--name", help="Who will hold it (logged with each request).")],
    role: Annotated[
        Literal["read", "ingest", "admin"],
        typer.Option("--role", help="read (search, ask), ingest (plus uploads, jobs), admin (plus delete)."),
    ] = "read",
) -> None:
    """Print a new key (shown once: give it to its holder) and the entry to add to KMED_API_KEYS."""
    from retrieval.settings import ApiKey
    from service.auth import key_hash

    key = "kmed_" + secrets.token_urlsafe(32)
    entry = ApiKey(name=name, hash=key_hash(key), role=role)
    typer.echo(f"key (give it to {name}; it is not stored): {key}")
    typer.echo("KMED_API_KEYS entry: " + json.dumps(entry.model_dump(), ensure_ascii=False))

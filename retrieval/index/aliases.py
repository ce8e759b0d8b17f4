"""Re-indexing a Qdrant server collection behind an alias, switched atomically.

Searches name the alias (`KMED_INDEX__COLLECTION`, default `kmed`); the data lives in physical
collections `<alias>-<UTC time>`. A re-index builds a whole new physical collection while the
old one goes on answering, checks it (points, the index meta: embedder, dimension, term scheme,
schema version), and then moves the alias in one `update_collection_aliases` request, which
Qdrant applies atomically: a query reads the old collection or the new one, never a mix, and
no request fails in between. The previous collections are kept (`keep`, default 1) so that a
bad build can be switched back (`switch_alias(client, alias, old)`), then deleted.

This is the path for an embedder change, a schema change, or a cluster's new shard layout
(shard number is fixed at creation). Routine updates of one document need none of it: the
document registry switches versions inside the collection. Edge has no aliases; an embedded
index is rebuilt into a new data folder instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from qdrant_client import QdrantClient, models

from retrieval.errors import ConfigurationError, IndexNotBuilt
from retrieval.index.server import ServerIndex
from retrieval.settings import IndexSettings


@dataclass(frozen=True)
class Reindexed:
    alias: str
    collection: str  # the physical collection the alias names now
    previous: str | None
    points: int
    dropped: list[str]


def alias_target(client: QdrantClient, alias: str) -> str | None:
    for entry in client.get_aliases().aliases:
        if entry.alias_name == alias:
            return entry.collection_name
    return None


def physical_collections(client: QdrantClient, alias: str) -> list[str]:
    """The physical collections built for this alias, oldest first."""
    pattern = re.compile(rf"^{re.escape(alias)}-\d{{8}}T\d{{6,12}}Z$")
    return sorted(c.name for c in client.get_collections().collections if pattern.match(c.name))


def switch_alias(client: QdrantClient, alias: str, collection: str) -> str | None:
    """Point `alias` at `collection` in one request; returns what it named before."""
    if not client.collection_exists(collection):
        raise IndexNotBuilt(f"no collection {collection!r} to point the alias {alias!r} at")
    previous = alias_target(client, alias)
    operations: list[models.DeleteAliasOperation | models.CreateAliasOperation] = []
    if previous:
        operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
    operations.append(
        models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
        )
    )
    client.update_collection_aliases(change_aliases_operations=operations)
    return previous


def reindex(
    client: QdrantClient,
    settings: IndexSettings,
    build: Callable[[Callable[[int], ServerIndex]], int],
    *,
    keep: int = 1,
    now: datetime | None = None,
) -> Reindexed:
    """Build a new physical collection with `build(open_target)`: it opens the new collection with
    `open_target(dim)`, writes its meta and the corpus, and returns the units written. Then check
    it, move the alias, and drop all but `keep` older builds.
    Nothing is switched when the build fails or writes nothing; the half-built collection is
    deleted and the alias keeps naming the old one."""
    alias = settings.collection
    if client.collection_exists(alias) and alias_target(client, alias) is None:
        raise ConfigurationError(
            f"{alias!r} is a collection, not an alias: re-indexing behind an alias needs the name free. "
            f"Point KMED_INDEX__COLLECTION at a new alias name, re-index, and delete {alias!r} after"
        )
    name = f"{alias}-{(now or datetime.now(UTC)):%Y%m%dT%H%M%S%fZ}"
    target_settings = settings.model_copy(update={"collection": name})
    opened: list[ServerIndex] = []

    def open_target(dim: int) -> ServerIndex:
        opened.append(ServerIndex(target_settings, dim=dim, create=True, client=client))
        return opened[-1]

    try:
        written = build(open_target)
        points = opened[-1].count() if opened else 0
        if not written or not points:
            raise IndexNotBuilt(f"the re-index wrote nothing into {name!r}; the alias {alias!r} is unchanged")
    except BaseException:
        if client.collection_exists(name):
            client.delete_collection(name)
        raise
    previous = switch_alias(client, alias, name)
    older = [c for c in physical_collections(client, alias) if c != name]
    dropped = older[: max(len(older) - keep, 0)]
    for old in dropped:
        client.delete_collection(old)
    return Reindexed(alias, name, previous, points, dropped)

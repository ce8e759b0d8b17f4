"""Snapshots of the embedded index: one tar file that a restore turns back into the same index.

Qdrant Edge 0.9 can unpack a server's shard snapshot but cannot write one, so a snapshot here is
a consistent copy of the shard's files: taken after a flush with no writer running (the caller
holds the writer lock, or the shard is opened here, which proves no other process holds it),
together with the index meta and a manifest (point count, the meta, each file's SHA-256).

A restore unpacks into a new folder beside the index, opens it and counts its points against the
manifest, and only then swaps it in by renaming; a data folder whose shard another process holds
is refused, since that process would go on serving and writing the old files.

The server backend goes through Qdrant's snapshot API: the server writes a collection snapshot
(`POST /collections/{c}/snapshots`), it is downloaded, checked against the server's SHA-256,
deleted on the server, and wrapped with the same kind of manifest; a restore uploads it
(`POST /collections/{c}/snapshots/upload?priority=snapshot`), which the server swaps in while it
goes on answering, and counts the points. A collection whose shards lie on several nodes of a
cluster is refused: a collection snapshot holds only the shards of the node that wrote it (take
per-node snapshots as Qdrant's docs describe, or re-index into a new collection, docs/service.md).
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from retrieval.errors import ConfigurationError, IndexUnavailable, InvalidQuery
from retrieval.index import EdgeIndex, Index
from retrieval.pages import file_sha256
from retrieval.settings import Settings

FORMAT = "kmed-snapshot"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SnapshotInfo:
    path: Path
    points: int
    files: int
    created: str


SERVER_SNAPSHOT = "collection.snapshot"


def _server_url(settings: Settings) -> str | None:
    url = settings.index.qdrant_url
    if url and not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"qdrant_url {url!r} is qdrant-client's local mode, which has no snapshots (it is for "
            "tests): snapshot the embedded index or a Qdrant server"
        )
    return url.rstrip("/") if url else None


def _paths(settings: Settings) -> tuple[Path, Path]:
    shard = settings.data_dir / "index" / settings.index.collection
    return shard, shard.parent / f"{settings.index.collection}.meta.json"


def create_snapshot(settings: Settings, target: Path, index: Index | None = None) -> SnapshotInfo:
    """Write the index to `target` (a .tar). Pass the open `index` when this process holds it
    (the caller keeps writers out while this runs); without it the shard is opened here. With a
    Qdrant server in the settings, the server writes the snapshot."""
    url = _server_url(settings)
    if url:
        return _create_on_server(settings, url, target)
    shard, meta = _paths(settings)
    own = index is None
    if index is None:
        index = EdgeIndex(shard)  # raises IndexUnavailable when another process holds it
    try:
        index.flush()
        points = index.count()
        files = sorted(p for p in shard.rglob("*") if p.is_file() and not p.name.endswith(".lock"))
        manifest = {
            "format": FORMAT,
            "version": 1,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "collection": settings.index.collection,
            "points": points,
            "meta": json.loads(meta.read_text("utf-8")) if meta.exists() else None,
            "files": {str(p.relative_to(shard)): file_sha256(p) for p in files},
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        with tarfile.open(partial, "w") as tar:
            body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            entry = tarfile.TarInfo(MANIFEST)
            entry.size, entry.mtime = len(body), int(time.time())
            tar.addfile(entry, io.BytesIO(body))
            for p in files:
                tar.add(p, arcname=f"shard/{p.relative_to(shard)}", recursive=False)
        partial.replace(target)
    finally:
        if own:
            index.close()
    return SnapshotInfo(target, points, len(files), str(manifest["created"]))


def _read_manifest(tar: tarfile.TarFile, source: Path) -> dict[str, object]:
    try:
        member = tar.extractfile(MANIFEST)
        manifest = json.loads(member.read()) if member else None
    except (KeyError, json.JSONDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidQuery(f"{source} is not a kmed snapshot (no {MANIFEST} of format {FORMAT})")
    return manifest


def restore_snapshot(settings: Settings, source: Path) -> SnapshotInfo:
    """Replace the embedded index with the snapshot at `source`; refused while another process
    holds the index. With a Qdrant server in the settings, the collection there is replaced."""
    if not source.is_file():
        raise InvalidQuery(f"no snapshot at {source}")
    url = _server_url(settings)
    if url:
        return _restore_on_server(settings, url, source)
    shard, meta = _paths(settings)
    if shard.exists() and any(shard.iterdir()):
        try:
            EdgeIndex(shard).close()  # proves no running service holds it
        except IndexUnavailable as exc:
            raise IndexUnavailable(
                f"the index in {settings.data_dir} is held by a running service; stop it before restoring "
                "(a restore under a running service would be overwritten by what it writes next)"
            ) from exc
    staging = shard.with_name(f".{shard.name}.restoring")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(source, "r") as tar:
            manifest = _read_manifest(tar, source)
            if manifest.get("backend", "edge") != "edge":
                raise InvalidQuery(
                    f"{source} is a snapshot of a Qdrant server collection: restore it with "
                    "KMED_QDRANT_URL set to a server, or ingest the corpus into the embedded index"
                )
            files: dict[str, str] = manifest["files"]  # type: ignore[assignment]
            members = [m for m in tar.getmembers() if m.name.startswith("shard/") and m.isfile()]
            if {m.name.removeprefix("shard/") for m in members} != set(files):
                raise InvalidQuery(f"{source} is incomplete: its files do not match its manifest")
            tar.extractall(staging.parent / ".restore-files", members=members, filter="data")
        (staging.parent / ".restore-files" / "shard").rename(staging)
        for name, digest in files.items():
            if file_sha256(staging / name) != digest:
                raise InvalidQuery(f"{source} is damaged: {name} does not match its checksum")
        restored = EdgeIndex(staging)
        try:
            points = restored.count()
        finally:
            restored.close()
        if points != manifest["points"]:
            raise InvalidQuery(f"{source} holds {points} points, its manifest says {manifest['points']}")
        old = shard.with_name(f".{shard.name}.replaced")
        shutil.rmtree(old, ignore_errors=True)
        if shard.exists():
            shard.rename(old)
        staging.rename(shard)
        shutil.rmtree(old, ignore_errors=True)
        if manifest.get("meta") is not None:
            meta.write_text(json.dumps(manifest["meta"], ensure_ascii=False, indent=1), "utf-8")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(staging.parent / ".restore-files", ignore_errors=True)
    return SnapshotInfo(source, points, len(files), str(manifest["created"]))


# -- the server backend ------------------------------------------------------------------------


@contextmanager
def _qdrant(settings: Settings, url: str) -> Iterator[httpx.Client]:
    key = settings.index.qdrant_api_key
    timeout = httpx.Timeout(30.0, read=settings.index.snapshot_timeout_s)
    with httpx.Client(base_url=url, headers={"api-key": key} if key else {}, timeout=timeout) as client:
        try:
            yield client
        except httpx.HTTPStatusError as exc:
            raise IndexUnavailable(
                f"Qdrant at {url} refused {exc.request.method} {exc.request.url.path}: "
                f"{exc.response.status_code} {exc.response.text[:300]}"
            ) from exc
        except httpx.HTTPError as exc:
            raise IndexUnavailable(f"cannot reach Qdrant at {url}: {exc}") from exc


def _result(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json().get("result")


def _count(client: httpx.Client, collection: str) -> int:
    return int(_result(client.post(f"/collections/{collection}/points/count", json={"exact": True}))["count"])


def _single_node(client: httpx.Client, collection: str) -> None:
    shards = _result(client.get(f"/collections/{collection}/cluster"))
    if shards.get("remote_shards"):
        raise ConfigurationError(
            f"collection {collection!r} has shards on other nodes of the cluster; a collection snapshot "
            "holds only this node's shards: take per-node snapshots (Qdrant docs) or re-index"
        )


def _create_on_server(settings: Settings, url: str, target: Path) -> SnapshotInfo:
    collection = settings.index.collection
    target.parent.mkdir(parents=True, exist_ok=True)
    download = target.with_name(f".{target.name}.download")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with _qdrant(settings, url) as client:
            _single_node(client, collection)
            before = _count(client, collection)
            made = _result(client.post(f"/collections/{collection}/snapshots", params={"wait": "true"}))
            name = made["name"]
            try:
                with client.stream("GET", f"/collections/{collection}/snapshots/{name}") as response:
                    response.raise_for_status()
                    with download.open("wb") as fh:
                        for chunk in response.iter_bytes(1 << 20):
                            fh.write(chunk)
            finally:
                client.delete(f"/collections/{collection}/snapshots/{name}", params={"wait": "true"})
            after = _count(client, collection)
        if before != after:
            raise IndexUnavailable(
                f"the collection changed while the snapshot was taken ({before} → {after} points); "
                "take it again when no ingestion runs"
            )
        digest = file_sha256(download)
        if made.get("checksum") and made["checksum"] != digest:
            raise IndexUnavailable(f"the snapshot downloaded from {url} does not match the server's checksum")
        manifest = {
            "format": FORMAT,
            "version": 1,
            "backend": "qdrant",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "collection": collection,
            "points": after,
            "snapshot": {"name": name, "sha256": digest, "size": download.stat().st_size},
        }
        with tarfile.open(partial, "w") as tar:
            body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            entry = tarfile.TarInfo(MANIFEST)
            entry.size, entry.mtime = len(body), int(time.time())
            tar.addfile(entry, io.BytesIO(body))
            tar.add(download, arcname=SERVER_SNAPSHOT, recursive=False)
        partial.replace(target)
    finally:
        download.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return SnapshotInfo(target, after, 1, str(manifest["created"]))


def _restore_on_server(settings: Settings, url: str, source: Path) -> SnapshotInfo:
    collection = settings.index.collection
    staging = source.with_name(f".{source.name}.upload")
    try:
        with tarfile.open(source, "r") as tar:
            manifest = _read_manifest(tar, source)
            if manifest.get("backend") != "qdrant":
                raise InvalidQuery(
                    f"{source} is a snapshot of an embedded index: restore it without KMED_QDRANT_URL, "
                    "or ingest the corpus into the server"
                )
            member = tar.extractfile(SERVER_SNAPSHOT)
            if member is None:
                raise InvalidQuery(f"{source} is incomplete: it has no {SERVER_SNAPSHOT}")
            with staging.open("wb") as fh:
                shutil.copyfileobj(member, fh, 1 << 20)
        expected: dict[str, Any] = manifest["snapshot"]  # type: ignore[assignment]
        if file_sha256(staging) != expected["sha256"]:
            raise InvalidQuery(f"{source} is damaged: its collection snapshot does not match its checksum")
        with _qdrant(settings, url) as client, staging.open("rb") as fh:
            _result(
                client.post(
                    f"/collections/{collection}/snapshots/upload",
                    params={"priority": "snapshot", "wait": "true", "checksum": expected["sha256"]},
                    files={"snapshot": (SERVER_SNAPSHOT, fh, "application/octet-stream")},
                )
            )
            points = _count(client, collection)
        if points != manifest["points"]:
            raise InvalidQuery(
                f"{source} holds {manifest['points']} points, the restored collection {points}"
            )
    finally:
        staging.unlink(missing_ok=True)
    return SnapshotInfo(source, points, 1, str(manifest["created"]))

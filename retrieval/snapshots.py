"""Snapshots of the embedded index: one tar file that a restore turns back into the same index.

Qdrant Edge 0.9 can unpack a server's shard snapshot but cannot write one, so a snapshot here is
a consistent copy of the shard's files: taken after a flush with no writer running (the caller
holds the writer lock, or the shard is opened here, which proves no other process holds it),
together with the index meta and a manifest (point count, the meta, each file's SHA-256).

A restore unpacks into a new folder beside the index, opens it and counts its points against the
manifest, and only then swaps it in by renaming; a data folder whose shard another process holds
is refused, since that process would go on serving and writing the old files. The server backend
has its own snapshot API (`POST /collections/{name}/snapshots`); it is not wrapped here yet.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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


def _paths(settings: Settings) -> tuple[Path, Path]:
    if settings.index.qdrant_url:
        raise ConfigurationError(
            "snapshots of a Qdrant server collection are made by the server: use its snapshot API "
            "(POST /collections/{name}/snapshots); kmed snapshots cover the embedded index"
        )
    shard = settings.data_dir / "index" / settings.index.collection
    return shard, shard.parent / f"{settings.index.collection}.meta.json"


def create_snapshot(settings: Settings, target: Path, index: Index | None = None) -> SnapshotInfo:
    """Write the index to `target` (a .tar). Pass the open `index` when this process holds it
    (the caller keeps writers out while this runs); without it the shard is opened here."""
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
    holds the index."""
    shard, meta = _paths(settings)
    if not source.is_file():
        raise InvalidQuery(f"no snapshot at {source}")
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

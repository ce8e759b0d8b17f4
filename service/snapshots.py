"""POST /v1/snapshots (admin): a snapshot of the index the service holds, taken between writes.

Restoring replaces the files under a running service, so it is the CLI's job with the service
stopped (`kmed snapshot restore`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from retrieval.snapshots import create_snapshot
from service import auth
from service.audit import audit
from service.routes import ERRORS, SearcherDep

router = APIRouter(prefix="/v1/snapshots", tags=["documents"])


class SnapshotOut(BaseModel):
    path: str = Field(description="The snapshot file, on the server.")
    points: int
    files: int
    created: str


@router.post("", response_model=SnapshotOut, responses=ERRORS, dependencies=[Depends(auth.admin)])
def snapshot(request: Request, searcher: SearcherDep) -> SnapshotOut:
    """스냅샷: write the index to `<data dir>/snapshots/kmed-<time>.tar`; searches go on meanwhile."""
    settings = request.app.state.settings
    target = settings.data_dir / "snapshots" / f"kmed-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.tar"
    with request.app.state.holder.write_lock:
        info = create_snapshot(settings, target, searcher.index)
    audit(request, "snapshot.create", path=str(info.path), points=info.points)
    return SnapshotOut(path=str(info.path), points=info.points, files=info.files, created=info.created)

"""Which version of each document is searchable: the document registry and the version switch.

Every indexed point carries a `version_key` (`<doc_id>@<content hash>`). A version becomes
visible only when its document's registry record, one vector-less point in the same collection,
lists it: writing that single point is the commit. Searches filter on the version keys the
registry selects (the current ones, or those in force on an `as_of` date), so a query sees a
whole old version or a whole new one, never a mix; also after a crash in the middle of an
ingestion, whose points belong to a version no record lists: invisible orphans that the next
ingestion deletes (`orphan_versions`).

The writes (commit, stale points, removal) are `retrieval/writes.py`'s; this module reads.

Versions of one document are ordered by the date they take effect (시행일자, or a guideline's
effective date); each is in force until the next one starts. Without a date, a version counts
as in force from the beginning of time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from retrieval.models import DocType

if TYPE_CHECKING:
    from retrieval.index import Index

RECORD = "document"  # value of the `record` payload key that marks registry points
_NAMESPACE = uuid.UUID("0d9f3b5e-64a4-4c55-9d0e-3a3c8f1f5e21")


class DocumentVersion(BaseModel):
    """One ingested version of a document."""

    key: str = Field(description="Version key carried by every point of this version.")
    label: str | None = Field(default=None, description="Edition as named: '2024', '공포 2026-04-07'.")
    valid_from: date | None = Field(default=None, description="Date it takes effect (시행일자).")
    promulgated: date | None = Field(default=None, description="공포일자 or publication date.")
    mst: str | None = Field(default=None, description="law.go.kr 법령MST of a statute version.")
    source: str = Field(default="", description="File it was read from.")
    sha256: str = Field(default="", description="Hash of that file.")
    units: int = Field(default=0, description="Clauses or chunks indexed.")
    pages: int | None = Field(default=None, description="Pages of a PDF.")
    ocr_pages: int = Field(default=0, description="Pages whose text came from OCR.")
    ingested_at: datetime = Field(description="When this version was committed (UTC).")


class DocumentRecord(BaseModel):
    """A document (one law at one level, or one guideline) and all its versions, oldest first."""

    doc_id: str
    doc_type: DocType
    title: str
    level: str = ""
    issuer: str | None = None
    versions: list[DocumentVersion] = Field(default_factory=list)

    def ordered(self) -> list[DocumentVersion]:
        return sorted(self.versions, key=lambda v: (v.valid_from or date.min, v.ingested_at))

    def valid_to(self, version: DocumentVersion) -> date | None:
        """The day the next version takes effect (exclusive), or None while it is the latest."""
        ordered = self.ordered()
        i = next(n for n, v in enumerate(ordered) if v.key == version.key)
        nxt = ordered[i + 1 : i + 2]
        return nxt[0].valid_from if nxt else None

    def in_force(self, day: date) -> DocumentVersion | None:
        """The version in force on `day`: the latest one that took effect on or before it."""
        started = [v for v in self.ordered() if (v.valid_from or date.min) <= day]
        return started[-1] if started else None

    def current(self, today: date | None = None) -> DocumentVersion | None:
        """What searches use by default: the version in force today, or, for a document that
        has not taken effect yet (a law promulgated with a later 시행일자), its first version."""
        ordered = self.ordered()
        return self.in_force(today or date.today()) or (ordered[0] if ordered else None)

    def status(self, version: DocumentVersion, today: date | None = None) -> str:
        """current, superseded (an older version), or upcoming (takes effect later)."""
        current = self.current(today)
        if current and version.key == current.key:
            return "current"
        if (version.valid_from or date.min) > (today or date.today()):
            return "upcoming"
        return "superseded"


def record_point_id(doc_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"registry:{doc_id}"))


def record_payload(record: DocumentRecord) -> dict[str, Any]:
    return {"record": RECORD, "document": record.model_dump(mode="json")}


def load_documents(index: Index) -> dict[str, DocumentRecord]:
    return {
        r.doc_id: r
        for r in (DocumentRecord.model_validate(p["document"]) for p in index.scroll(records=True))
    }


def select_versions(records: Iterable[DocumentRecord], as_of: date | None = None) -> list[str]:
    """Version keys to search: each document's current version, or the one in force on `as_of`."""
    chosen = (r.in_force(as_of) if as_of else r.current() for r in records)
    return sorted(v.key for v in chosen if v is not None)


def orphan_versions(found: Iterable[str], records: Mapping[str, DocumentRecord]) -> set[str]:
    """Version keys present in the index that no record lists (left by an interrupted run)."""
    listed = {v.key for r in records.values() for v in r.versions}
    return {key for key in found if key not in listed}


def describe(record: DocumentRecord, today: date | None = None) -> dict[str, Any]:
    """A record with each version's status and validity, as the CLI and the API show it."""
    current = record.current(today)
    return {
        **record.model_dump(mode="json", exclude={"versions"}),
        "current": current.label if current else None,
        "versions": [
            {
                **v.model_dump(mode="json"),
                "status": record.status(v, today),
                "valid_to": (end.isoformat() if (end := record.valid_to(v)) else None),
            }
            for v in record.ordered()
        ],
    }

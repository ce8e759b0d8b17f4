"""Audit records: one per question (search, ask) and per write, when `KMED_ANSWER__AUDIT_LOG`.

Records go to the `kmed.audit` logger at INFO with their fields under `audit`; the entry point's
logging configuration writes them (JSON lines carry the request id). A question is recorded
only as redacted, and a key only by its name.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

log = logging.getLogger("kmed.audit")


def record(event: str, who: str, **fields: Any) -> None:
    """One audit record; the caller checks that the audit log is on."""
    log.info("%s by %s", event, who, extra={"audit": {"event": event, "key": who, **fields}})


def audit(request: Request, event: str, **fields: Any) -> None:
    if request.app.state.settings.answer.audit_log:
        record(event, getattr(request.state, "key_name", None) or "anonymous", **fields)

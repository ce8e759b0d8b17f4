"""Logging, configured once per process by the entry point (`kmed serve`, every other command).

Records go to stderr or to `KMED_SERVER__LOG_FILE`, as JSON lines by default: time, level,
logger, message, the request id of the HTTP request being served, and, on audit records
(`kmed.audit`), the audit fields. Exception messages may quote what a client sent, so a
traceback is logged with its frames and exception type, and with its message only for the
project's own errors (`KmedError`), whose messages we write.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType

from retrieval.errors import KmedError
from retrieval.settings import ServerSettings
from service.middleware import request_id

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _exception(exc_info: tuple[type[BaseException], BaseException, TracebackType | None]) -> str:
    kind, exc, tb = exc_info
    frames = "".join(traceback.format_tb(tb))
    said = f": {exc}" if isinstance(exc, KmedError) else " (message not logged: it may quote a request)"
    return f"Traceback (most recent call last):\n{frames}{kind.__module__}.{kind.__qualname__}{said}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = _exception(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = request_id.get()
        exc_info, record.exc_info, record.exc_text = record.exc_info, None, None
        try:
            text = super().format(record)
        finally:
            record.exc_info = exc_info
        if exc_info and exc_info[0] is not None:
            text += "\n" + _exception(exc_info)  # type: ignore[arg-type]
        return text


class StripQuery(logging.Filter):
    """uvicorn's access lines without query values: `GET /v1/search?q=…` carries the question."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            path, _, query = args[2].partition("?")
            names = "&".join(f"{part.split('=', 1)[0]}=…" for part in query.split("&") if part)
            record.args = (*args[:2], f"{path}?{names}", *args[3:])
        return True


def configure_logging(settings: ServerSettings, *, level: str | None = None) -> None:
    """One handler on the root logger; uvicorn's loggers propagate to it."""
    handler: logging.Handler
    if settings.log_file:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(settings.log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level or settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, StripQuery) for f in access.filters):
        access.addFilter(StripQuery())
    for noisy in (
        "httpx",
        "httpcore",
        "urllib3",
        "mcp",
    ):  # request lines (URLs with questions), MCP per-call lines
        logging.getLogger(noisy).setLevel(logging.WARNING)

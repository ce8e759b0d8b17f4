"""Model files of our own (the learned reranker, the answerability model): JSON with a format
name, written and read in one place so both refuse a wrong or unreadable file alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retrieval.errors import ConfigurationError


def write_model(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")


def read_model(path: Path, *, format: str, what: str, missing: str) -> dict[str, Any]:
    """The file's JSON object; `ConfigurationError` (saying what to do) when it is missing,
    unreadable or of another format. `missing` is the advice for a missing file."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"no {what} at {path}: {missing}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"cannot read the {what} {path}: {exc}") from exc
    if not isinstance(body, dict) or body.get("format") != format:
        raise ConfigurationError(f"{path} is not a kmed {what} file")
    return body

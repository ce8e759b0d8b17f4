"""`kmed reindex` as an operator runs it, on qdrant-client's local mode (the server code path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient
from typer.testing import CliRunner

from kmed.cli import app
from retrieval.index.aliases import alias_target
from tests.service.conftest import DATA


def test_reindex_builds_behind_the_alias_and_refuses_the_embedded_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KMED_DATA_DIR", str(tmp_path / "data"))
    refused = CliRunner().invoke(app, ["reindex", str(DATA / "statute_sample.md")])
    assert refused.exit_code == 2 and "KMED_QDRANT_URL" in refused.output
    monkeypatch.setenv("KMED_QDRANT_URL", str(tmp_path / "qdrant"))
    done = CliRunner().invoke(app, ["reindex", str(DATA / "statute_sample.md")])
    assert done.exit_code == 0, done.output
    assert "alias kmed → kmed-" in done.output and "before: none" in done.output
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    target = alias_target(client, "kmed")
    assert target and target in done.output and client.count(target).count > 0
    client.close()

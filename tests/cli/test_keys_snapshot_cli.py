"""`kmed keys new` and `kmed snapshot create|restore` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from kmed.cli import app
from retrieval.index import EdgeIndex
from retrieval.settings import load_settings
from retrieval.writes import remove_document
from service.auth import key_hash
from tests.data.guideline_pdf import make_guideline_pdf
from tests.indexing import index_files
from tests.service.conftest import DATA


def test_keys_new_prints_a_key_and_the_entry_that_stores_its_hash() -> None:
    result = CliRunner().invoke(app, ["keys", "new", "--name", "ward7", "--role", "ingest"])
    assert result.exit_code == 0, result.output
    key = re.search(r"kmed_[\w-]+", result.output)
    entry = json.loads(result.output.split("KMED_API_KEYS entry: ", 1)[1])
    assert key and entry == {"name": "ward7", "hash": key_hash(key.group()), "role": "ingest"}
    assert CliRunner().invoke(app, ["keys", "new", "--name", "x", "--role", "root"]).exit_code == 2


def test_snapshot_create_and_restore_through_the_cli(tmp_path: Path) -> None:
    settings = index_files(
        load_settings(data_dir=tmp_path / "data"),
        [DATA / "statute_sample.md", make_guideline_pdf(tmp_path / "f.pdf")],
    )
    data = ["--data-dir", str(settings.data_dir)]
    made = CliRunner().invoke(app, ["snapshot", "create", str(tmp_path / "b.tar"), *data])
    assert made.exit_code == 0 and "points in" in made.output, made.output
    shard = EdgeIndex(settings.data_dir / "index" / settings.index.collection)
    before = shard.count()
    try:
        held = CliRunner().invoke(app, ["snapshot", "restore", str(tmp_path / "b.tar"), *data])
        assert held.exit_code == 3 and "held by a running service" in held.output
        remove_document(shard, "g-f")
    finally:
        shard.close()
    restored = CliRunner().invoke(app, ["snapshot", "restore", str(tmp_path / "b.tar"), *data])
    assert restored.exit_code == 0 and f"restored {before} points" in restored.output, restored.output

"""`kmed ingest` on guideline PDFs with their metadata options, and `kmed documents`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kmed.cli import app
from tests.data.guideline_pdf import make_guideline_pdf

DATA = Path(__file__).resolve().parent.parent / "data"
runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docs")


@pytest.fixture(scope="module")
def data_dir(folder: Path) -> Path:
    pdf = make_guideline_pdf(folder / "fever.pdf")
    path = folder / "data"
    result = runner.invoke(
        app,
        [
            "ingest",
            str(pdf),
            str(DATA / "statute_sample.md"),
            "--issuer",
            "한빛소아과학회",
            "--effective",
            "2024-03-01",
            "--data-dir",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fever.pdf" in result.output and "2 ok, 0 failed" in result.output
    return path


def test_metadata_options_are_checked(folder: Path) -> None:
    pdf = make_guideline_pdf(folder / "other.pdf")
    bad_date = runner.invoke(app, ["ingest", str(pdf), "--effective", "next spring"])
    assert bad_date.exit_code == 2 and "--effective" in bad_date.output
    statute = runner.invoke(app, ["ingest", str(DATA / "statute_sample.md"), "--title", "x"])
    assert statute.exit_code == 2 and "guideline PDFs" in statute.output
    two = runner.invoke(app, ["ingest", str(pdf), str(folder / "fever.pdf"), "--doc-id", "x"])
    assert two.exit_code == 2 and "one PDF" in two.output


def test_documents_list_and_show(data_dir: Path) -> None:
    listed = runner.invoke(app, ["documents", "list", "--json", "--data-dir", str(data_dir)])
    assert listed.exit_code == 0, listed.output
    docs = {d["doc_id"]: d for d in json.loads(listed.stdout)}
    assert set(docs) == {"g-fever", "law-990001"}
    assert docs["g-fever"]["issuer"] == "한빛소아과학회" and docs["g-fever"]["current"] == "2024"
    shown = runner.invoke(app, ["documents", "show", "g-fever", "--data-dir", str(data_dir)])
    assert shown.exit_code == 0 and "current" in shown.output and "2024-03-01" in shown.output
    missing = runner.invoke(app, ["documents", "show", "g-nope", "--data-dir", str(data_dir)])
    assert missing.exit_code == 2 and "kmed documents list" in missing.output


def test_documents_remove(data_dir: Path) -> None:
    refused = runner.invoke(app, ["documents", "remove", "g-fever", "--data-dir", str(data_dir)], input="n\n")
    assert refused.exit_code == 1  # not confirmed: nothing removed
    removed = runner.invoke(app, ["documents", "remove", "g-fever", "--yes", "--data-dir", str(data_dir)])
    assert removed.exit_code == 0 and "removed g-fever" in removed.output
    listed = runner.invoke(app, ["documents", "list", "--json", "--data-dir", str(data_dir)])
    assert [d["doc_id"] for d in json.loads(listed.stdout)] == ["law-990001"]
    again = runner.invoke(app, ["documents", "remove", "g-fever", "--yes", "--data-dir", str(data_dir)])
    assert again.exit_code == 2 and "no document" in again.output

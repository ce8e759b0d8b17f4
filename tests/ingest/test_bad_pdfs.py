"""The generated bad-PDF corpus has exactly the defects it claims, and ingestion refuses each
with one clear line while the batch goes on."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from ingest.pipeline import ingest_paths
from retrieval.registry import load_documents
from retrieval.runtime import build_encoder, open_for_writing
from retrieval.settings import PdfSettings, load_settings
from tests.data.bad_pdfs import KINDS, make_bad_pdfs
from tests.data.guideline_pdf import make_guideline_pdf
from tests.fakes import CountingEmbedder


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_bad_pdfs(tmp_path_factory.mktemp("bad"), huge_pages=300)


def test_every_kind_is_written(bad: dict[str, Path]) -> None:
    assert set(bad) == set(KINDS) and all(p.suffix == ".pdf" and p.stat().st_size for p in bad.values())


def test_defects_are_what_they_say(bad: dict[str, Path]) -> None:
    with pytest.raises(pymupdf.FileDataError):
        pymupdf.open(bad["not_a_pdf"], filetype="pdf")
    with pymupdf.open(bad["encrypted"]) as doc:
        assert doc.needs_pass
    with pymupdf.open(bad["zero_pages"]) as doc:
        assert doc.page_count == 0
    with pymupdf.open(bad["image_only"]) as doc:
        assert doc.page_count == 1 and not doc[0].get_text().strip() and doc[0].get_images()
    with pymupdf.open(bad["huge"]) as doc:
        assert doc.page_count == 300 and "Sample guideline page 300" in doc[-1].get_text()


@pytest.mark.parametrize("kind", ["corrupt", "truncated"])
def test_damaged_files_lose_their_text(bad: dict[str, Path], kind: str) -> None:
    """MuPDF repairs what it can; what it cannot read must not look like a good document."""
    try:
        with pymupdf.open(bad[kind]) as doc:
            text = "".join(page.get_text() for page in doc)
    except (pymupdf.FileDataError, RuntimeError):
        return
    assert "Sample guideline page 1" not in text


EXPECTED = {
    "corrupt": "damaged (truncated or corrupt)",
    "truncated": "damaged (truncated or corrupt)",
    "encrypted": "password-protected",
    "zero_pages": "has no pages",
    "image_only": "OCR is off; set KMED_PDF__OCR=auto",
    "huge": "more than the limit of 100 (KMED_PDF__MAX_PAGES)",
    "not_a_pdf": "not a PDF file (no PDF header)",
}


def test_each_bad_file_fails_alone_with_one_clear_line(bad: dict[str, Path], tmp_path: Path) -> None:
    """The batch goes on past every bad file, and what was indexed before is untouched."""
    settings = load_settings(data_dir=tmp_path / "data")
    embedder, encoder = CountingEmbedder(), build_encoder(settings)
    index = open_for_writing(settings, embedder)
    ingest_paths(
        [make_guideline_pdf(tmp_path / "fever.pdf")], index=index, embedder=embedder, encoder=encoder
    )
    before = (index.count(), load_documents(index))
    good = Path(__file__).resolve().parent.parent / "data" / "statute_sample.md"
    report = ingest_paths(
        [*bad.values(), good],
        index=index,
        embedder=embedder,
        encoder=encoder,
        pdf=PdfSettings(ocr="off", max_pages=100),
    )
    failed = {r.path.stem: r.error for r in report.failed}
    assert set(failed) == set(KINDS)
    for kind, message in failed.items():
        assert EXPECTED[kind] in message and str(bad[kind]) in message and "\n" not in message, kind
    assert [r.status for r in report.files if r.path == good] == ["new"]
    records = load_documents(index)
    assert records["g-fever"] == before[1]["g-fever"]
    assert index.count() == before[0] + sum(
        r.clauses + r.supplementary for r in report.files if r.path == good
    )
    index.close()


@pytest.mark.parametrize(
    "name, payload",
    [
        ("nested.json", "[" * 100_000 + "]" * 100_000),
        ("nested.xml", "<법령>" + "<조문>" * 100_000 + "</조문>" * 100_000 + "</법령>"),
    ],
)
def test_any_exception_of_one_file_is_that_files_error(name: str, payload: str, tmp_path: Path) -> None:
    """A file that makes a parser recurse too deep (or fail in any other way) is one error line."""
    settings = load_settings(data_dir=tmp_path / "data")
    embedder, encoder = CountingEmbedder(), build_encoder(settings)
    index = open_for_writing(settings, embedder)
    hostile = tmp_path / name
    hostile.write_text(payload, "utf-8")
    good = Path(__file__).resolve().parent.parent / "data" / "statute_sample.md"
    report = ingest_paths([hostile, good], index=index, embedder=embedder, encoder=encoder)
    index.close()
    (failed,) = report.failed
    assert failed.path == hostile and name in failed.error and "\n" not in failed.error
    assert [r.status for r in report.files if r.path == good] == ["new"]

"""The generated bad-PDF corpus has exactly the defects it claims (checked with PyMuPDF)."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from tests.data.bad_pdfs import KINDS, make_bad_pdfs


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

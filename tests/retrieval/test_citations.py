"""Citation labels, clause ids and point ids: spelled one way in every layer."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

import pytest

from retrieval.citations import (
    article_label,
    clause_id,
    clause_label,
    inline_label,
    item_label,
    law_go_kr_url,
    law_key,
    paragraph_label,
    point_id,
)


def test_labels() -> None:
    assert article_label(22) == "제22조"
    assert article_label(11, 2) == "제11조의2"
    assert paragraph_label(2) == "제2항"
    assert item_label(3) == "제3호"
    assert item_label(3, 2) == "제3호의2"


def test_clause_label_has_no_space_inside_the_reference() -> None:
    assert clause_label("의료법 시행규칙", "제11조의2", "제2항") == "의료법 시행규칙 제11조의2제2항"
    assert clause_label("의료법", "제22조", "제1항", "제3호") == "의료법 제22조제1항제3호"
    assert clause_label("의료법", "제22조") == "의료법 제22조"
    assert inline_label("간호법", "제12조", "제2항") == "「간호법」 제12조제2항"
    assert inline_label("간호법", "제12조") == "「간호법」 제12조"


def test_law_key() -> None:
    assert law_key("007863", "의료법 시행규칙") == "007863"
    assert law_key(" '007863 ", "의료법 시행규칙") == "007863"  # 법령ID as spreadsheets quote it
    by_title = law_key(None, "의료법 시행규칙")
    assert by_title == law_key(None, "의료법시행규칙")  # spacing of the title does not matter
    assert by_title != law_key(None, "의료법 시행령")
    assert by_title.startswith("t") and len(by_title) == 11 and by_title.isascii()


def test_clause_id() -> None:
    assert clause_id("007863", "제11조의2", "제2항") == "s-007863-a11-2-p2"
    assert clause_id("007863", "제22조", "제1항") == "s-007863-a22-p1"
    assert clause_id("007863", "제22조") == "s-007863-a22"
    assert clause_id("007863", "제1조", supplementary="2020.3.4 제17069호") == "s-007863-sup20203417069-a1"
    assert clause_id("007863", "제1조", "제1항") != clause_id(
        "007863", "제1조", "제1항", supplementary="20200304"
    )


@pytest.mark.parametrize(
    ("article", "paragraph"), [("22조", None), ("제22조", "1항"), ("부칙", None), ("제22조", "제1호x")]
)
def test_clause_id_refuses_what_is_not_a_label(article: str, paragraph: str | None) -> None:
    with pytest.raises(ValueError, match="not a statute label"):
        clause_id("007863", article, paragraph)


def test_point_id_is_a_deterministic_uuid() -> None:
    first = point_id("s-007863-a11-2-p2")
    assert first == point_id("s-007863-a11-2-p2")
    assert first != point_id("s-007863-a11-2-p1")
    parsed = uuid.UUID(first)
    assert parsed.version == 5 and str(parsed) == first


def test_law_go_kr_url_encodes_korean() -> None:
    url = law_go_kr_url("의료법 시행규칙", "제11조의2")
    assert url.isascii()
    assert url.startswith("https://www.law.go.kr/%EB%B2%95%EB%A0%B9/")
    assert unquote(url) == "https://www.law.go.kr/법령/의료법시행규칙/제11조의2"
    assert unquote(law_go_kr_url("의료법")) == "https://www.law.go.kr/법령/의료법"

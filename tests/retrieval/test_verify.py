"""Sentence splitting for verification: keys stay with their sentence, numbers and item labels
do not end one."""

from __future__ import annotations

from retrieval.verify import clause_spans, split_sentences


def test_keys_after_the_full_stop_stay_with_their_sentence() -> None:
    assert split_sentences("1년간 보관해야 한다. [1] 전공의는 면제된다[2].") == [
        "1년간 보관해야 한다. [1]",
        "전공의는 면제된다[2].",
    ]


def test_decimals_and_item_labels_do_not_end_a_sentence() -> None:
    assert split_sentences("38.5℃ 이상이면 투여한다 [1].") == ["38.5℃ 이상이면 투여한다 [1]."]
    assert clause_spans("다음 각 호와 같다.\n1. 진료기록부: 10년\n가. 의사") == [
        "다음 각 호와 같다.",
        "1. 진료기록부: 10년",
        "가. 의사",
    ]

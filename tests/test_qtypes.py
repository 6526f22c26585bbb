"""What a question asks for (rag.answer.qtypes): the question word that asks decides.

A "when" inside a question that another question word opens is a clause ("What is the
limit for a room when the host is away?" asks for a limit), not the question; it still
asks at the start, after "and"/"or"/a comma or "by", and in an indirect question.
"""

from __future__ import annotations

import pytest

from rag.answer.qtypes import asks_money, question_type
from rag.answer.qualifiers import pick_value


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What is the limit for a Class A room when the host is away?", "other"),
        ("What happened when the bridge closed?", "other"),
        ("How quickly will a nurse see me when I arrive?", "other"),
        ("Who cut the ribbon when the terminal opened?", "person"),
        ("Which firm built the quay when the old one flooded?", "org"),
        ("When was the dam finished?", "date"),
        ("And when did he arrive?", "date"),
        ("What will the figure reach, and by when?", "date"),
        ("Do you know when the bridge reopens?", "date"),
        ("What time does the last ferry leave?", "date"),
    ],
)
def test_the_asking_word_decides(question: str, kind: str) -> None:
    assert question_type(question) == kind


@pytest.mark.parametrize(
    ("question", "money"),
    [
        ("What did the Society pay for the island?", True),
        ("What does the service cost?", True),
        ("What will the bridge cost the council?", True),
        ("What is the fee for a licence?", True),
        ("How much money was raised?", True),
        ("What did they pay for?", False),  # asks what was bought
        ("What did the pay rise cover?", False),  # "pay" is a noun here
        ("How much notice must I give?", False),
    ],
)
def test_a_question_asking_for_money(question: str, money: bool) -> None:
    """A paying or costing verb asks for an amount ("What did X pay for Y?"), which a
    number question answers with money first (rag.answer.qualifiers.pick_value)."""
    assert asks_money(question) is money
    if money:
        assert question_type(question) == "number"


def test_money_asked_leads_with_the_money_not_the_percentage() -> None:
    sentence = (
        "The Band D council tax for the town will rise by 2.9 percent, to 214.60 euros a year."
    )
    value = pick_value("number", "What will a Band D household pay in council tax?", sentence)
    assert value is not None and value.text == "214.60 euros"
    rate = pick_value("number", "By how much will the Band D council tax rise?", sentence)
    assert rate is not None and rate.text == "2.9 percent"  # no money asked: the rise


def test_an_instruction_to_give_the_year_asks_for_a_date() -> None:
    assert question_type("How old is the oldest item in the archive? Give the year.") == "date"
    assert question_type("How old is the oldest item in the archive?") == "measure"


def test_how_big_is_an_area_or_a_volume_not_a_distance() -> None:
    from rag.answer.extractive import _typed

    far = "Tarrach lies 38 kilometres north-west of Port Ardel."
    area = "It covers 14.2 square kilometres and is about 6.1 kilometres long."
    assert _typed("measure", "How big is Tarrach?", far, ()) < 0.6  # demoted below a size
    assert _typed("measure", "How big is Tarrach?", area, ()) == 1.0
    assert _typed("measure", "How far is Tarrach from Port Ardel?", far, ()) == 1.0

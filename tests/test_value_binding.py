"""Which value of a sentence a factoid states first (issue 15).

- A currency word is a whole word: "7 centres" is no amount of "7 cent" (the money
  pattern's word boundary applied to its last alternative only, so the answer began
  "7 cent —").
- A value is bound to the year its clause names: "How many centres did it have at the
  start of 2025?" over "At the start of 2026 it has 7 centres, up from 5 at the start of
  2025" states 5, not the 7 that sits next to the counted noun.
"""

from __future__ import annotations

from rag.answer.qtypes import count_focus
from rag.answer.qualifiers import pick_value
from rag.answer.spans import value_spans

CENTRES = (
    "At the start of 2026 it has 7 centres, up from 5 at the start of 2025: two towns "
    "joined in the 2025 season."
)


def test_a_currency_word_is_a_whole_word() -> None:
    kinds = {v.text: v.kind for v in value_spans(CENTRES)}
    assert "money" not in kinds.values(), kinds
    money = [
        v.text for v in value_spans("It costs 7 cents, 20 euros or 5 EUR.") if v.kind == "money"
    ]
    assert money == ["7 cents", "20 euros", "5 EUR"]


def test_the_value_in_the_asked_years_clause_is_picked() -> None:
    q = "How many authorised centres did the firm have at the start of 2025?"
    value = pick_value("number", q, CENTRES, count_focus(q))
    assert value is not None and value.text.startswith("5"), value
    q2 = "How many authorised centres does the firm have at the start of 2026?"
    value2 = pick_value("number", q2, CENTRES, count_focus(q2))
    assert value2 is not None and value2.text.startswith("7"), value2


def test_a_sentence_with_the_asked_year_alone_binds_nothing() -> None:
    """The year binding compares years: "In the first nine months of 2025, 4,820 trucks
    were cleared" names only the asked year, so the duration in its clause is no answer."""
    q = "How many trucks were cleared in the first nine months of 2025?"
    s = "In the first nine months of 2025, the gate cleared 4,820 trucks of durian."
    value = pick_value("number", q, s, count_focus(q))
    assert value is not None and value.text.startswith("4,820"), value

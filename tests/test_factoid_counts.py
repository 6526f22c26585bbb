"""One count or several (issue 15): "How many cases of organising illegal entry and exit
were prosecuted?" asks for one count, whose counted thing is about two things; it was
read as two counts ("how many talks and meetings"), so the answer gave no value first
and quoted the whole 60-word sentence with every count in it.
"""

from __future__ import annotations

from rag.answer.draft import shorten
from rag.answer.factoid import value_first
from rag.answer.qtypes import several_counts

CASES = (
    "During the year, the Tarn Valley Border Guard and its partners handled 221 border "
    "crime cases involving 1,182 people, prosecuted 49 cases with 94 suspects for "
    "organising illegal entry and exit, and dealt with 30 cases involving 35 suspects for "
    "illegal transport of fireworks, as well as 65 cases involving 70 suspects for "
    "smuggling goods across border gates."
)


def test_an_and_inside_the_counted_things_modifier_asks_one_count() -> None:
    assert not several_counts(
        "How many cases of organising illegal entry and exit were prosecuted?"
    )
    assert several_counts("How many talks and face-to-face meetings did the two forces hold?")
    assert several_counts("How many Class B and Class C licences were issued?")
    assert not several_counts("What is the population of the town?")


def test_one_count_is_answered_value_first_and_short() -> None:
    q = "How many cases of organising illegal entry and exit were prosecuted?"
    lead = value_first(CASES, q)
    assert lead is not None and lead.startswith("49 cases — "), lead
    assert "30 cases" not in shorten(CASES, q)
    # two counts asked: each stays in the answer
    both = shorten(CASES, "How many cases and suspects of fireworks transport were there?")
    assert "30 cases" in both and "35 suspects" in both


def test_a_date_beside_the_counted_thing_is_no_count() -> None:
    """ "January 2026 thousands of our customers": the year stands before the counted
    thing but counts nothing; the sentence with "4,390 customers" holds the count."""
    from rag.answer.qtypes import count_focus
    from rag.answer.typed import _type_match

    q = "How many customers were hit by the January outage in total?"
    focus = count_focus(q)
    dated = (
        "Between Saturday 17 and Monday 19 January 2026 thousands of our customers on the "
        "coast lost their broadband, some of them for almost three days."
    )
    assert _type_match("number", q, dated, focus) < 1.0
    assert _type_match("number", q, "In all, 4,390 customers were affected.", focus) == 1.0
    # a thousands comma makes no year: "1,500 mm of free space" is a measure near its noun
    q2 = "How many millimetres of free space are needed in front of the fan?"
    assert _type_match("number", q2, "Leave 1,500 mm of free space.", count_focus(q2)) == 1.0

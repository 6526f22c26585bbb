"""One count or several (issue 15): "How many cases of organising illegal entry and exit
were prosecuted?" asks for one count, whose counted thing is about two things; it was
read as two counts ("how many talks and meetings"), so the answer gave no value first
and quoted the whole 60-word sentence with every count in it.
"""

from __future__ import annotations

from rag.answer.extractive import shorten, value_first
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

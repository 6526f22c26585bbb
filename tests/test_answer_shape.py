"""The shape of extractive factoid answers (issue 15): the asked value first, whole, and no
padding.

- A value that ends in an abbreviation's full stop ("6.40 a.m.") used to be split off its
  claim by verification and dropped ("— The first ferry leaves Orran at 6.40 a.m [1]").
- A who-question answered by a sentence that names the person was padded with another
  sentence that only adds a topic word of the question ("Kessock" from the document's
  title), while a second sentence that holds another value next to the asked term the
  best one lacks is still given (it may be the right one).
- "OK" in a question is a plain word, not a name the answer must be about.

The helpers are checked on plain strings, then the assistant over a real index of a
document written here.
"""

from __future__ import annotations

import pytest

from rag.answer.candidates import Scored
from rag.answer.citations import _with_markers, ends_with_abbreviation, split_claims
from rag.answer.draft import _cite
from rag.answer.extractive import ExtractiveBackend, _holds_value
from rag.answer.factoid import value_first
from rag.answer.spans import asked_names
from rag.config import Config
from rag.types import Chunk
from tests.conftest import assistant_over

TIMETABLE = (
    "Kessock harbour ferries\n\n"
    "The island of Orran is served by a daily ferry from the mainland port of Kessock. "
    "The first ferry leaves Orran at 6.40 a.m. and the crossing takes forty minutes. "
    "On Sundays the ferry sails only in the afternoon, from 1 p.m. to 6 p.m. "
    "The last ferry of the day returns from Kessock at 9.15 p.m.\n\n"
    "The harbour master, Captain Ines Farrow, said the timetable would not change this "
    "year. The Kessock Sailing Club has 90 members, of whom 25 race every weekend.\n\n"
    "Tickets can be bought on board or at the harbour office. A return ticket costs 14 "
    "pounds. It is OK to bring a bicycle on board at no charge.\n"
)


def test_an_abbreviation_ending_a_value_stays_in_its_claim() -> None:
    draft = "6.40 a.m. — The first ferry leaves Orran at 6.40 a.m. [1]"
    claims = split_claims(draft)
    assert len(claims) == 1, claims
    assert claims[0].text.startswith("6.40 a.m. — The first ferry")
    assert claims[0].markers == [1]
    # a dash inside a sentence that really ends stays a separate claim's start only
    # when no dash opens it: two plain sentences are still two claims
    assert len(split_claims("It opened in 2024 [1]. It closed in 2025 [2].")) == 2


def test_the_marker_goes_after_a_closing_abbreviation() -> None:
    assert ends_with_abbreviation("It leaves at 9.15 p.m.")
    assert ends_with_abbreviation("It is sold in the U.S.")
    assert not ends_with_abbreviation("It leaves at 9.15.")
    assert not ends_with_abbreviation("The crossing takes forty minutes.")
    assert _with_markers("It leaves at 9.15 p.m.", [1]) == "It leaves at 9.15 p.m. [1]"
    assert _cite("It leaves at 9.15 p.m.", 2) == "It leaves at 9.15 p.m. [2]"
    assert _with_markers("It takes forty minutes.", [1]) == "It takes forty minutes [1]."


def test_a_value_first_quote_goes_on_past_an_abbreviation() -> None:
    sentence = "Free classes run on Tuesday evenings from 6.30 p.m. to 8.30 p.m. in the hall."
    out = value_first(sentence, "When do the free classes take place?")
    assert out is not None
    assert "to 8.30 p.m." in out, out  # the quote did not stop at "6.30 p.m."


def test_a_second_sentence_must_hold_a_value_bound_to_what_the_best_one_lacks() -> None:
    q = "How many licences were revoked in 2025?"
    # another count, in the clause that holds the asked term the best sentence lacks
    assert _holds_value(q, "Eleven licences received three strikes and were revoked.", {"revok"})
    # a count, but not with that term
    assert not _holds_value(q, "The office issued 1,412 licences.", {"revok"})
    who = "Who cut the ribbon at the new ferry terminal?"
    padding = (
        "Deputy Mayor Colin Brask, who chaired the committee, thanked the dock workers "
        "who kept the old ferry service running."
    )
    assert not _holds_value(who, padding, {"ferry"})  # the name is in another clause
    assert _holds_value(who, "The ferry terminal was opened by Helen Ostrander.", {"ferry"})


def test_plain_words_in_capitals_are_not_asked_names() -> None:
    assert asked_names("Is it OK to clean the fins with a pressure washer?") == set()
    assert "safe" not in asked_names("Is it SAFE to use NATO rules?")
    # acronyms and codes still are
    assert asked_names("Is the HX-40 sold in the EU?") >= {"hx", "40", "eu"}
    assert "bmw" in asked_names("Does BMW make the pump?")
    assert "nato" in asked_names("Is it SAFE to use NATO rules?")


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    """An assistant over the timetable above (its own index, the fitted model)."""
    return assistant_over(tmp_path_factory.mktemp("shape"), {"timetable.txt": TIMETABLE})


def test_a_time_ending_in_a_m_leads_the_answer(bot) -> None:
    ans = bot.ask("When does the first ferry leave Orran?")
    assert not ans.abstained, ans.answer
    assert ans.answer.startswith("6.40 a.m."), ans.answer
    assert "a.m [" not in ans.answer
    ans = bot.ask("When does the last ferry return from Kessock?")
    assert not ans.abstained, ans.answer
    assert "9.15 p.m." in ans.answer.split("—")[0], ans.answer
    assert ans.answer.rstrip().endswith("p.m. [1]"), ans.answer


def _scored(doc: str, title: str, sentence: str, score: float) -> Scored:
    """A ranked candidate sentence as :meth:`ExtractiveBackend._ranked` gives it."""
    chunk = Chunk(f"{doc}@{len(sentence)}", doc, f"{doc}.txt", title, 0, len(sentence), sentence)
    return Scored(chunk, score, score, 0.5, 1.0, 1)


def test_a_who_answer_is_not_padded_with_a_topic_word() -> None:
    """hn010's shape: the best sentence names the harbour master; the next one only adds
    "Aldwick", which the best sentence's document title names."""
    backend = ExtractiveBackend(None, Config())  # choosing embeds nothing
    q = "Who is Port Aldwick's harbour master?"
    best = _scored(
        "terminal",
        "Port Aldwick opens its new ferry terminal",
        "The harbour master, Captain Ruth Iveson, said the flood defences were designed "
        "for a higher sea level.",
        0.80,
    )
    pad = _scored(
        "quota",
        "Fishermen win a larger quota",
        "The Aldwick Fishermen's Cooperative has 46 boats.",
        0.72,
    )
    assert backend._choose(q, [best, pad]) == [best]
    # the same question word, not covered by the title, and held by another value: given
    q2 = "How many boats were sold in 2025?"
    best2 = _scored("fleet", "The fleet", "The cooperative had 46 boats in 2025.", 0.80)
    other = _scored("fleet2", "The fleet", "Nine boats were sold in 2025.", 0.75)
    assert backend._choose(q2, [best2, other]) == [best2, other]

"""A second sentence is quoted with the best one only when it adds asked content
(issue 15): for what/which/why/yes-no questions, ``ExtractiveBackend._choose`` used to
add up to three sentences that scored within 0.12 of the best one and held any question
term the best one lacked, so an answer that its first sentence already gave grew to
three long sentences (the seeds' "Which two border gates ..." answer was 4 KB of JSON).

Now the added terms must not be in the best sentence (stem slips too: "dredges" and
"dredging"), its heading or its title, and they must be the noun the question asks for,
one of its names or codes, two or more terms of weight, or one term of a sentence
scoring nearly as well that keeps the question's names. The candidates are real
:class:`Scored` records; choosing embeds nothing.
"""

from __future__ import annotations

from rag.answer.candidates import Scored
from rag.answer.extractive import ExtractiveBackend
from rag.config import Config
from rag.types import Chunk


def _cand(doc: str, title: str, sentence: str, score: float, start: int = 0) -> Scored:
    """A ranked candidate of an open question (typed 0.5: no value type asked)."""
    chunk = Chunk(
        f"{doc}@{start}", doc, f"{doc}.txt", title, start, start + len(sentence), sentence
    )
    return Scored(chunk, score, score, 0.5, 0.5, 1)


def _choose(question: str, *cands: Scored) -> list[str]:
    """The texts :meth:`ExtractiveBackend._choose` quotes, in its order."""
    backend = ExtractiveBackend(None, Config())
    return [s.chunk.text for s in backend._choose(question, list(cands))]


TITLE = "Border guards of Rhoswen and Calder review their year"
GATES = (
    "He urged upgrading the Tarn Pass gate to an international one and officially "
    "opening the Kell Ford gate."
)
SPEAKER = (
    "Colonel Ann Roe, Commander of the Rhoswen Border Guard, said the border had stayed "
    "calm all year."
)


def test_a_sentence_adding_only_who_spoke_does_not_pad_the_answer() -> None:
    """The seeds' q41 shape: the best sentence names both gates; the next one adds only
    "commander" (its other asked words are in the document's title)."""
    q = "Which two border gates did the Rhoswen border guard commander want upgraded or opened?"
    best = _cand("talks", TITLE, GATES, 0.51, 900)
    speaker = _cand("talks", TITLE, SPEAKER, 0.42, 300)
    assert _choose(q, best, speaker) == [GATES]


def test_the_sentence_holding_the_asked_answer_is_still_added() -> None:
    """The seeds' q15 shape: the best sentence names the colonel; the one that names the
    gate to upgrade adds three asked terms."""
    q = "Which border gate did Colonel Ann Roe want upgraded to international status?"
    best = _cand("talks", TITLE, SPEAKER, 0.51, 300)
    gates = _cand("talks", TITLE, GATES, 0.44, 900)
    assert _choose(q, best, gates) == [SPEAKER, GATES]


def test_the_asked_noun_and_an_asked_code_make_a_second_sentence() -> None:
    curve = "The heating curve sets the flow temperature according to the outdoor temperature."
    menu = "Finally, set the heating curve (menu 3.2) and record the date on the card."
    q = "Which menu sets the heating curve?"
    got = _choose(
        q, _cand("manual", "Manual", curve, 0.64), _cand("manual", "Manual", menu, 0.52, 400)
    )
    assert got == [curve, menu]
    b = "A dwelling let under a Class B licence may be let for no more than 90 nights a year."
    c = "A dwelling let under a Class C licence may be let for no more than 60 nights a year."
    q = "What is the night cap for Class B and for Class C?"
    got = _choose(q, _cand("rules", "Rules", b, 0.60), _cand("rules", "Rules", c, 0.50, 200))
    assert got == [b, c]


def test_a_stem_slip_is_no_new_term() -> None:
    """hn028: "dredge" of the question is in the best sentence's "Dredging" (stemmed
    "dredg"); the sentence about dredges with wider rings adds nothing asked."""
    best = "Dredging remains banned within two nautical miles of the shore."
    other = "Skippers have used dredges with wider rings since January 2024."
    q = "Are boats allowed to dredge close to the shore?"
    got = _choose(q, _cand("quota", "Quota", best, 0.47), _cand("quota", "Quota", other, 0.40, 300))
    assert got == [best]


def test_one_term_of_a_sentence_about_another_code_pads() -> None:
    """hp050: "W02 ... means ..." adds only "mean" to the sentence that explains E01."""
    best = "E01 – Low water flow. The flow sensor measures less than 12 litres per minute."
    other = "W02, for example, means that the service is due."
    got = _choose(
        "what does E01 mean",
        _cand("codes", "Codes", best, 0.49),
        _cand("codes", "Codes", other, 0.45, 300),
    )
    assert got == [best]


def test_a_factoids_best_sentence_leads_the_answer_in_any_reading_order() -> None:
    """Two sentences of one document holding a count are quoted in reading order, but the
    answer states its value first: the best one ("In all, 4,390 customers ...") leads,
    not a table row read earlier in the document ("2,860")."""
    q = "How many broadband customers were hit by the outage in total?"
    doc, title = "outage", "Service outage notice"
    total = "In all, 4,390 customers were affected."
    row = "| Pennick Bay | 2,860 | broadband and home phone |"

    def scored(text: str, start: int, score: float) -> Scored:
        chunk = Chunk(f"{doc}@{start}", doc, f"{doc}.txt", title, start, start + len(text), text)
        return Scored(chunk, score, score, 0.2, 1.0, 1)  # typed 1.0: each holds a count

    assert _choose(q, scored(total, 900, 0.48), scored(row, 300, 0.40)) == [total, row]


def test_a_candidate_holding_the_questions_code_ranks_before_a_close_one_without_it() -> None:
    """ "What time does the last 14A leave?": a sentence on the first and last tram, worded
    a little more like the question, ranked above the 14A's timetable row, and the gate
    then refused it for lacking "14A". A candidate lacking a code or number the question
    states (not a year, not one digit of "4.0") now ranks after one holding them that
    scores within PIN_MARGIN of it."""
    from rag.answer.extractive import PIN_MARGIN, _lacks_pinned

    q = "What time does the last 14A leave Hesketh Bridge on a weekday?"
    tram = _cand(
        "t", "", "The first tram leaves Hesketh Bridge at 05:15 and the last at 00:05.", 0.63
    )
    row = _cand("t", "", "| 14A | Hesketh Bridge to Pennard Marsh | 06:15 | 22:05 |", 0.625, 300)
    key = _lacks_pinned(q, [tram, row])
    assert key(tram) and not key(row)
    far = _cand(
        "t", "", "The first tram leaves Hesketh Bridge at 05:15.", 0.625 + PIN_MARGIN + 0.05
    )
    assert not _lacks_pinned(q, [far, row])(far)  # far better worded: it keeps its place
    beta = "How long did the 4.0 beta last?"
    assert not _lacks_pinned(beta, [tram, row])(tram)  # "4" and "0" pin nothing


def test_a_candidate_binding_another_number_to_the_asked_noun_ranks_after_one_binding_it() -> None:
    """ "across two zones": "one zone" is a contradicted qualifier whatever its score; a
    candidate binding no number to "zone" keeps its place."""
    from rag.answer.bounds import number_bindings
    from rag.answer.extractive import PIN_MARGIN, _lacks_pinned

    assert number_bindings("across two zones?") == {("2", "zone")}
    assert number_bindings("| 2 zones | £3.40 |") == {("2", "zone")}
    assert number_bindings("In 2024 there were 3,412 complaints") == {("3412", "complaint")}
    q = "How much is an adult single across two zones?"
    prose = _cand("f", "", "The adult single fare for one zone will rise to £2.20.", 0.66)
    row = _cand("f", "", "| 2 zones | £3.40 | £1.70 |", 0.53, 300)
    other = _cand("f", "", "Adult fares rise by 5 percent in January.", 0.60, 500)
    key = _lacks_pinned(q, [prose, row, other])
    assert key(prose) and not key(row)
    assert key(other)  # binds no zone, and within PIN_MARGIN of the row that binds two
    far = _cand("f", "", "Adult fares rise by 5 percent in January.", 0.53 + PIN_MARGIN + 0.05)
    assert not _lacks_pinned(q, [prose, row, far])(far)  # far better worded: keeps its place
    assert not _lacks_pinned(q, [prose, other])(prose)  # nothing binds "two zones": no rival
    years = "I'm grade 2 and have been here six years. How many days' holiday do I get?"
    in_range = _cand("f", "", "| 5 to 9 years | 27 days | 28 days |", 0.45)
    below = _cand("f", "", "| 2 to 4 years | 25 days | 27 days |", 0.52)
    key = _lacks_pinned(years, [below, in_range])
    assert key(below) and not key(in_range)  # six years: inside "5 to 9", outside "2 to 4"


def test_a_question_for_the_former_value_ranks_a_sentence_giving_one_first() -> None:
    """ "What was the allowance before this edition?": the sentence on today's £26,
    worded alike, ranked above "rose from £20 to £26"; a question for today's value
    leaves the order as it is."""
    from rag.answer.compare import asks_former
    from rag.answer.extractive import _lacks_pinned

    now = _cand("h", "", "Staff who work at home receive an allowance of £26 a month.", 0.57)
    change = _cand("h", "", "- The home-working allowance rose from £20 to £26 a month.", 0.55)
    q = "What was the home-working allowance before this edition?"
    assert asks_former(q) and not asks_former("When should I bring it in before winter?")
    key = _lacks_pinned(q, [now, change])
    assert key(now) and not key(change)
    assert not _lacks_pinned("What is the home-working allowance?", [now, change])(now)


def test_a_factoid_quote_is_never_cut_inside_a_time() -> None:
    """ "... and the last at 00:05": the colon inside the time was read as a clause end,
    and the answer quoted "the last at 00"."""
    from rag.answer.factoid import value_first

    s = "The first tram now leaves the central stop at 05:15 and the last at 00:05."
    got = value_first(s, "When does the first tram leave the central stop?")
    assert got is not None and got.startswith("05:15 — ") and got.endswith("at 00:05")

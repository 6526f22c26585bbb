"""Many dated articles, one answer (issue 20): the same fact in other words.

Articles that disagree rarely use the same wording: one gives "22 kilometres", another
"24 km"; one "380,000 homes", a later one "410,000 households"; a moved date is written
"was due to close on 30 May, to 27 June"; a newer article says "completion is planned for
June 2028" where the question asks when it will be "finished". These tests run the real
span typing (:mod:`rag.answer.spans`) on real sentences; the scores stand for the
extractive backend's (meaning, wording).
"""

from __future__ import annotations

from rag.answer import compare, disagree, recency, supporting
from rag.answer.extractive import Scored
from rag.types import Chunk

DATES = {"old.txt": "2025-02-03", "mid.txt": "2025-10-21", "new.txt": "2026-03-03"}


def date_of(doc_id: str) -> str:
    return DATES.get(doc_id, "")


def scored(text: str, source: str, score: float, semantic: float, lexical: float) -> Scored:
    """A candidate sentence of document ``source`` as the extractive backend scores it."""
    chunk = Chunk(f"{source}@{hash(text) % 997}", source, source, source, 0, len(text), text)
    return Scored(chunk, score, semantic, lexical, 1.0, 1)


def test_a_unit_and_its_abbreviation_are_one_unit() -> None:
    q = "how many kilometres off the coast will the turbines stand"
    far = supporting.answer_value("number", "The turbines would stand 24 km from shore.", q)
    near = supporting.answer_value("number", "The bank lies 22 kilometres off the coast.", q)
    assert far is not None and near is not None
    assert far.key == near.key == ("quantity", "kilometre")
    assert compare.conflict(far, near, q)
    assert compare.unit_key("kilometers") == compare.unit_key("km")
    assert compare.unit_key("MW") == compare.unit_key("megawatts")
    assert compare.unit_key("households") != compare.unit_key("km")


def test_the_asked_unit_keeps_a_sentence_worded_otherwise() -> None:
    q = "how many kilometres off the coast will the turbines stand"
    cands = [
        scored(
            "The bank lies 22 kilometres off the coast, the company said.",
            "old.txt",
            0.65,
            0.56,
            0.66,
        ),
        scored(
            "The project would place its turbines 24 km from shore.", "new.txt", 0.36, 0.62, 0.14
        ),
    ]
    found = disagree.find(q, cands, date_of)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["24 km", "22 kilometres"]


def test_two_spellings_of_a_name_conflict_but_a_shorter_form_does_not() -> None:
    q = "What is the name of the fisheries liaison officer?"
    one = supporting.answer_value("person", "Fisheries liaison officer Priya Castellan said so.", q)
    two = supporting.answer_value(
        "person", "Fisheries liaison officer Priya Castellane said so.", q
    )
    short = supporting.answer_value("person", "Fisheries liaison officer Castellane said so.", q)
    assert one is not None and two is not None and short is not None
    assert compare.conflict(one, two, q)  # "Castellan" is a spelling, not a part of it
    assert not compare.conflict(two, short, q)


def test_a_former_value_is_not_the_one_a_sentence_gives() -> None:
    q = "When does the consultation close?"
    moved = (
        "The developer has extended the consultation, which was due to close on 30 May, "
        "to 27 June 2025, after fishing groups asked for more time."
    )
    value = supporting.answer_value("date", moved, q)
    assert value is not None and value.span.text == "27 June 2025"
    changed = "The completion date has moved from December 2027 to June 2028."
    value = supporting.answer_value("date", changed, "When will it be finished?")
    assert value is not None and value.span.text == "June 2028"
    # a date alone stays the sentence's value, whatever the wording before it
    plain = supporting.answer_value("date", "The consultation closes on 30 May 2025.", q)
    assert plain is not None and plain.span.text == "30 May 2025"


def test_a_date_of_another_event_is_no_side() -> None:
    q = "When does the consultation on the wind farm close?"
    cands = [
        scored("The consultation closes on 30 May 2025.", "old.txt", 0.53, 0.45, 0.44),
        scored(
            "Hamish Oduya becomes project director on 2 February 2026.", "new.txt", 0.38, 0.46, 0.23
        ),
    ]
    assert disagree.find(q, cands, date_of) is None
    cands.append(
        scored("The consultation has been extended to 27 June 2025.", "mid.txt", 0.5, 0.5, 0.3)
    )
    found = disagree.find(q, cands, date_of)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["27 June 2025", "30 May 2025"]


def test_a_count_worded_alike_around_it_is_the_same_count() -> None:
    q = "How many homes will the turbines supply with power?"
    cands = [
        scored(
            "The wind farm would have a capacity of 450 megawatts, enough to power 380,000 homes.",
            "old.txt",
            0.59,
            0.60,
            0.40,
        ),
        scored(
            "The turbines would now generate enough electricity for 410,000 households.",
            "new.txt",
            0.42,
            0.62,
            0.12,
        ),
        scored("The fleet has 11 boats and enough crews for them.", "mid.txt", 0.3, 0.31, 0.1),
    ]
    found = disagree.find(q, cands, date_of)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["410,000 households", "380,000 homes"]


def test_the_note_gives_the_whole_counted_thing() -> None:
    q = "How many permanent jobs will the operations base provide?"
    cands = [
        scored(
            "The operations base will provide 75 permanent jobs, the company said.",
            "new.txt",
            0.88,
            0.78,
            1.0,
        ),
        scored(
            "The company estimates that the base would provide 60 permanent jobs once it opens.",
            "old.txt",
            0.64,
            0.55,
            0.73,
        ),
    ]
    found = disagree.find(q, cands, date_of)
    assert found is not None
    assert [disagree.shown(s, q) for s in found.sides] == ["75 permanent jobs", "60 permanent jobs"]


def test_a_newer_article_restating_a_fact_in_other_words_is_the_current_state() -> None:
    q = "When is the expansion now expected to be finished?"
    still = scored(
        "The utility still expects to finish in December 2027.", "mid.txt", 0.44, 0.30, 0.48
    )
    listed = scored("- Completion is planned for December 2027.", "old.txt", 0.42, 0.48, 0.0)
    newer = scored(
        "The budget stands at £168 million and completion is planned for June 2028.",
        "new.txt",
        0.25,
        0.10,
        0.0,
    )
    other = scored(
        "Phase 2 will follow in spring 2027, when the works start.", "new.txt", 0.26, 0.12, 0.0
    )
    cands = [still, listed, newer, other]
    support = recency.current_support(q, cands)
    assert newer not in support  # unlike the question in meaning and wording
    assert recency.updates(q, cands, support, date_of) == [newer]
    assert recency.newest_support(q, cands, date_of) is newer
    # without the older restatement nothing ties the newer sentence to the fact
    assert recency.newest_support(q, [still, newer, other], date_of) is still

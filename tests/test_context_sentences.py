"""Sentences that need their neighbours (issue 15): a pronoun-subject sentence is quoted
with the one before it (rag.answer.candidates.with_antecedent), and the gate reads a
where-question's place there too; a progressive verb after "who is" names no post; a
quantity of time counted from an event answers "when"; "deputy" and "vice" are one rank."""

from __future__ import annotations

from pathlib import Path

from rag.answer.neighbours import with_antecedent, with_continuation
from rag.answer.noun_phrases import asked_role
from rag.answer.spans import answer_values
from tests.conftest import assistant_over, sentence_of

CAVES = """# Caves of Tarrach

The cliffs hold several sea caves. The largest, Uamh nan Ron, runs 120 metres into the
cliff below Creag Mhor. Grey seals use it as a pupping site every autumn.

## Visiting

Boats land at the east quay. It is closed in winter.
"""


def test_a_pronoun_sentence_is_quoted_with_the_one_before_it() -> None:
    seals = with_antecedent(CAVES, sentence_of(CAVES, "Grey seals"))
    assert seals.text.startswith("The largest, Uamh nan Ron")
    assert CAVES[seals.start : seals.end] == seals.text  # offsets into the document
    quay = sentence_of(CAVES, "Boats land")
    assert with_antecedent(CAVES, quay) == quay  # no pronoun subject
    winter = sentence_of(CAVES, "It is closed")
    assert with_antecedent(CAVES, winter).text.startswith("Boats land")
    first = sentence_of(CAVES, "The cliffs hold")
    assert with_antecedent(CAVES, first) == first


def test_where_is_answered_from_the_antecedents_place(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"caves.md": CAVES})
    ans = bot.ask("Where do the grey seals have their pups?")
    assert not ans.abstained
    assert "Uamh nan Ron" in ans.answer


def test_a_progressive_verb_after_who_is_is_no_post() -> None:
    assert asked_role("Who is lending the money for the second phase?") == []
    assert asked_role("Who was elected chair?") == []
    assert asked_role("Who is the acting head?") == ["act", "head"]
    assert asked_role("Who is the deputy chief nurse?") == ["deputy", "chief", "nurse"]


def test_a_time_counted_from_an_event_answers_when() -> None:
    sentence = "The reminder appears on the display 12 months after commissioning."
    assert [v.text for v in answer_values("date", sentence, "When does it appear?")] == [
        "12 months"
    ]
    assert answer_values("date", "The crossing takes 50 minutes.", "When does it leave?") == []


GAUGE = """# Pressure

Check the system pressure on the start screen. It should be between 1.0 and 2.0 bar.
Top up through the filling loop. Close the valve afterwards.
"""


def test_a_detail_that_goes_on_about_the_sentence_is_quoted_with_it() -> None:
    check = with_continuation(GAUGE, sentence_of(GAUGE, "Check the system"))
    assert check.text.endswith("between 1.0 and 2.0 bar.")
    top = sentence_of(GAUGE, "Top up")
    assert with_continuation(GAUGE, top) == top  # the next one is another step


def test_what_should_it_read_is_answered_with_the_detail(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"gauge.md": GAUGE})
    ans = bot.ask("What should the system pressure read on the start screen?")
    assert not ans.abstained and "between 1.0 and 2.0 bar" in ans.answer


def test_a_firm_of_a_town_states_where_it_is() -> None:
    """ "Corrie Brothers Roofing of Dunhaven" answers "Where is that firm based?"."""
    from rag.answer.abstain import _place_absent

    sentence = "Corrie Brothers Roofing of Dunhaven tendered 412,000 euros."
    assert not _place_absent("Where is that firm based?", sentence, sentence)
    assert _place_absent(
        "Where is it based?", "The price of the work rose.", "The price of the work rose."
    )


def test_a_post_after_its_owner_is_read_with_its_capitals() -> None:
    """ "Who is Kestrelnet's Director of Customer Operations?" asks for a director (the
    owner's name skipped); "Who is Helen Ostrander?" still asks about a name."""
    assert asked_role("Who is Kestrelnet's Director of Customer Operations?") == ["director"]
    assert asked_role("Who is Aldwick's harbour master?") == ["harbour", "master"]
    assert asked_role("Who is Helen Ostrander?") == []


def test_there_reads_the_names_of_the_sentence_before() -> None:
    """ "... on 9 of the 24 plots there" is about the place the sentence before names, so
    that place is the sentence's context; "there is" points back to nothing."""
    from rag.answer.candidates import chunk_sentences

    text = (
        "Trial notes\n\nOn 14 June a hailstorm crossed Crannock Down. Keir Tallentire scored "
        "ear damage on 9 of the 24 plots there. There is no other damage on record."
    )
    slots = [s for s in chunk_sentences(text, "d", "d.txt", "Trial notes", 0, len(text)) if s[1]]
    context = {s[1].text.split()[0]: s[2] for s in slots}
    assert "crannock" in context["Keir"]
    assert "crannock" not in context["There"]

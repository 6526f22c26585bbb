"""Follow-ups: what they point back to is written out from the conversation, for any
documents, and the previous answer's amount is not given again as the new answer.

The rewrites are checked on plain strings; the answers with real components (MiniLM
embeddings, FAISS, BM25, the fitted abstention model) over small documents written here.
"""

from __future__ import annotations

import pytest

from rag.answer.followup import (
    Turn,
    answer_value,
    condense_heuristic,
    previous_amount,
    resolve_references,
    split_context,
)
from tests.conftest import assistant_over

DOCS = {
    "orchard.txt": (
        "Pellworth orchard report\n\n"
        "The cooperative planted 1,250 apple trees in 2024, 380 of them on the north slope. "
        "The new cider press cost 96,000 euros, of which 30,000 euros came from a regional "
        "grant and 66,000 euros from members' shares.\n\n"
        "The press was built by Harl & Voss Engineering of Tembury. The grading shed "
        "holds 40 crates and 12 pallets."
    ),
    "weather.txt": (
        "Pellworth weather station\n\n"
        "The station recorded 812 millimetres of rain last year. Frost fell on 23 nights."
    ),
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    """An assistant over the two documents above (its own index)."""
    return assistant_over(tmp_path_factory.mktemp("followups"), DOCS)


def test_a_bare_question_word_fragment_takes_the_rest_of_the_previous_question() -> None:
    got = condense_heuristic(
        "And how many pallets?", [Turn("How many crates does the grading shed hold?", "40")]
    )
    assert split_context(got)[0] == "How many pallets does the grading shed hold?"


def test_a_fragment_with_another_question_word_is_left_alone() -> None:
    prev = "How many crates does the grading shed hold?"
    assert resolve_references("Where is it?", prev) == "Where is it?"
    assert resolve_references("Which pallets?", prev) == "Which pallets?"


def test_that_noun_after_which_noun_is_the_entity_the_answer_named() -> None:
    got = resolve_references(
        "Where is that firm based?",
        "Which firm built the cider press?",
        "Harl & Voss Engineering — The press was built by Harl & Voss Engineering [1].",
    )
    assert got == "Where is Harl & Voss Engineering based?"


def test_a_short_definite_noun_takes_the_previous_question_s_longer_name() -> None:
    got = resolve_references(
        "Who is her deputy on the board?", "Who chairs the Pellworth Orchard Cooperative Board?"
    )
    assert got == "Who is her deputy on the Pellworth Orchard Cooperative Board?"
    # no longer name in the previous question: unchanged
    assert resolve_references("When does the press open?", "Who chairs the board?") == (
        "When does the press open?"
    )


def test_the_amount_the_previous_answer_gave() -> None:
    assert previous_amount("1,250 — The cooperative planted 1,250 apple trees in 2024.").startswith(
        "1,250 apple"
    )
    assert previous_amount("The press cost 96,000 euros.") == "96,000 euros"
    assert previous_amount("It holds 40 crates and 12 pallets.") == ""  # two amounts
    assert previous_amount("Harl & Voss Engineering built it.") == ""
    assert answer_value("Harl & Voss Engineering — The press was built by ... [1].") == (
        "Harl & Voss Engineering"
    )
    assert answer_value("The press was built by Harl & Voss Engineering.") == ""


def test_a_count_follow_up_carries_the_previous_amount_as_context() -> None:
    got = condense_heuristic(
        "And how many of those are on the north slope?",
        [Turn("How many apple trees were planted in 2024?", "1,250 — The cooperative ...")],
    )
    assert "1,250" in split_context(got)[1]
    assert "1,250" not in split_context(got)[0]  # the gate reads the question without it


def test_partitive_follow_ups_answer_the_part_not_the_whole(bot) -> None:
    """The sentence that gave the whole also gives the part: the part leads the answer."""
    history = [("How many apple trees did the cooperative plant in 2024?", "")]
    first = bot.ask(history[0][0])
    assert first.answer.startswith("1,250"), first.answer
    ans = bot.ask("And how many of those are on the north slope?", [(history[0][0], first.answer)])
    assert not ans.abstained, ans.answer
    assert ans.answer.startswith("380"), ans.answer
    q = "How much did the new cider press cost?"
    first = bot.ask(q)
    assert first.answer.startswith("96,000 euros"), first.answer
    ans = bot.ask("And how much of it came from the regional grant?", [(q, first.answer)])
    assert ans.answer.startswith("30,000 euros"), ans.answer


def test_that_firm_is_asked_about_by_name(bot) -> None:
    q = "Which firm built the cider press?"
    first = bot.ask(q)
    assert "Harl & Voss" in first.answer, first.answer
    ans = bot.ask("Where is that firm based?", [(q, first.answer)])
    assert split_context(ans.standalone_question)[0].startswith("Where is Harl & Voss"), (
        ans.standalone_question
    )


def test_a_post_next_to_the_person_named_keeps_the_previous_question_s_body() -> None:
    got = resolve_references("Who is her vice-chair?", "Who chairs the Orchard Finance Committee?")
    assert got == "Who is her vice-chair of the Orchard Finance Committee?"
    # a follow-up naming its own body, or a previous question naming none: unchanged
    assert resolve_references("Who is her deputy on the board?", "Who chairs it?") == (
        "Who is her deputy on the board?"
    )
    assert resolve_references("Who is his deputy?", "Who is Tembury's clerk?") == (
        "Who is his deputy?"
    )


def test_a_one_phrase_follow_up_swaps_the_previous_question_s_matching_slot() -> None:
    """The same preposition, or a rank word after "the": the slot is swapped and the rest
    of the previous question kept; the result is a whole question, with no context."""
    last = "When does the last tram leave the depot on weekdays?"
    assert condense_heuristic("And on Christmas Eve?", [Turn(last, "23:50")]) == (
        "When does the last tram leave the depot on Christmas Eve?"
    )
    first = "When does the first bus leave the harbour?"
    assert condense_heuristic("And the last one?", [Turn(first, "05:40")]) == (
        "When does the last bus leave the harbour?"
    )
    counted = "How many crates did the shed hold in 2019?"
    assert condense_heuristic("And in 2013?", [Turn(counted, "40")]) == (
        "How many crates did the shed hold in 2013?"
    )
    # no slot with that preposition: carried as context, as before
    assert split_context(condense_heuristic("And in eco mode?", [Turn("How loud is it?", "")]))[1]

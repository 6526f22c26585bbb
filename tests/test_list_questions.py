"""A question that asks for several things is answered by the sentence that lists them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.lists import asks_for_list, enumerated
from tests.conftest import assistant_over

DOC = """# Brackwater Observatory reopens its visitor wing

Brackwater Observatory reopened its visitor wing on Saturday after eighteen months of work
on the hill above the town.

The wing has a planetarium dome for 80 visitors, a small lecture room, a shop selling star
charts and a rooftop terrace with six telescopes.

Director Ines Falkenrath said the wing had cost 2.3 million euros, most of it from the
regional science fund.

The observatory itself was built in 1911 and still holds its original brass refractor.
"""


@pytest.mark.parametrize(
    "question",
    [
        "What facilities does the new wing have?",
        "Which towns in the valley have a planetarium?",
        "What classes of ticket are there?",
        "What does the second phase include?",
        "what comes in the box with the telescope",
    ],
)
def test_questions_that_ask_for_several_things(question: str) -> None:
    assert asks_for_list(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is the default temperature?",
        "Which department gets the most money?",  # "gets": a verb with its object
        "What happens in phase 2 of the works?",
        "What does warning W05 mean?",
        "What causes the noise?",
        "How many telescopes are there?",
        "What status does it have?",
    ],
)
def test_questions_that_ask_for_one_thing(question: str) -> None:
    assert not asks_for_list(question)


def test_enumerated_counts_a_run_of_short_items_and_two_joined_names() -> None:
    assert enumerated(DOC.split("\n\n")[2]) == 4
    assert enumerated("Apologies: Councillors Rourke and Sandys.") == 2
    assert enumerated("Director Ines Falkenrath said the wing had cost 2.3 million euros.") == 0
    # one comma and one "and" in a clause: not a list of three
    assert enumerated("The dome was repainted, and the shop opened on Monday.") == 0


def test_a_list_question_quotes_the_listing_sentence(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"observatory.md": DOC})
    ans = bot.ask("What facilities does the new visitor wing have?")
    assert not ans.abstained
    quotes = " ".join(c.quote for c in ans.citations)
    assert "planetarium dome for 80 visitors" in quotes
    assert "rooftop terrace with six telescopes" in ans.answer


CHARTER = """## Delays

We do not pay compensation for delays caused by:

- a national weather warning for the area;
- a police incident that closes the road;
- strike action by staff of another organisation.

These exceptions do not apply if we were told 24 hours before.
"""


def test_a_sentence_ending_in_a_colon_is_quoted_with_its_items() -> None:
    """A list question answered by "We do not pay compensation for delays caused by:"
    quoted nothing of the list, and the sentence did not count as holding one (a table
    row of amounts outranked it). The introducing sentence is typed as one holding a
    list, is quoted with the bullet items after it, and the answer gives them as one claim."""
    from rag.answer.draft import _cite
    from rag.answer.lists import cite_each, with_items
    from rag.answer.typed import _typed
    from rag.types import Chunk

    q = "What kinds of delay don't get compensation?"
    intro = "We do not pay compensation for delays caused by:"
    assert _typed("other", q, intro, ()) == 1.0
    start = CHARTER.index(intro)
    chunk = Chunk("c", "c", "c.md", "", start, start + len(intro), intro)
    quoted = with_items(CHARTER, chunk)
    assert quoted.text == CHARTER[start : CHARTER.index("organisation.") + len("organisation.")]
    assert CHARTER[quoted.start : quoted.end] == quoted.text
    answer = cite_each(quoted.text, 1, _cite)
    assert answer == (
        "We do not pay compensation for delays caused by: a national weather warning for the"
        " area; a police incident that closes the road; strike action by staff of another"
        " organisation [1]."
    ), answer
    plain = Chunk("p", "c", "c.md", "", 0, 10, "These exceptions do not apply.")
    assert with_items(CHARTER, plain) is plain  # no colon: nothing added

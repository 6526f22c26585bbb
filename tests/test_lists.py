"""A sentence that announces a list is quoted with the sentences that give it (issue 15).

"What are the HX-40's operating modes?" used to be answered "The HX-40 has four operating
modes [1]." and nothing else. The helpers of :mod:`rag.answer.lists` are checked on plain
strings, then the assistant, over a real index of a document written here, quotes the
items with a citation on each, and still answers "how many" with the count alone.
"""

from __future__ import annotations

import pytest

from rag.answer.lists import announced_count, with_following
from rag.types import Chunk
from tests.conftest import assistant_over

GUIDE = (
    "# The Corrin ferry\n\n"
    "The Corrin ferry sails from the north pier every hour from 6 a.m. to 10 p.m. in "
    "summer. The ferry has three decks. The lower deck carries up to 40 cars and two "
    "lorries. The middle deck holds the café and a lounge with 120 seats. The upper deck "
    "is open to the sky and has benches along both rails.\n\n"
    "Tickets are sold at the pier office and on board. A return ticket costs 9 pounds for "
    "a foot passenger and 31 pounds for a car with its driver.\n"
)


def test_a_count_before_an_asked_plural_announces_a_list() -> None:
    q = "What are the ferry's decks?"
    assert announced_count("The ferry has three decks.", q) == 3
    assert announced_count("The office received 534 complaints.", "What were the complaints?")
    # the sentence names them itself, or goes on about something else: nothing to add
    assert announced_count("The ferry has three decks: lower, middle and upper.", q) == 0
    assert announced_count("The ferry has three decks and a crew of nine.", q) == 0
    # a count of something the question does not ask about
    assert announced_count("The ferry has three decks.", "What does a ticket cost?") == 0


def test_the_following_sentences_of_the_paragraph_are_quoted_with_it() -> None:
    start = GUIDE.index("The ferry has three decks.")
    sent = Chunk("d@1", "d", "guide.md", "", start, start + 26, GUIDE[start : start + 26])
    longer = with_following(GUIDE, sent, 3)
    assert GUIDE[longer.start : longer.end] == longer.text
    assert longer.text.startswith("The ferry has three decks.")
    assert longer.text.endswith("benches along both rails.")
    assert "Tickets" not in longer.text  # the paragraph ends the list
    # more items than sentences to quote: the next sentence only
    assert with_following(GUIDE, sent, 40).text.endswith("two lorries.")


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    """An assistant over the ferry guide above (its own index, the fitted model)."""
    return assistant_over(tmp_path_factory.mktemp("lists"), {"guide.md": GUIDE})


def test_a_list_question_gets_the_items_each_cited(bot) -> None:
    ans = bot.ask("What are the decks of the Corrin ferry?")
    assert not ans.abstained, ans.answer
    for item in ("lower deck", "middle deck", "upper deck"):
        assert item in ans.answer, ans.answer
    quotes = " ".join(c.quote for c in ans.citations)
    assert "lower deck" in quotes and "upper deck" in quotes
    assert ans.answer.count("[") >= 3  # a marker on each item's sentence


def test_how_many_keeps_the_count_alone(bot) -> None:
    ans = bot.ask("How many decks does the Corrin ferry have?")
    assert not ans.abstained, ans.answer
    assert "three" in ans.answer
    assert "lower deck" not in ans.answer

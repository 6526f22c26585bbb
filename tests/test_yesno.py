"""Yes/no questions: a sentence on the same subject that holds another year, or names the
asked thing under another modifier, is not quoted as if it said "yes".

Real components (MiniLM embeddings, FAISS, BM25, the fitted abstention model) over small
documents written here; the pure helpers are checked on plain strings.
"""

from __future__ import annotations

import pytest

from rag.answer.yesno import is_yes_no, series_pairs, unconfirmed
from tests.conftest import assistant_over

DOCS = {
    "orchard.txt": (
        "Fendale community orchard report\n\n"
        "The committee recommends that the town raise the plot fee to 40 euros. The town "
        "will consider the recommendation in March 2027.\n\n"
        "The orchard's pear trees were planted in 2019 by volunteers from Fendale school. "
        "Pruning is done by a certified arborist every winter."
    ),
    "plots.txt": (
        "Fendale orchard plots\n\n"
        "There is a limit on events for a Zone B plot: 20 hours a year. "
        "Zone A plots are not capped."
    ),
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    """An assistant over the document above (its own index)."""
    return assistant_over(tmp_path_factory.mktemp("yesno"), DOCS)


def test_yes_no_questions_are_told_from_others() -> None:
    """An auxiliary lead asks yes or no; a polite wh-frame or an alternative does not."""
    assert is_yes_no("Is there a limit on nights for a Class A licence?")
    assert is_yes_no("Did the board agree to another survey?")
    assert not is_yes_no("Do you know when the ferry leaves?")
    assert not is_yes_no("Is the fee paid monthly or yearly?")
    assert not is_yes_no("When were the trees planted?")


def test_unconfirmed_lists_a_year_month_or_rival_modifier_the_sentence_lacks() -> None:
    """The year and month stated in the next sentence date another event; a "certified"
    arborist is not "any qualified" one; a held number is no gap."""
    q = "Did the town raise the plot fee to 40 euros in March 2027?"
    s = "The committee recommends that the town raise the plot fee to 40 euros."
    assert unconfirmed(q, s, near=["The town will consider it in March 2027."]) == [
        "2027",
        "march",
    ]
    assert unconfirmed("Is the fee 40 euros?", s) == []
    q2 = "Is pruning done by any qualified arborist?"
    s2 = "Pruning is done by a certified arborist every winter."
    assert unconfirmed(q2, s2) == ["qualifi"]
    assert unconfirmed("Is pruning done by another arborist?", s2) == []  # a determiner


def test_a_year_the_sentence_does_not_hold_is_not_answered_yes(bot) -> None:
    """The fee sentence holds the fee but not the year asked: no quote that reads "yes"."""
    ans = bot.ask("Did the town raise the plot fee to 40 euros in March 2027?")
    assert ans.abstained, ans.answer


def test_a_yes_no_question_the_sentence_holds_is_answered(bot) -> None:
    """Everything the question states is in the sentence: it is quoted."""
    ans = bot.ask("Were the pear trees planted in 2019?")
    assert not ans.abstained, ans.answer
    assert "2019" in ans.answer


def test_series_members_are_read_with_their_word_and_not_the_pronoun() -> None:
    """ "Class A" is a member of a series (and "a" a stop word), "Can I" is not."""
    assert series_pairs("Can I still get a Class C licence in Zone B?") == {"class c", "zone b"}
    s = "A dwelling let under a Class B licence may be let for no more than 90 nights."
    assert unconfirmed("Is there a limit on nights for a Class A licence?", s) == ["class a"]
    assert unconfirmed("Can I let a Class B dwelling for 90 nights?", s) == []


def test_the_sentence_naming_the_asked_member_is_quoted_not_its_rival(bot) -> None:
    """ "... for a Zone A plot?": the Zone B limit may rank first, the Zone A sentence
    answers."""
    ans = bot.ask("Is there a limit on events for a Zone A plot?")
    assert not ans.abstained, ans.answer
    assert "Zone A" in ans.answer and "Zone B" not in ans.answer


def test_a_weekday_or_weekend_the_sentence_does_not_name_is_unconfirmed() -> None:
    """ "on weekends only" asked, a schedule by the hour stated: not a yes."""
    s = "It can run on a schedule, for example from 10 p.m. to 6 a.m."
    assert unconfirmed("Can it be scheduled on weekends only?", s) == ["weekend"]
    assert unconfirmed("Does it run on Sundays?", "It runs on Sunday mornings.") == []
    assert unconfirmed("Does it run on Sundays?", "It runs on Saturdays.") == ["sunday"]

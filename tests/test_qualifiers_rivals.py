"""Near misses that name another entity of the same kind by a common noun (issue 15).

The helpers of :mod:`rag.answer.qualifiers` are checked on plain strings: the asked noun
under another modifier ("roads department" for "education department"), a modifier
dropped from a post ("the chief nurse" for "the deputy chief nurse"), the post a "who is
the X?" question asks about. Then the abstention gate, with its fitted model and a real
index over documents written here (not the suite's), refuses those near misses and
answers their twins.
"""

from __future__ import annotations

import pytest

from rag.answer import abstain
from rag.answer.noun_phrases import asked_role, dropped_modifiers, modifier_rivals
from rag.answer.qualifiers import question_qualifiers, rival_bound
from rag.text import tokenize
from tests.conftest import assistant_over, gate_features


def test_modifier_rivals_find_the_asked_noun_under_another_modifier() -> None:
    roads = "The head of the county roads department, Gerald Moynihan, apologised."
    assert modifier_rivals("Who heads the county education department?", roads) == ["education"]
    assert modifier_rivals("Who heads the county roads department?", roads) == []
    # the head noun only in the sentence before: "It is led by ..."
    led = "It is led by Dr Amrit Sohal, consultant cardiologist."
    before = "The cardiology clinic is on the first floor and runs on Mondays."
    assert modifier_rivals("Who leads the eye clinic?", led, before) == ["eye"]
    assert modifier_rivals("Who leads the cardiology clinic?", led, before) == []
    # an article before the noun is no rival, and a verb after the pair is no head
    assert (
        modifier_rivals("When is the outpatient appointment?", "Call before an appointment.") == []
    )
    assert (
        modifier_rivals("How often does the shuttle bus run?", "The number 6 bus runs hourly.")
        == []
    )
    # a verb right after the asked noun ("the dermatology clinic run") does not hide it,
    # unless the sentence joins the two as well ("bus runs" above)
    eye = "The eye clinic is on the second floor and opens on Tuesdays."
    assert modifier_rivals("On which days does the dermatology clinic run?", eye) == ["dermatology"]
    assert modifier_rivals("On which days does the eye clinic run?", eye) == []


def test_a_dotted_number_is_compared_piece_by_piece() -> None:
    """ "version 4.2" asked: "4.0" and "4.1" stand in its slot (the pieces were lost, since
    "4.2" is read as the tokens 4 and 2 and the number 4.2 matched neither)."""
    asked = "Until when does version 4.2 receive security fixes?"
    assert {"4", "2"} <= question_qualifiers(asked)
    other = "Version 4.0 receives security fixes until 3 February 2027, and 4.1 until May."
    assert rival_bound(asked, other, None, set())
    assert not rival_bound(asked, "Version 4.2 receives security fixes until June.", None, set())
    assert rival_bound(
        "Is it safe below 1.5 bar?", "Top up when it reads below 1.0 bar.", None, set()
    )


def test_dropped_modifiers_and_asked_posts() -> None:
    nurse = "The chief nurse, Priya Raman, thanked the teams."
    assert dropped_modifiers("Who is the deputy chief nurse?", nurse, set(tokenize(nurse))) == [
        "deputy"
    ]
    assert dropped_modifiers("Who is the chief nurse?", nurse, set(tokenize(nurse))) == []
    assert asked_role("Who is the deputy chief nurse?") == ["deputy", "chief", "nurse"]
    assert asked_role("And who is her deputy on the board?") == ["deputy"]
    assert asked_role("Who is Helen Ostrander?") == []  # a name, not a post
    assert asked_role("Who leads the clinic?") == []


DOCS = {
    "library.md": (
        "# Bramhill Town Library: a guide for members\n\n"
        "## Opening hours\n\n"
        "The main reading room is open from 9 a.m. to 7 p.m. on weekdays and from 10 a.m. to "
        "4 p.m. on Saturdays. The library is closed on Sundays and public holidays.\n\n"
        "## Staff\n\n"
        "The library is run by the town council's culture department. Its head librarian, "
        "Miriam Okafor, has led the library since 2019. The local history room is looked "
        "after by the archivist, Tom Reddy, who answers questions by appointment.\n\n"
        "## Borrowing\n\n"
        "Members may borrow up to twelve books at a time for three weeks. A late book costs "
        "20 pence a day, up to a maximum of 5 pounds per book. Audiobooks may be borrowed "
        "for two weeks.\n\n"
        "## Rooms\n\n"
        "The study room on the first floor has 40 desks and can be booked for up to three "
        "hours a day. The children's corner holds story sessions every Wednesday at 10 a.m."
    ),
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    """An assistant over the library guide above (its own index, the fitted model)."""
    return assistant_over(tmp_path_factory.mktemp("rivals"), DOCS)


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("Who is the head librarian?", "Miriam Okafor"),
        ("How many desks does the study room have?", "40"),
    ],
)
def test_the_asked_entity_is_answered(bot, question: str, value: str) -> None:
    ans = bot.ask(question)
    assert not ans.abstained, ans.answer
    assert value in ans.answer


@pytest.mark.parametrize(
    "question",
    [
        "Who is the deputy head librarian?",  # a post nobody is named in
        "Who is the head of the council's planning department?",  # another department
    ],
)
def test_another_post_or_department_abstains(bot, question: str) -> None:
    ans = bot.ask(question)
    assert ans.abstained, ans.answer


def test_the_gate_sees_the_rival_and_the_missing_post(bot) -> None:
    """The features that carry these near misses fire on them, not on their twins."""
    text = DOCS["library.md"]
    sent = "Its head librarian, Miriam Okafor, has led the library since 2019."
    a = text.index(sent)
    context = abstain.context_terms(text, a, a + len(sent), "")

    def feats(question: str) -> dict[str, float]:
        return gate_features(bot, question, sent, context, text)

    assert feats("Who is the deputy head librarian?")["role_missing"] > 0
    assert feats("Who is the head librarian?")["role_missing"] == 0
    assert feats("Who is the head music librarian?")["modifier_dropped"] > 0
    assert feats("Who is the head librarian?")["modifier_dropped"] == 0

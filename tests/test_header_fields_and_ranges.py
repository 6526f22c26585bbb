"""Values that were read as no answer at all (issue 15).

Before: "Approved on: 14/01/2026" held only the year, "paid on the 25th of each month"
no date; "7 percent of basic pay" was no amount for "How much does the company pay into
my pension?"; "grade 3" was missing from "grades 1 to 4"; "move to another job" was a
rival of "moves to a new role"; "the safety notice" asked for a title that "Product
Safety Manager" ranked differently; and a field of a document's header block ("Issued
by: ...") was read without the title that says what it is about. The helpers are
checked on plain strings, then the assistant over documents written here (a members'
handbook of an allotment society, not the suite's) answers the questions those made it
refuse. A short line that opens a paragraph ("Mandatory training:") was glued to the
sentence before it, and a list quoted with its introducing line was unsupported: each
item holds one of its numbers, no single sentence all of them.
"""

from __future__ import annotations

import pytest

from rag.answer.abstain_checks import asked_numbers, calendar_rival
from rag.answer.bounds import labelled_numbers
from rag.answer.candidates import header_field
from rag.answer.slots import rival_filler
from rag.answer.spans import answer_values, qualifier_mismatch
from rag.answer.typed import TYPED, _typed
from rag.ingest.chunking import answer_spans
from rag.text import tokenize
from tests.conftest import assistant_over

HANDBOOK = """Ferncombe Allotment Society: members' handbook

Reference: FAS-H-3
Issued by: Odile Brannagh, Membership Secretary
Approved on: 09/02/2026

## Plots

Members in bands 1 to 3 may rent one half plot; members in bands 4 and 5 may rent a full plot.
Rent is due on the 1st of each month.
The society pays 40 percent of the cost of a water butt for every member who asks.
A member who moves to a new plot on the same site does not pay a second joining fee.
Plot inspections are arranged by the site warden, Amos Pike, on 01632 960 417.

## Tools

Nothing is charged for a lost key.

Free tools:

- a rotavator for 2 days;
- a strimmer for 1 day;
- a wheelbarrow for 7 days.
"""

NOTICE = """Ferncombe Allotment Society: notice on the spring bonfire ban

The bonfire ban runs from 1 March to 30 September 2026 on every site.
Green waste goes to the shared compost bays by the main gate.
"""


def _line(start: str) -> str:
    return next(line for line in HANDBOOK.splitlines() if line.startswith(start))


def test_numeric_and_monthly_dates_are_dates() -> None:
    assert [v.text for v in answer_values("date", "Approved on: 09/02/2026", "When?")] == [
        "09/02/2026"
    ]
    assert [v.text for v in answer_values("date", "It is 2026/02/09.", "When?")] == ["2026/02/09"]
    held = answer_values("date", "Rent is due on the 1st of each month.", "When?")
    assert [v.text for v in held] == ["the 1st"]
    assert not answer_values("date", "She came 1st of the twelve runners.", "When?")
    code = answer_values("date", "Report number: FAS-R-2026-01", "When is the report due?")
    assert not code  # a code's digits are no year


def test_a_share_of_an_amount_answers_how_much_is_paid() -> None:
    q = "How much does the society pay towards a water butt?"
    assert _typed("number", q, _line("The society pays"), ()) == TYPED
    assert _typed("number", q, "Forty members asked for one, 12 percent more than before.", ()) == 0


def test_a_labelled_range_or_list_holds_the_asked_label() -> None:
    rule = _line("Members in bands")
    assert labelled_numbers({"2"}, rule, "What can a member in band 2 rent?") == {"2"}
    assert labelled_numbers({"5"}, rule, "What can a member in band 5 rent?") == {"5"}
    assert not labelled_numbers({"6"}, rule, "What can a member in band 6 rent?")
    assert not labelled_numbers({"2"}, rule, "What can a member in zone 2 rent?")


def test_the_pronoun_one_states_no_number() -> None:
    assert asked_numbers("Which band is the only one whose rent goes down?") == set()
    assert asked_numbers("And what was done in the third one?") == {"3"}
    assert asked_numbers("How much is a one-day strimmer loan?") == {"1"}
    assert asked_numbers("Which one of the tools costs one pound?") == {"1"}


def test_another_season_or_release_stage_is_a_rival() -> None:
    beta = "The beta ran for six weeks with feedback from 40 gardens."
    assert calendar_rival("How long did the alpha run?", beta, set(tokenize(beta)))
    assert not calendar_rival("How long did the beta run?", beta, set(tokenize(beta)))
    winter = "The winter opening hours are 9:00 to 15:00."
    assert calendar_rival("What are the summer opening hours?", winter, set(tokenize(winter)))
    near = set(tokenize(winter + " In summer the gates stay open until dusk."))
    assert not calendar_rival("What are the summer opening hours?", winter, near)


def test_a_phone_number_asked_needs_one() -> None:
    q = "What is the phone number of the site warden?"
    assert _typed("other", q, "Ring the site warden, Amos Pike, on 01632 960 417.", ()) == 1.0
    assert _typed("other", q, "The site warden, Amos Pike, inspects the plots.", ()) == 0.0
    assert _typed("other", q, "Call extension 4420.", ()) == 1.0
    assert _typed("other", q, "The ban runs from 1 March to 30 September 2026.", ()) == 0.0
    email = "What email address do I write to?"
    assert _typed("other", email, "Write to plots@ferncombe.example.", ()) == 1.0


def test_an_open_filler_has_no_rival() -> None:
    sentence = (
        "A member who moves to a new plot on the same site does not pay a second joining fee."
    )
    near = set(tokenize(sentence))
    assert not rival_filler("If I move to another plot, do I pay the fee again?", sentence, near)
    assert rival_filler("If I move to the orchard, do I pay the fee again?", sentence, near)


def test_a_modifier_of_another_noun_asks_no_title() -> None:
    sentence = "Issued by: Ingrid Mole, Product Safety Manager, Tarrow Tools Ltd"
    assert not qualifier_mismatch("Who issued the safety notice?", sentence)
    assert qualifier_mismatch("Who is the manager?", "Deputy Manager Ingrid Mole signed it.")


def test_header_fields_are_the_block_before_the_first_paragraph() -> None:
    assert header_field(HANDBOOK, HANDBOOK.index("Issued by"))
    assert header_field(HANDBOOK, HANDBOOK.index("Approved on"))
    assert not header_field(HANDBOOK, HANDBOOK.index("Members in bands"))
    assert not header_field(NOTICE, NOTICE.index("The bonfire ban"))


def test_a_short_line_that_opens_a_paragraph_is_a_sentence_of_its_own() -> None:
    spans = [HANDBOOK[a:b] for a, b in answer_spans(HANDBOOK, HANDBOOK.index("Nothing is"))]
    assert spans[:3] == [
        "Nothing is charged for a lost key.",
        "Free tools:",
        "- a rotavator for 2 days;",
    ]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    """An assistant over the handbook and the notice (its own index, the fitted model)."""
    return assistant_over(
        tmp_path_factory.mktemp("header"), {"handbook.md": HANDBOOK, "notice.md": NOTICE}
    )


@pytest.mark.slow
def test_the_values_are_answered(bot) -> None:
    ans = bot.ask("When was the members' handbook approved?")
    assert ans.answer.startswith("09/02/2026"), ans.answer  # the whole date first, not "2026"
    cases = [
        ("Who issued the members' handbook?", "Odile Brannagh"),
        ("What day of the month is the rent due?", "1st"),
        ("How much does the society pay towards a water butt?", "40 percent"),
        ("What can a member in band 2 rent?", "half plot"),
        ("What phone number arranges a plot inspection?", "01632 960 417"),
    ]
    # a line that introduces a list is quoted with its items, and the joined claim is
    # supported by the list as a whole (each item holds one of its numbers)
    ans = bot.ask("Which tools are free to borrow?")
    assert not ans.abstained and "rotavator" in ans.answer and "wheelbarrow" in ans.answer
    ans = bot.ask("What is the phone number of the Membership Secretary?")
    assert ans.abstained, ans.answer  # named in the handbook, with no number
    for question, value in cases:
        ans = bot.ask(question)
        assert not ans.abstained and value in ans.answer, (question, ans.answer)

"""The general extractive answerer on small documents of several genres, written here.

Real components throughout (MiniLM embeddings, FAISS, BM25, the fitted abstention model):
an apposition answers "where", a date keeps its year, headings/datelines/titles are never
the answer, money and percentages come whole, two-part questions get both parts,
follow-ups resolve "she" whatever the domain, and near misses (another year, another rank,
another entity) abstain. The span typing itself is checked on plain strings.
"""

from __future__ import annotations

import pytest

from rag.answer.citations import strip_markers
from rag.answer.factoid import value_first
from rag.answer.layout import content_span, is_label
from rag.answer.qualifiers import focus_conflict, pick_value, rival_bound
from rag.answer.spans import (
    qualifier_mismatch,
    stated_numbers,
    value_spans,
)
from tests.conftest import assistant_over

DOCS = {
    "history.txt": (
        "The salt marshes of Veldmoor\n\n"
        "Veldmoor, a region in northern Castria, is known for its salt marshes and its "
        "wooden causeways. The market town of Ostwick was founded in 1204 by the monk "
        "Aldric Penn, who drained the first fields around the abbey.\n\n"
        "The town's restored charter was signed on June 26, 2023 by Mayor Irene Hallam, "
        "eight centuries after the first one was sealed."
    ),
    "kettle.md": (
        "# Kettle K-200 user guide\n\n"
        "## Descaling\n\n"
        "Descale the kettle every 3 months with 500 ml of citric acid solution. Rinse it "
        "twice with clean water before the next use.\n\n"
        "## Warranty\n\n"
        "The warranty lasts 24 months from the date of purchase. It does not cover damage "
        "caused by boiling the kettle dry."
    ),
    "harbour.txt": (
        "Lundmouth harbour fees rise\n\n"
        "LUNDMOUTH, May 2, 2025 — The harbour board raised mooring fees by 12 percent on "
        "Monday. The board's chair, Petra Solberg, said the extra income of 80,000 euros "
        "would pay for a new crane on the north quay. Deputy Chair Tomas Ek voted against "
        "the rise, saying that small fishing boats could not afford it."
    ),
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    """An assistant over the three documents above (its own index)."""
    return assistant_over(tmp_path_factory.mktemp("answerer"), DOCS)


def _answered(bot, question: str, history=None):
    ans = bot.ask(question, history)
    assert not ans.abstained, ans.answer
    for c in ans.citations:  # never a heading, a dateline or a title
        assert not c.quote.lstrip().startswith("#")
        assert not c.quote.startswith("LUNDMOUTH")
        assert not is_label(c.quote)
    return ans


def test_apposition_answers_where(bot) -> None:
    ans = _answered(bot, "Where is Veldmoor?")
    assert "northern Castria" in ans.answer


def test_date_keeps_its_year(bot) -> None:
    ans = _answered(bot, "When was the town's restored charter signed?")
    assert "June 26, 2023" in ans.answer


def test_heading_is_never_the_answer(bot) -> None:
    ans = _answered(bot, "How long does the warranty on the kettle last?")
    assert "24 months" in ans.answer
    assert "##" not in ans.answer


def test_dateline_is_never_the_answer(bot) -> None:
    ans = _answered(bot, "By how much did the harbour board raise mooring fees?")
    assert "12 percent" in ans.answer
    assert "LUNDMOUTH" not in ans.answer


def test_money_and_person_answers(bot) -> None:
    assert "80,000 euros" in _answered(bot, "How much extra income will the new fees bring?").answer
    assert "Petra Solberg" in _answered(bot, "Who chairs the harbour board?").answer


def test_two_part_question_answers_both_parts(bot) -> None:
    ans = _answered(bot, "Who founded Ostwick, and when was its restored charter signed?")
    assert "Aldric Penn" in ans.answer
    assert "2023" in ans.answer
    assert len(ans.citations) >= 2


def test_follow_up_resolves_she(bot) -> None:
    first = _answered(bot, "Who chairs the harbour board?")
    ans = _answered(
        bot, "What did she say the money would pay for?", [(first.question, first.answer)]
    )
    assert "crane" in ans.answer


def test_factoid_answer_states_the_value_first(bot) -> None:
    """Who/how-much answers lead with the value and stay short; the citation quotes the
    whole sentence that holds it."""
    for question, value in [
        ("How much extra income will the new fees bring?", "80,000 euros"),
        ("Who chairs the harbour board?", "Petra Solberg"),
        ("When was the town's restored charter signed?", "June 26, 2023"),
    ]:
        ans = _answered(bot, question)
        assert ans.answer.startswith(value), ans.answer
        assert len(strip_markers(ans.answer).split()) <= 25, ans.answer
        assert any(value in c.quote for c in ans.citations)


@pytest.mark.parametrize(
    "question",
    [
        "By how much did the harbour board raise mooring fees in 2019?",  # another year
        "Who is the Vice Chair of the harbour board?",  # another rank: a Deputy Chair
        "How much extra income will the Kettle K-300 bring?",  # another member of a series
        "What is the capital of Freedonia?",  # off topic
    ],
)
def test_near_misses_abstain(bot, question: str) -> None:
    ans = bot.ask(question)
    assert ans.abstained, ans.answer
    assert ans.citations == []


# ---------------------------------------------------------------- span typing, plain strings


def test_value_spans_type_money_percent_dates_and_names() -> None:
    s = (
        "The terminal cost 38.6 million euros, 22 percent more, and was signed on June 26, 2023 "
        "by Mayor Helen Ostrander of Thornbury Marine Works in Greyhaven; it weighs 96 kg."
    )
    kinds = {(v.kind, v.text) for v in value_spans(s)}
    assert ("money", "38.6 million euros") in kinds
    assert ("percent", "22 percent") in kinds
    assert ("date", "June 26, 2023") in kinds  # the year is part of the date
    assert ("person", "Mayor Helen Ostrander") in kinds
    assert ("org", "Thornbury Marine Works") in kinds
    assert ("place", "Greyhaven") in kinds
    assert ("quantity", "96 kg") in kinds


def test_labels_and_datelines_are_cut_off() -> None:
    assert is_label("## Hot water") and is_label("Section 3") and is_label("Night caps")
    assert not is_label("The HX-40 has four operating modes.")
    text = "PORT ALDWICK, March 14, 2025 — The new terminal opened on Friday at the quay."
    a, b, labels = content_span(text)
    assert text[a:b].startswith("The new terminal") and "2025" in labels
    text = "Night caps\nA Class B dwelling may be let for 90 nights.\n\nSection 6."
    a, b, labels = content_span(text)
    assert text[a:b] == "A Class B dwelling may be let for 90 nights." and labels == "Night caps"


def test_stated_numbers_and_ranks() -> None:
    assert stated_numbers("every ten years at −7 °C in the 1880s") == {"10", "-7", "1880"}
    assert qualifier_mismatch("Who is the mayor?", "Deputy Mayor Colin Brask spoke.")
    assert not qualifier_mismatch("Who is the mayor?", "Mayor Helen Ostrander spoke.")
    assert qualifier_mismatch("Who is the Party Secretary?", "Deputy Secretary Nguyen spoke.")
    assert not qualifier_mismatch(
        "Who chairs the Calder Bay Fisheries Board?",
        "The chair of the Fisheries Board, Morag Keane",
    )


def test_value_first_never_cuts_the_value() -> None:
    s = (
        "The framework agreement, which covers customs and transit, was signed on June 26, "
        "2023, by the two provincial governments in the border town of Marlow."
    )
    answer = value_first(s, "When was the framework agreement signed?")
    assert answer is not None and answer.startswith("June 26, 2023")
    assert "June 26, 2023" in answer.split("—", 1)[1]  # the quoted words keep the year too
    long = (
        "In 2025 the two forces held 20 talks, conducted 74 meetings on the border, exchanged "
        "679 official letters and made 113 hotline calls, the report said on Tuesday."
    )
    answer = value_first(long, "How many hotline calls were made?")
    assert answer is not None and answer.startswith("113 hotline calls")
    assert len(answer.split()) <= 25
    assert value_first(long, "Why did they meet?") is None  # not a factoid: the sentence
    # an area keeps both words of its unit, a lettered class its letter
    shop = "The firm applied to build a shop of 2,900 square metres, with 210 parking spaces."
    answer = value_first(shop, "How large would the shop be?")
    assert answer is not None and answer.startswith("2,900 square metres")
    issued = "Of the licences in force, 388 were Class A, 617 Class B and 407 Class C."
    for q in ("How many licences were Class B?", "How many Class B licences were in force?"):
        answer = value_first(issued, q)
        assert answer is not None and answer.split(" — ")[0] == "617 Class B", answer


def test_dates_and_money_are_not_misread() -> None:
    kinds = {(v.kind, v.text) for v in value_spans("It may meet in October 2026, on 3 and 4 May.")}
    assert ("date", "October 2026") in kinds  # not "October 20"
    assert not any(k == "money" for k, _ in kinds)  # "3 and": a word, not a currency code
    assert ("date", "may") not in kinds  # the verb
    assert ("quantity", "seven years") in {(v.kind, v.text) for v in value_spans("for seven years")}


def test_rival_qualifiers_and_counted_groups() -> None:
    s = "They recalled the 16th meeting and prepared the 17th meeting in Nanwick."
    for q, rival in [
        ("In which city was the 16th meeting held?", True),  # the city is the 17th's
        ("In which city will the 17th meeting be held?", False),
    ]:
        value = pick_value("place", q, s)
        assert value is not None and value.text == "Nanwick"
        assert rival_bound(q, s, value, set()) is rival
    s = "In the Old Town, 133 Class C licences were in force."
    assert rival_bound("How many Class B licences were in force?", s, None, set())
    assert not rival_bound("How many Class C licences were in force?", s, None, set())
    s = "The port hosted 150,000 Norlandic visitors, and it drew Sorvian travellers."
    q = "How many Sorvian tourists visited the port?"
    value = pick_value("number", q, s, ["sorvian", "tourist"])
    assert focus_conflict(q, s, value, ["sorvian", "tourist"])
    q = "How many Norlandic visitors did the port host?"
    focus = ["norlandic", "visitor"]
    assert not focus_conflict(q, s, pick_value("number", q, s, focus), focus)

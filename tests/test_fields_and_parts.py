"""A block of "key: value" fields is read one field at a time, and a field with a figure
is a statement, not a label (rag.answer.candidates, rag.answer.layout.is_label); a
question asking for a part of a counted whole picks the part's count
(rag.answer.qualifiers.pick_value)."""

from __future__ import annotations

from pathlib import Path

from rag.answer.candidates import chunk_sentences
from rag.answer.layout import is_label
from rag.answer.qtypes import count_focus
from rag.answer.qualifiers import pick_value
from tests.conftest import assistant_over

ADVISORY = """Security advisory SA-7: token reuse in the Quillmere web console

Advisory ID: SA-7
Published: 4 May 2026
Severity: High, CVSS 3.1 base score 7.4
Fixed versions: 2.3.1 and 2.2.9
Not affected: Quillmere 1.x, which has no web console

SUMMARY

A flaw in the console lets an old session token be used again after sign-out.
"""


def test_fields_with_figures_are_statements_and_titles_stay_labels() -> None:
    assert not is_label("Fixed versions: 2.3.1 and 2.2.9")
    assert not is_label("Severity: High, CVSS 3.1 base score 7.4")
    assert is_label("Planning appeal: wind turbine at Crane Hill")  # an item's heading
    assert is_label("PART A: VOLUNTARY RECALL")
    assert is_label("Night caps")


def test_a_block_of_fields_is_one_candidate_per_field() -> None:
    texts = [
        s.text for _, s, _ in chunk_sentences(ADVISORY, "a", "a.txt", "", 0, len(ADVISORY)) if s
    ]
    assert "Fixed versions: 2.3.1 and 2.2.9" in texts
    assert "Severity: High, CVSS 3.1 base score 7.4" in texts


def test_a_field_answers_its_question(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"advisory.txt": ADVISORY})
    ans = bot.ask("What is the CVSS score of the token reuse flaw?")
    assert not ans.abstained and "7.4" in ans.answer


def test_a_part_of_a_counted_whole_picks_the_parts_count() -> None:
    sentence = (
        "The parks team reported that 240 young trees would be planted in February, 160 of "
        "them in Hobb's Wood and the rest along the river."
    )
    part = "How many of the new trees go into Hobb's Wood?"
    value = pick_value("number", part, sentence, count_focus(part))
    assert value is not None and value.text.startswith("160")
    whole = "How many young trees will be planted?"
    value = pick_value("number", whole, sentence, count_focus(whole))
    assert value is not None and value.text.startswith("240")


def test_a_table_row_is_typed_with_its_column_names() -> None:
    """ "How many agents does the Business licence cover?": the row's "up to 150" stands
    under "Protected agents", so the row holds the counted thing (rag.text.row_with_header)."""
    from rag.answer.extractive import _typed
    from rag.text import row_with_header

    row = "| Business | 1,450 euros | up to 150 | email |"
    header = "Tier | Price per server per year | Protected agents | Support"
    text = row_with_header(row, header)
    assert "up to 150 Protected agents" in text
    question = "How many agents does the Business licence cover?"
    assert _typed("number", question, text, ("agent",)) > _typed(
        "number", question, row, ("agent",)
    )
    assert row_with_header(row, "Tier | Price") == row  # cells and names do not pair up


def test_a_follow_ups_its_and_that_name_what_the_last_question_ended_on() -> None:
    from rag.answer.followup import with_named_referent as named

    assert (
        named(
            "When did its first maintenance release come out?",
            "What is the date of Larchvault 4.2?",
        )
        == "When did Larchvault 4.2's first maintenance release come out?"
    )
    assert (
        named("How many agents does that cover?", "How much is the Business licence?")
        == "How many agents does the Business licence cover?"
    )
    # a pronoun for a thing named in lower case, or "its" after a noun of its own, stays
    assert named("Can it be scheduled?", "What does quiet mode do?") == "Can it be scheduled?"
    on_own = "What can the heat pump reach on its own?"
    assert named(on_own, "What is the default on the HX-40?") == on_own


def test_the_asker_is_no_name_and_a_header_row_no_answer() -> None:
    from rag.answer.spans import asked_names, value_spans

    assert asked_names("Why can't I send back earbuds once I've opened them?") == set()
    assert asked_names("Can I use my own router?") == set()
    assert asked_names("What is the cap for Class B?") == {"class", "b"}
    kinds = {v.text: v.kind for v in value_spans("Between Saturday 17 and Monday 19 January")}
    assert kinds["Saturday 17"] == "date"  # a day of a month, no count
    table = "# Plans\n\n| Plan | Fee |\n|---|---|\n| Mini | €8.00 |\n"
    texts = [s.text for _, s, _ in chunk_sentences(table, "p", "p.md", "", 0, len(table)) if s]
    assert texts == ["| Mini | €8.00 |"]  # the header row names the columns, it is no row


def test_a_block_of_fields_keeps_the_paragraph_after_it_apart() -> None:
    notice = (
        "# Outage notice\n\nStatus: Resolved\nIncident reference: KN-INC-2026-0117\n"
        "Published: 21 January 2026\nAuthor: Marit Oyelaran, Director of Operations\n\n"
        "We are sorry.\n"
    )
    texts = [s.text for _, s, _ in chunk_sentences(notice, "n", "n.md", "", 0, len(notice)) if s]
    assert "Incident reference: KN-INC-2026-0117" in texts
    assert "Author: Marit Oyelaran, Director of Operations" in texts  # a field, no heading
    assert "We are sorry." in texts


def test_money_asked_ranks_a_sentence_with_an_amount_first(tmp_path: Path) -> None:
    doc = (
        "# Network works\n\nThe second cable between Castermoor and Pennick Bay will be moved "
        "to a new underground route beside the railway line, so that one storm cannot cut "
        "both routes again.\n\nWork starts in May 2026 and should be finished by October "
        "2026, at a cost of €1.8 million.\n"
    )
    bot = assistant_over(tmp_path, {"works.md": doc})
    ans = bot.ask("How much will the new underground cable route cost?")
    assert not ans.abstained and "€1.8 million" in ans.answer


def test_a_cost_is_told_by_money_and_a_share_by_a_percentage() -> None:
    from rag.answer.extractive import _typed

    level = "Neighbouring Hobb's Fell Reservoir stands at 55%."
    assert _typed("number", "How much would the pumped link have cost?", level, ()) == 0.0
    share = "The Selvan Environment Fund pays 45 percent of this."
    assert _typed("number", "How much of that did the fund pay?", share, ()) > 0.0


def test_a_list_question_over_a_table_quotes_its_rows(tmp_path: Path) -> None:
    """ "Which areas were hit by the outage?": one row per area, so the answer is the
    table's rows (rag.answer.neighbours.with_table_rows), not the first row alone."""
    doc = (
        "# Outage notice\n\nThe fibre break cut service in three areas.\n\n"
        "| Area | Customers affected | Restored |\n|---|---|---|\n"
        "| Pennick Bay | 2,860 | Monday 19 January |\n| Ardlow | 1,140 | Sunday 18 January |\n"
        "| Hollin Vale | 390 | Saturday 17 January |\n"
    )
    bot = assistant_over(tmp_path, {"outage.md": doc})
    ans = bot.ask("Which areas were hit by the outage?")
    assert not ans.abstained
    assert all(a in ans.answer for a in ("Pennick Bay", "Ardlow", "Hollin Vale")), ans.answer


FIGURES = """Numbers at a glance

Mowers of the affected serial range: 7,850
Of these, repaired by 1 March 2026: 2,410
Power supplies in the affected batches: 1,920
Of these, replaced by 1 March 2026: 1,305

The action stays open until every unit has been seen.
"""


def test_keys_with_commas_dates_and_many_words_are_fields() -> None:
    """A key may hold a comma, a date and up to 80 characters ("Of these, repaired by 1
    March 2026: 2,410"): the block is read one field at a time, so no value is quoted
    joined to the next line's key ("2,410 Power supplies in the affected batches")."""
    texts = [s.text for _, s, _ in chunk_sentences(FIGURES, "f", "f.txt", "", 0, len(FIGURES)) if s]
    assert "Of these, repaired by 1 March 2026: 2,410" in texts, texts
    assert "Power supplies in the affected batches: 1,920" in texts
    assert not any("\n" in t for t in texts), texts


FAQ = """## Questions and answers

**Why does my mower keep returning to the station at midday?**

In hot weather the mower pauses when the battery temperature rises above 45 °C, to
protect the cells. It goes out again once the battery has cooled.
"""


def test_an_faq_question_is_the_context_of_its_answer_not_an_answer() -> None:
    """An FAQ's own question was quoted as the answer to a question worded like it; a span
    ending in a question mark is now skipped, and its words are the context of the
    answer's first sentence."""
    slots = chunk_sentences(FAQ, "q", "q.md", "", 0, len(FAQ))
    texts = [s.text for _, s, _ in slots if s]
    assert not any(t.rstrip("*").endswith("?") for t in texts), texts
    first = next((s, c) for _, s, c in slots if s)
    assert first[0].text.startswith("In hot weather")
    assert {"station", "midday"} <= first[1]


EXPENSES = """Expenses policy

Claims are made in the expenses app with a photo of each receipt. Claims older than 90
days are not paid unless the Finance Director agrees.

Who approves a claim:
- up to £250: your line manager
- £250.01 to £1,500: your head of department
- over £1,500: the Finance Director

Nobody may approve their own claim.
"""


def test_a_short_list_item_is_a_statement_framed_by_its_lead_in() -> None:
    assert not is_label("- over £1,500: the Finance Director")
    assert is_label("Who approves a claim")  # a short line with no bullet stays a label
    slots = chunk_sentences(EXPENSES, "e", "e.txt", "", 0, len(EXPENSES))
    items = {s.text: context for _, s, context in slots if s and s.text.startswith("- ")}
    assert set(items) == {
        "- up to £250: your line manager",
        "- £250.01 to £1,500: your head of department",
        "- over £1,500: the Finance Director",
    }
    assert all({"approve", "claim"} <= context for context in items.values())


def test_the_users_amount_finds_the_list_item_whose_bound_it_meets(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"expenses.txt": EXPENSES})
    ans = bot.ask("My expense claim comes to £2,100. Who has to approve it?")
    assert not ans.abstained
    assert ans.citations[0].quote == "- over £1,500: the Finance Director"
    assert ans.answer.startswith("Finance Director")


def test_a_sentence_wrapped_at_a_line_break_keeps_its_first_line() -> None:
    from rag.answer.layout import content_span

    wrapped = "Host farmers receive £350 per site per season for\nthe loss of cropped area."
    assert content_span(wrapped)[:2] == (0, len(wrapped))
    headed = "Night caps\nA dwelling may be let for no more than 90 nights."
    start, _, labels = content_span(headed)
    assert headed[start:].startswith("A dwelling") and labels == "Night caps"

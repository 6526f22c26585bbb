"""Markdown tables: one row is one quotable statement, read with its header's column names."""

from __future__ import annotations

from pathlib import Path

from rag.answer.layout import is_label
from rag.ingest.chunking import answer_spans
from rag.text import is_table_header, is_table_row, table_header
from tests.conftest import assistant_over

DOC = """# Fleet report of the Orrin Valley ferry service

The service ran four ferries in 2025. Their crossings and their fuel use are below.

| Ferry | Crossings in 2025 | Fuel used |
|---|---|---|
| Marla | 3,120 | 410 tonnes |
| Teodor | 2,870 | 395 tonnes |
| Ilse | 980 | 150 tonnes |
| Bo | 12 | 2 t |

The Ilse was in dry dock from May to September, which explains its few crossings.
"""


def test_each_table_row_is_a_span_of_its_own_and_the_header_is_a_label() -> None:
    spans = [DOC[a:b] for a, b in answer_spans(DOC)]
    rows = [s for s in spans if s.startswith("|")]
    assert rows[0] == "| Ferry | Crossings in 2025 | Fuel used |\n|---|---|---|"
    assert rows[1:] == [
        "| Marla | 3,120 | 410 tonnes |",
        "| Teodor | 2,870 | 395 tonnes |",
        "| Ilse | 980 | 150 tonnes |",
        "| Bo | 12 | 2 t |",  # shorter than a fragment, still not merged into the row above
    ]
    assert is_table_header(rows[0]) and is_label(rows[0])
    assert all(is_table_row(r) and not is_label(r) for r in rows[1:])
    assert not is_table_row("The service ran four ferries in 2025.")


def test_a_row_finds_the_header_of_its_own_table() -> None:
    pos = DOC.index("| Ilse")
    assert table_header(DOC, pos) == "Ferry | Crossings in 2025 | Fuel used"
    assert table_header(DOC, DOC.index("The Ilse was")) == ""
    headless = "Notes\n\n| a | b |\n| c | d |\n"
    assert table_header(headless, headless.index("| c")) == ""


def test_a_question_about_a_table_cell_is_answered_from_its_row(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"fleet.md": DOC})
    answer = bot.ask("How much fuel did the Teodor use in 2025?")
    assert not answer.abstained, answer.answer
    assert "395 tonnes" in answer.answer
    quoted = {c.quote for c in answer.citations}
    assert "| Teodor | 2,870 | 395 tonnes |" in quoted


def test_a_header_row_is_never_quoted(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"fleet.md": DOC})
    for q in ("What columns does the fleet table have?", "Which ferry used the least fuel?"):
        answer = bot.ask(q)
        assert all("Crossings in 2025" not in c.quote for c in answer.citations), answer.answer


def test_a_rows_value_is_chosen_by_its_column_and_led_by_its_cell() -> None:
    """Issue 15: a table row is typed with its column names and its own name after each
    figure ("2,987 2025/26 Complaints received"), so the asked year's column is chosen
    and the answer leads with that cell, not the row's first figure; a column named in
    words is said in brackets, one named by a figure is not (the quoted row does not hold
    it, and the verifier checks every figure of the claim against the quote)."""
    from rag.answer.factoid import row_value_first
    from rag.text import row_with_header

    row = "| Complaints received | 3,412 | 2,987 |"
    typing = row_with_header(row, "Measure | 2024/25 | 2025/26")
    assert typing.startswith("Complaints received Measure; 3,412 2024/25 Complaints received")
    lead = row_value_first(row, typing, "How many complaints did the operator get in 2025/26?")
    assert lead == "2,987 — Complaints received | 3,412 | 2,987"
    lead = row_value_first(row, typing, "How many complaints were received in 2024/25?")
    assert lead is not None and lead.startswith("3,412 — ")

    fares = "| Weekly ticket | All zones | £36.00 | £18.00 | £27.00 |"
    typing = row_with_header(fares, "Ticket | Zones | Adult | Child | Young person")
    lead = row_value_first(fares, typing, "What does a child pay for a weekly ticket?")
    assert lead is not None and lead.startswith("£18.00 (Child) — "), lead

    contact = "| Pirrick | Pirrick Garden Supplies | Station Yard | Maeve Drummore |"
    typing = row_with_header(contact, "Town | Centre | Address | Contact")
    lead = row_value_first(contact, typing, "Who should I ask for at the centre in Pirrick?")
    assert lead is not None and lead.startswith("Maeve Drummore — "), lead


FARES = (
    "# Ferry fares\n\n"
    "The single fare for one crossing will rise from £4.10 to £4.30 in the spring.\n\n"
    "| Crossings | Adult | Child |\n"
    "|---|---|---|\n"
    "| 1 crossing | £4.10 | £2.05 |\n"
    "| 2 crossings | £7.60 | £3.80 |\n"
    "| 3 crossings | £10.20 | £5.10 |\n"
)


def test_a_number_the_question_binds_to_a_noun_picks_the_row_that_binds_it(
    tmp_path: Path,
) -> None:
    """ "across two crossings": the prose sentence about "one crossing" is worded more like
    the question, but it binds another number to the same noun; the "2 crossings" row binds
    the asked one and answers (real MiniLM, FAISS, BM25 and the fitted gate)."""
    bot = assistant_over(tmp_path, {"fares.md": FARES})
    got = bot.ask("How much is an adult single for two crossings?")
    assert not got.abstained
    assert "£7.60" in got.answer and "£4.10" not in got.answer.split("[1]")[0]

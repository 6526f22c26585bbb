"""Superlatives over a table (issue 15): "Which depot has the most vehicles?" asks for the
row with the largest value in a column, which no sentence states. The answerer used to
quote the row worded most like the question, whatever it held (or refuse); now
:mod:`rag.answer.aggregate` reads the whole table, picks the column by its header (or the
one column of amounts, or of changes for "rises the most") and quotes the extreme row,
led by its name. A bound ("at least"), a why-question or a column the question does not
name is no superlative over the table.
"""

from __future__ import annotations

from pathlib import Path

from rag.answer.aggregate import (
    asks_extreme,
    cell_value,
    extreme_row,
    table_at,
    value_column,
    without_superlative,
)
from rag.types import Chunk
from tests.conftest import assistant_over

DOC = """# Fleet report 2026

The cooperative runs its delivery vans from four depots. Every depot reported its fleet
and its yearly running cost at the end of March.

| Depot | Vans in service | Running cost 2026 | Change on 2025 |
|---|---|---|---|
| Harlow Cross | 14 | 212,000 euros | up 3.5 percent |
| Meddon Quay | 22 | 1.1 million euros | up 1.2 percent |
| Stainby | 9 | 148,500 euros | down 2.0 percent |
| Orrin Fell | 17 | 260,000 euros | up 7.8 percent |

The board will review the depots again in March 2027.
"""


def _row(name: str) -> tuple[int, int]:
    start = DOC.index(f"| {name} |")
    return start, DOC.index("\n", start)


def _table():
    table = table_at(DOC, "fleet", DOC.index("| Stainby |"))
    assert table is not None
    return table


def test_superlatives_bounds_and_why_questions() -> None:
    assert asks_extreme("Which depot has the most vans in service?") == 1
    assert asks_extreme("Which depot is the cheapest to run?") == -1
    assert asks_extreme("Which depot needs at least 10 vans?") == 0  # a bound
    assert asks_extreme("How many vans does the largest depot have?") == 0  # a value asked
    assert asks_extreme("What explains the biggest rise in running cost?") == 0  # a reason


def test_cells_are_read_scaled_and_signed() -> None:
    assert cell_value("1.1 million euros") == 1_100_000
    assert cell_value("212,000 euros") == 212_000
    assert cell_value("down 2.0 percent") == -2.0
    assert cell_value("none") is None


def test_the_whole_table_is_read_from_any_of_its_rows() -> None:
    table = _table()
    assert table.header[0] == "Depot" and len(table.rows) == 4
    assert DOC[table.rows[0][0] : table.rows[0][1]].startswith("| Harlow Cross |")


def test_the_column_is_named_by_the_question_or_its_kind() -> None:
    table = _table()
    assert value_column("Which depot has the most vans in service?", table, DOC) == 1
    assert value_column("Which depot spends the most money?", table, DOC) == 2  # amounts
    assert value_column("Which depot's cost rose the most?", table, DOC) == 3  # changes
    assert value_column("Which depot has the most drivers?", table, DOC) is None  # unnamed


def test_a_table_with_one_numeric_column_ranks_on_it() -> None:
    """ "Which depot is the biggest?" names no column; the one column of numbers is it."""
    doc = "| Depot | Manager | Vans |\n|---|---|---|\n| Stainby | R. Holt | 9 |\n| Orrin Fell | M. Odd | 17 |\n"
    table = table_at(doc, "d", doc.index("| Stainby |"))
    assert table is not None
    assert value_column("Which depot is the biggest?", table, doc) == 2


def test_the_extreme_row_in_each_direction() -> None:
    table = _table()
    assert extreme_row("Which depot has the most vans in service?", table, DOC) == _row(
        "Meddon Quay"
    )
    assert extreme_row("Which depot has the fewest vans in service?", table, DOC) == _row("Stainby")
    assert extreme_row("Which depot's cost rose the most?", table, DOC) == _row("Orrin Fell")
    assert extreme_row("Which depot's cost fell the most?", table, DOC) == _row("Stainby")


def test_the_gate_judges_the_computed_row_without_the_superlative() -> None:
    a, b = _row("Meddon Quay")
    row = Chunk("fleet@x", "fleet", "fleet.md", "Fleet report 2026", a, b, DOC[a:b])
    q = "Which depot has the most vans in service?"
    assert without_superlative(q, row, DOC) == "Which depot has in service?"
    a, b = _row("Stainby")  # not the extreme row: the question stays whole
    other = Chunk("fleet@y", "fleet", "fleet.md", "Fleet report 2026", a, b, DOC[a:b])
    assert without_superlative(q, other, DOC) == q


def test_the_assistant_quotes_the_extreme_row_led_by_its_name(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"fleet.md": DOC})
    answer = bot.ask("Which depot has the most vans in service?")
    assert answer.answer.startswith("Meddon Quay — "), answer.answer
    assert [c.quote for c in answer.citations] == [DOC[slice(*_row("Meddon Quay"))].strip()]
    cheapest = bot.ask("Which depot has the lowest running cost?")
    assert cheapest.answer.startswith("Stainby — "), cheapest.answer

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

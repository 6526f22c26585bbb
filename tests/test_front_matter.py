"""Markdown front matter (``---`` / ``title:`` / ``date:`` / ``---``) files a document;
it is never quoted as an answer (it was a candidate sentence: its ``date:`` line is a
date, its title the question's words). Real components over a document written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Config

DOC = (
    "---\n"
    'title: "Harbour toll rises for lorries"\n'
    "date: 2025-04-09\n"
    "type: press release\n"
    "---\n\n"
    "# Harbour toll rises for lorries\n\n"
    "The port authority raised the lorry toll at Orran harbour to 14 euros. "
    "The new toll applies from 1 June 2025, and vans still pay 6 euros.\n"
)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    from rag.answer.assistant import Assistant

    root: Path = tmp_path_factory.mktemp("front_matter")
    (root / "seeds").mkdir()
    (root / "seeds" / "toll.md").write_text(DOC, encoding="utf-8")
    (root / "seeds" / "other.txt").write_text(
        "Orran ferry timetable\n\nThe first ferry leaves Orran at 6.40 a.m. daily.",
        encoding="utf-8",
    )
    return Assistant.from_config(Config.from_env({"root": root}, environ={}))


def test_front_matter_is_never_a_candidate_sentence(bot) -> None:
    index = bot.parts.index
    doc = index.document("seeds/toll.md")
    assert doc.title == "Harbour toll rises for lorries" and doc.date == "2025-04-09"
    chunks = [c for c in index.chunks if c.doc_id == doc.doc_id]
    texts = bot.extractive.texts_to_embed(chunks, {doc.doc_id: doc.text})
    assert texts and not any("date:" in t or "title:" in t or "---" in t for t in texts)
    assert any(t.startswith("The new toll applies from 1 June 2025") for t in texts)


@pytest.mark.parametrize(
    "question", ["When does the harbour toll for lorries rise?", "When was the toll rise dated?"]
)
def test_a_date_question_is_answered_from_the_text_not_the_front_matter(bot, question: str) -> None:
    answer = bot.ask(question)
    assert "2025-04-09" not in answer.answer and "date:" not in answer.answer
    for c in answer.citations:
        assert c.start >= DOC.index("# Harbour"), c

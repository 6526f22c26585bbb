"""Markdown front matter (``---`` / ``title:`` / ``date:`` / ``---``) files a document;
it is never quoted as an answer (it was a candidate sentence: its ``date:`` line is a
date, its title the question's words). Real components over a document written here."""

from __future__ import annotations

import pytest

from tests.conftest import assistant_over

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
    other = "Orran ferry timetable\n\nThe first ferry leaves Orran at 6.40 a.m. daily."
    return assistant_over(
        tmp_path_factory.mktemp("front_matter"), {"toll.md": DOC, "other.txt": other}
    )


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


def test_a_generator_is_given_the_prose_not_the_front_matter(bot) -> None:
    """The passages a generative backend reads start after the front matter (SmolLM2
    copied its "date:" line, or answered "I have read the sources. What is your
    question?"); their offsets still point into the file, for exact highlighting."""
    from rag.answer import generative

    doc = bot.parts.index.document("seeds/toll.md")
    (first, *_) = [c for c in bot.parts.index.chunks if c.doc_id == doc.doc_id]
    assert first.start == 0 and first.text.startswith("---")
    prose = generative.prose(first, doc.text)
    assert prose.text.startswith("# Harbour toll rises") and prose.end == first.end
    assert doc.text[prose.start : prose.end] == prose.text
    later = generative.prose(prose, doc.text)
    assert later == prose  # a chunk after the front matter is left as it is

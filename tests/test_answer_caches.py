"""The answer path's caches (sentences of a chunk, their terms, ...) never serve an edited
document's old text: they are keyed by the document's whole text, and these tests edit a
document in place (same length, same offsets) and check the answer follows the edit."""

from __future__ import annotations

from pathlib import Path

from rag.answer.candidates import chunk_sentences, sentence_terms
from rag.config import Config
from rag.text import tokenize

DOC = (
    "The Lantern Festival of Ostvik\n\n"
    "The town of Ostvik holds its lantern festival every October on the harbour front. "
    "This year the volunteers hung 312 paper lanterns along the quay before the parade. "
    "The parade itself started at seven in the evening and lasted two hours.\n"
)
EDITED = DOC.replace("312 paper", "275 paper")


def test_chunk_sentences_follow_an_edit_at_the_same_offsets() -> None:
    before = chunk_sentences(DOC, "d1", "a.txt", "The Lantern Festival of Ostvik", 0, len(DOC))
    after = chunk_sentences(EDITED, "d1", "a.txt", "The Lantern Festival of Ostvik", 0, len(DOC))
    said = [s.text for _, s, _ in before if s is not None]
    now = [s.text for _, s, _ in after if s is not None]
    assert any("312 paper lanterns" in t for t in said)
    assert any("275 paper lanterns" in t for t in now)
    assert not any("312" in t for t in now)
    # the title is a label: counted as seen, never a candidate
    assert all(s is None or s.text != "The Lantern Festival of Ostvik" for _, s, _ in after)
    assert [(a, s is None) for a, s, _ in before] == [(a, s is None) for a, s, _ in after]


def test_sentence_terms_are_the_tokenized_set() -> None:
    text = "This year the volunteers hung 312 paper lanterns along the quay."
    assert sentence_terms(text) == frozenset(tokenize(text))
    assert sentence_terms(text.replace("312", "275")) == frozenset(
        tokenize(text.replace("312", "275"))
    )


def test_answer_follows_an_edited_document(tmp_path: Path) -> None:
    """Ask, edit the document (same length: every chunk keeps its offsets), update the
    index, ask again: the new figure is answered and cited, the old one nowhere."""
    from rag.answer.assistant import Assistant

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "festival.txt").write_text(DOC, encoding="utf-8")
    cfg = Config.from_env({"root": tmp_path, "corpus_dir": docs}, environ={})
    bot = Assistant.from_config(cfg)
    question = "How many paper lanterns did the volunteers hang along the quay?"
    first = bot.ask(question)
    assert not first.abstained and "312" in first.answer
    assert any("312" in c.quote for c in first.citations)

    (docs / "festival.txt").write_text(EDITED, encoding="utf-8")
    bot.add_files([])  # an update: what changed in the folders since the build
    second = bot.ask(question)
    assert not second.abstained and "275" in second.answer and "312" not in second.answer
    assert all("312" not in c.quote for c in second.citations)
    assert any("275" in c.quote for c in second.citations)


def test_clearing_question_caches_keeps_the_sentence_caches() -> None:
    """What a benchmark clears between its recurring questions: the per-question caches
    empty, the per-sentence ones kept, and the answer's type match unchanged."""
    from rag.answer.extractive import _type_match, _typed, clear_question_caches

    sentence = "This year the volunteers hung 312 paper lanterns along the quay."
    question = "How many paper lanterns did the volunteers hang?"
    terms = sentence_terms(sentence)
    before = _type_match("number", question, sentence, ["paper", "lantern"])
    assert before == 1.0 and _typed.cache_info().currsize > 0
    clear_question_caches()
    assert _typed.cache_info().currsize == 0
    hits = sentence_terms.cache_info().hits
    assert sentence_terms(sentence) is terms and sentence_terms.cache_info().hits == hits + 1
    assert _type_match("number", question, sentence, ("paper", "lantern")) == before

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


# ------------------------------------------------ per-sentence caches of the typing helpers

SENTENCES = (
    "The Tarrach Field Station, run by the Calder Bay Trust since 2019, counted 312 puffins.",
    "Mayor Helen Ostrander said the county roads department would open 12 months after the vote.",
    "Deputy Mayor Wei Tao, Chairman of the Border Guard Command, met them at 9:30 on Friday.",
    "The staff car park in Brenmoor holds 240 cars; the visitor car park holds 80.",
)
QUESTIONS = (
    ("org", "Who runs the field station?"),
    ("number", "How many puffins did the Tarrach Field Station count in 2019?"),
    ("date", "When would the roads department open?"),
    ("date", "What time did they meet?"),
    ("place", "Where is the staff car park?"),
    ("person", "Who is the mayor?"),
)


def _answer_values_uncached(qtype: str, sentence: str, question: str) -> list[object]:
    """:func:`rag.answer.spans.answer_values` as it read before its per-sentence cache."""
    from rag.answer import spans

    kinds = spans.ANSWER_KINDS.get(qtype)
    if not kinds:
        return []
    if qtype == "date" and spans._TIME_ASKED.search(question):
        kinds = frozenset({"time"})
    asked = set(tokenize(question))
    out = []
    for s in spans.value_spans(sentence):
        if s.kind not in kinds and not (qtype == "date" and spans._relative_time(sentence, s)):
            continue
        toks = set(tokenize(s.text))
        if toks and toks <= asked:
            continue
        words = tokenize(s.text)
        topic = bool(words) and words[-1] in asked and 2 * len(toks & asked) > len(toks)
        if s.kind in {"org", "place"} and topic:
            continue
        out.append(s)
    return out


def test_answer_values_with_the_sentence_cache_are_the_uncached_ones() -> None:
    """The per-sentence facts (term sets, relative times, last terms) cached once give the
    same values for every question and type as computing them for each call."""
    from rag.answer.spans import answer_values

    for sentence in SENTENCES:
        for qtype, question in QUESTIONS:
            for kind in {qtype, "number", "date", "person", "org", "place", "measure"}:
                want = _answer_values_uncached(kind, sentence, question)
                assert answer_values(kind, sentence, question) == want, (kind, question)
    topic = answer_values("org", SENTENCES[0], "Who runs the field station?")
    assert [s.text for s in topic] == ["Calder Bay Trust"]  # the station is the topic


def test_titles_name_reads_the_cached_title_pairs() -> None:
    """``_titles_name`` over the cached (title, name, plain) triples answers as the regex
    scan it replaced: a title before a name not asked, never inside an organisation's."""
    import re

    from rag.answer.spans import _ORG_WORD, _key, _titles_name

    def scan(word: str, sentence: str, q_words: frozenset[str]) -> bool:
        pattern = r"([\w’'-]+)\s+(?=([A-ZÀ-ỸĐ][\w’'-]*(?:\s+[A-ZÀ-ỸĐ][\w’'-]*)*))"
        for m in re.finditer(pattern, sentence):
            if _key(m.group(1)) != word or _key(m.group(2).split()[0]) in q_words:
                continue
            if not _ORG_WORD.search(m.group(2)) and not _ORG_WORD.search(m.group(1)):
                return True
        return False

    for sentence in SENTENCES:
        for word in ("mayor", "chairman", "deputy", "guard", "the", "station"):
            for q_words in (frozenset(), frozenset({"helen"}), frozenset({"wei", "border"})):
                assert _titles_name(word, sentence, q_words) == scan(word, sentence, q_words)
    assert _titles_name("mayor", SENTENCES[1], frozenset())
    assert not _titles_name("mayor", SENTENCES[1], frozenset({"helen"}))


def test_phrase_lookups_of_a_sentence_match_its_words() -> None:
    """The cached joined pairs, first-term positions and term set of a sentence are what
    its words give, and the modifier rivals read through them are unchanged."""
    from rag.answer.noun_phrases import (
        _first_positions,
        _joined,
        _joined_firsts,
        _word_terms,
        modifier_rivals,
    )
    from rag.answer.qualifiers import words

    for text in SENTENCES:
        ws = words(text)
        pairs = {
            (a.terms[0], b.terms[0])
            for a, b in zip(ws, ws[1:], strict=False)
            if a.terms and b.terms and _joined(text, a, b)
        }
        assert _joined_firsts(text) == pairs
        assert _word_terms(text) == {t for w in ws for t in w.terms}
        for head, at in _first_positions(text).items():
            assert list(at) == [i for i, w in enumerate(ws) if head in w.terms[:1]]
    roads = SENTENCES[1]
    assert modifier_rivals("Who heads the county education department?", roads) == ["education"]
    assert modifier_rivals("Who heads the county roads department?", roads) == []

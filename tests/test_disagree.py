"""Many dated articles, one answer (issue 20): disagreeing sources, "latest" questions,
and the evaluation of both.

The detection tests run the real span typing on real sentences; the end-to-end tests
run the real assistant (MiniLM, FAISS, BM25) over a small corpus of dated articles
written here, and the evaluation tests load the shipped eval/multiarticle dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import prompts
from rag.answer import compare, disagree, recency, supporting
from rag.answer.extractive import Scored
from rag.answer.spans import Span
from rag.config import Config
from rag.types import Answer, Chunk

ROOT = Path(__file__).resolve().parents[1]
MULTIARTICLE = ROOT / "eval" / "multiarticle"

ARTICLES = {
    "a_plan.md": """---
title: Council unveils plan for Brindle Street library
date: 2024-05-02
---

The county council has unveiled a plan to rebuild the Brindle Street library.
The rebuild of the Brindle Street library is expected to cost £4.2 million.
The library would reopen in September 2026, the council said.
The branch is run by head librarian Oskar Lindqvist.
""",
    "b_update.md": """---
title: Library rebuild costs rise
date: 2025-02-11
---

The cost of the Brindle Street library rebuild has risen to £5.1 million, the council said.
Reopening is now planned for March 2027.
Head librarian Oskar Lindquist said the delay was disappointing.
""",
    "c_news.md": """---
title: Library volunteers honoured
date: 2025-09-30
---

Volunteers at the Brindle Street library were honoured at a ceremony on Tuesday.
The library now lends 12,000 books a month from its temporary home in the market hall.
""",
}


def scored(text: str, source: str, score: float, semantic: float, lexical: float) -> Scored:
    """A candidate sentence as the extractive backend scores it (the whole text is one
    sentence of a document named ``source``)."""
    chunk = Chunk(f"{source}@0", source, source, source, 0, len(text), text)
    return Scored(chunk, score, semantic, lexical, 1.0, 1)


DATES = {"old": "2024-05-02", "new": "2025-02-11", "undated": ""}


# ---------------------------------------------------------------------------- detection


def test_values_are_typed_and_compared_by_kind_and_unit() -> None:
    q = "How much will the rebuild cost?"
    a = supporting.answer_value("number", "The rebuild is expected to cost £4.2 million.", q)
    b = supporting.answer_value("number", "The cost has risen to £5,100,000.", q)
    assert a is not None and b is not None and a.kind == b.kind == "money"
    assert compare.conflict(a, b)
    same = supporting.answer_value("number", "It will cost £4.2m in all.", q)
    assert same is not None and not compare.conflict(a, same)
    # dates: a year or a day must be known on both sides ("January" alone pins nothing)
    d1 = supporting.answer_value("date", "It reopens in September 2026.", "When does it reopen?")
    d2 = supporting.answer_value("date", "Reopening is now planned for March 2027.", "When?")
    d3 = supporting.answer_value("date", "The plan was announced in January.", "When?")
    assert d1 and d2 and d3
    assert compare.conflict(d1, d2) and not compare.conflict(d1, d3)
    # names: two spellings of one name conflict, two different people do not
    n1 = compare.make_value(Span(0, 15, "person", "Oskar Lindqvist"))
    n2 = compare.make_value(Span(0, 15, "person", "Oskar Lindquist"))
    n3 = compare.make_value(Span(0, 12, "person", "Maria Santos"))
    assert n1 and n2 and n3
    assert compare.conflict(n1, n2) and not compare.conflict(n1, n3)


def test_find_reports_each_side_newest_first() -> None:
    q = "How much will the library rebuild cost?"
    cands = [
        scored("The library rebuild is expected to cost £4.2 million.", "old", 0.7, 0.7, 0.8),
        scored(
            "The cost of the library rebuild has risen to £5.1 million.", "new", 0.68, 0.69, 0.8
        ),
        scored("Volunteers were honoured on Tuesday.", "undated", 0.2, 0.2, 0.0),
    ]
    found = disagree.find(q, cands, DATES.get)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["£5.1 million", "£4.2 million"]
    assert [s.date for s in found.sides] == ["2025-02-11", "2024-05-02"]
    # agreeing sources, one document listing two figures, or undated sides: no disagreement
    agree = [cands[0], scored("The rebuild will cost £4.2 million.", "new", 0.69, 0.7, 0.8)]
    assert disagree.find(q, agree, DATES.get) is None
    listing = [
        cands[0],
        scored("The library rebuild may cost £5.1 million in all.", "old", 0.69, 0.7, 0.8),
    ]
    assert disagree.find(q, listing, DATES.get) is None
    undated = [cands[0], scored(cands[1].chunk.text, "undated", 0.68, 0.69, 0.8)]
    assert disagree.find(q, undated, DATES.get) is None


def test_annotate_cites_each_side_and_needs_the_answer_to_be_one() -> None:
    q = "How much will the library rebuild cost?"
    old = scored("The library rebuild is expected to cost £4.2 million.", "old", 0.7, 0.7, 0.8)
    new = scored(
        "The cost of the library rebuild has risen to £5.1 million.", "new", 0.68, 0.69, 0.8
    )
    answer = Answer(q, q, f"{old.chunk.text[:-1]} [1].", False, "extractive")
    c = old.chunk
    from rag.types import Citation

    answer.citations = [Citation(1, c.source, c.doc_title, c.start, c.end, c.text, 0.7)]
    found = disagree.annotate(answer, q, [old, new], DATES.get)
    assert found is not None
    assert "source [2] (11 Feb 2025) gives £5.1 million" in answer.answer
    assert "source [1] (2 May 2024) gives £4.2 million" in answer.answer
    assert answer.answer.index("[2] (11 Feb") < answer.answer.index("[1] (2 May")
    assert [x.source for x in answer.citations] == ["old", "new"]
    assert answer.citations[1].quote == new.chunk.text
    # an answer about something else gets no note, even where the sources disagree
    other = Answer(q, q, "Volunteers were honoured [1].", False, "extractive")
    other.citations = [Citation(1, "undated", "undated", 0, 5, "Volun", 0.2)]
    assert disagree.annotate(other, q, [old, new], DATES.get) is None
    assert "disagree" not in other.answer


def test_latest_questions_are_recognised() -> None:
    for q in (
        "What is the latest on the library?",
        "Who currently runs the branch?",
        "Is the library still closed?",
        "How many books does it lend now?",
        "What is the most recent cost?",
    ):
        assert recency.asks_latest(q), q
    for q in ("How much will the rebuild cost?", "Who designed the library?"):
        assert not recency.asks_latest(q), q
    assert disagree.show_date("2026-03-03") == "3 Mar 2026"
    assert disagree.show_date("2025-11") == "Nov 2025"
    assert disagree.show_date("") == prompts.DATE_UNKNOWN


# ---------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def dated_bot(tmp_path_factory: pytest.TempPathFactory):
    """A real assistant over three dated articles that disagree."""
    from rag.answer.assistant import Assistant

    root = tmp_path_factory.mktemp("dated")
    (root / "seeds").mkdir()
    for name, text in ARTICLES.items():
        (root / "seeds" / name).write_text(text, encoding="utf-8")
    return Assistant.from_config(Config.from_env({"root": root}, environ={}))


def test_disagreeing_sources_are_both_cited_newest_first(dated_bot) -> None:
    answer = dated_bot.ask("How much will the Brindle Street library rebuild cost?")
    assert not answer.abstained
    text = answer.answer
    assert "£5.1 million" in text and "£4.2 million" in text, text
    assert "The sources disagree" in text
    assert text.index("£5.1 million", text.index("disagree")) < text.rindex("£4.2 million")
    cited = {Path(c.source).name for c in answer.citations}
    assert {"a_plan.md", "b_update.md"} <= cited
    for c in answer.citations:  # every quote is the document's text at its offsets
        assert dated_bot.document(c.source).text[c.start : c.end] == c.quote
    off = dated_bot.ask(
        "How much will the Brindle Street library rebuild cost?", dated_answers=False
    )
    assert "disagree" not in off.answer


def test_a_latest_question_cites_the_newest_source_and_its_date(dated_bot) -> None:
    answer = dated_bot.ask("When is the Brindle Street library now expected to reopen?")
    assert not answer.abstained
    assert answer.answer.startswith(prompts.AS_OF.format(date="11 Feb 2025")), answer.answer
    assert "March 2027" in answer.answer and "September 2026" not in answer.answer
    assert {Path(c.source).name for c in answer.citations} == {"b_update.md"}


def test_narrowing_still_holds_for_the_disagreement_check(dated_bot) -> None:
    from rag.retrieve.filters import SourceFilter

    only = [d.source for d in dated_bot.documents if d.source.endswith("a_plan.md")]
    answer = dated_bot.ask(
        "How much will the Brindle Street library rebuild cost?",
        narrow=SourceFilter.parse(sources=only),
    )
    assert "£4.2 million" in answer.answer and "£5.1 million" not in answer.answer
    assert {c.source for c in answer.citations} == set(only)


# ---------------------------------------------------------------------------- evaluation


def test_the_multiarticle_dataset_loads_with_its_new_types() -> None:
    from rag.evaluation.dataset import load_dataset
    from rag.evaluation.suite import load_suite

    suite = load_suite(MULTIARTICLE / "suite.toml")
    assert {d.split for d in suite.domains} == {"dev", "test"}
    for d in suite.domains:
        ds = load_dataset(d.questions[0], d.docs)
        types = {i.type for i in ds.items}
        assert {"disagreement", "recency", "filtered", "followup", "two_part"} <= types
        for item in ds.items:
            if item.type == "disagreement":
                assert len(item.sides) >= 2
                assert [s.date for s in item.sides] == sorted(
                    (s.date for s in item.sides), reverse=True
                )
            if item.type == "followup":
                assert item.history and all(len(t) == 2 for t in item.history)
            if item.type == "filtered":
                assert item.filter


def test_dataset_checks_the_new_fields(tmp_path: Path) -> None:
    from rag.evaluation.dataset import DatasetError, load_dataset

    base = {
        "id": "x1",
        "question": "How much?",
        "answer": "£5",
        "aliases": [],
        "answerable": True,
        "source_files": ["a.txt"],
        "evidence": ["£5"],
        "type": "disagreement",
        "sides": [{"answer": "£5"}],
    }
    bad = [
        base,
        {**base, "id": "x2", "type": "filtered", "sides": [], "filter": {"since": "May"}},
        {**base, "id": "x3", "type": "followup", "sides": [], "history": [{"question": "q"}]},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in bad) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    text = "\n".join(err.value.problems)
    assert "a disagreement needs at least two sides" in text
    assert "'filter'" in text and "since must be a date" in text
    assert "'history'[0]" in text


def test_metrics_both_sides_and_newest(embedder, seed_config) -> None:
    from rag.evaluation.dataset import Item, Side
    from rag.evaluation.metrics import Scorer, summarize
    from rag.types import Citation

    scorer = Scorer(seed_config, embedder)
    item = Item(
        "d1",
        "How much?",
        "£5",
        (),
        True,
        ("b.txt", "a.txt"),
        ("£5", "£4"),
        "disagreement",
        sides=(Side("£5", (), ("b.txt",), "2025"), Side("£4", (), ("a.txt",), "2024")),
    )

    def answer(text: str, files: list[str]) -> Answer:
        a = Answer("How much?", "How much?", text, False, "extractive")
        a.citations = [Citation(i + 1, f, f, 0, 2, "£5", 1.0) for i, f in enumerate(files)]
        return a

    both = scorer.score(item, answer("£5 [1]; £4 [2].", ["b.txt", "a.txt"]))
    one = scorer.score(item, answer("£5 [1].", ["b.txt"]))
    uncited = scorer.score(item, answer("£5 [1], £4.", ["b.txt"]))
    assert both["metrics"]["both_sides_cited"] is True
    assert one["metrics"]["both_sides_cited"] is False
    assert uncited["metrics"]["both_sides_cited"] is False
    rec = Item(
        "r1", "Now?", "84%", (), True, ("b.txt",), ("84%",), "recency", stale_answers=("79%",)
    )
    good = scorer.score(rec, answer("It is at 84% [1].", ["b.txt"]))
    stale = scorer.score(rec, answer("It is at 84% [1], up from 79%.", ["b.txt"]))
    assert good["metrics"]["newest_preferred"] and not stale["metrics"]["newest_preferred"]
    summary = summarize([both, one, good, stale])
    assert summary["both_sides_cited"] == 0.5 and summary["newest_preferred"] == 0.5


def test_a_latest_answer_citing_only_older_sources_gets_the_newest_added() -> None:
    from rag.types import Citation

    q = "When is the library now expected to reopen?"
    old = scored("The library would reopen in September 2026.", "old", 0.7, 0.7, 0.8)
    new = scored("Reopening of the library is now planned for March 2027.", "new", 0.69, 0.68, 0.8)
    answer = Answer(q, q, "The library would reopen in September 2026 [1].", False, "openai")
    c = old.chunk
    answer.citations = [Citation(1, c.source, c.doc_title, c.start, c.end, c.text, 0.7)]
    recency.settle(answer, q, [old, new], DATES.get)
    assert answer.answer.endswith(
        prompts.NEWER_SOURCE.format(n=2, date="11 Feb 2025", quote=new.chunk.text.rstrip("."))
    )
    assert [x.source for x in answer.citations] == ["old", "new"]
    current = Answer(q, q, "Reopening is now planned for March 2027 [1].", False, "openai")
    c = new.chunk
    current.citations = [Citation(1, c.source, c.doc_title, c.start, c.end, c.text, 0.7)]
    recency.settle(current, q, [old, new], DATES.get)
    assert current.answer.startswith(prompts.AS_OF.format(date="11 Feb 2025"))


@pytest.mark.slow
def test_generative_answers_get_the_same_checks(dated_bot) -> None:
    """The local model (llamacpp, SmolLM2) drafts; after verification the disagreement
    note is added from the sources, whatever the draft said."""
    answer = dated_bot.ask(
        "How much will the Brindle Street library rebuild cost?", backend="llamacpp"
    )
    if answer.abstained or answer.backend != "llamacpp":
        pytest.skip(f"the local model gave no usable draft here ({answer.backend})")
    assert "The sources disagree" in answer.answer
    assert "£5.1 million" in answer.answer and "£4.2 million" in answer.answer
    assert {"a_plan.md", "b_update.md"} <= {Path(c.source).name for c in answer.citations}


# ---------------------------------------------------------------------------- binding


def test_a_name_counts_only_near_a_word_of_the_asked_role() -> None:
    q = "Who is currently the chief executive of Fenmoor Water?"
    assert supporting.role_terms(q) == {"chief", "executive"}  # not the subject, not "currently"
    ceo = "The announcement was made by Ruth Achterberg, who took over as chief executive."
    regulator = "The Water Charges Commission last month approved an average bill rise of 3.6%."
    assert [v.span.text for v in supporting.values_of("person", ceo, q)] == ["Ruth Achterberg"]
    assert supporting.values_of("person", regulator, q) == []  # no chief executive named
    # "what is the name of" is the question's wording, not the role
    named = "What's the name of the project director?"
    assert supporting.role_terms(named) == {"project", "director"}
    farm = "The reservoir takes its name from Cullerby farm, the largest of the farms."
    assert supporting.values_of("person", farm, named) == []
    lead = "The scheme is led by project director Marit Halvorsen, who ran the weir rebuild."
    assert [v.span.text for v in supporting.values_of("person", lead, named)] == ["Marit Halvorsen"]


def test_a_latest_question_reads_ever_newer_articles() -> None:
    dates = {"a": "2025-01-01", "b": "2025-06-01", "c": "2025-09-01", "d": "2026-01-01"}
    groups = recency.newest_groups(["a", "b", "c", "d"], dates)
    assert groups == [["a", "b", "c", "d"], ["d", "c"], ["d"]]
    assert recency.newest_groups(["a"], dates) == [["a"]]


def test_the_wider_search_for_a_name_asks_for_the_role_and_the_name() -> None:
    from rag.types import Citation

    q = "What's the name of the Cullerby project director?"
    quote = "The scheme is led by project director Marit Halvorsen, who ran the weir rebuild."
    answer = Answer(q, q, f"{quote} [1]", False, "extractive")
    answer.citations = [Citation(1, "a", "a", 0, len(quote), quote, 0.5)]
    assert disagree.seed_query(q, answer) == "project director Marit Halvorsen"
    # a figure on the other side is another figure: its words would find nothing new
    cost = "How much will the rebuild cost?"
    quote = "The rebuild is expected to cost £4.2 million."
    money = Answer(cost, cost, f"{quote} [1]", False, "extractive")
    money.citations = [Citation(1, "a", "a", 0, len(quote), quote, 0.5)]
    assert disagree.seed_query(cost, money) is None

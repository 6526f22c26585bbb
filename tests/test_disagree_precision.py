"""Many dated articles (issue 20): no disagreement note where the sources give values for
different things. Minutes of each month's meeting give that meeting's attendance; a
question about the January meeting is not answered two ways by the April minutes. A count
of "affordable homes" is not disputed by counts of other homes. And a "latest" answer does
not get a "newest source" sentence that only shares a value's kind with the question."""

from __future__ import annotations

from rag import prompts
from rag.answer import disagree, recency
from rag.answer.extractive import Scored
from rag.types import Answer, Chunk, Citation

DATES = {"jan": "2026-01-14", "apr": "2026-04-08", "mar": "2026-03-11", "undated": ""}


def scored(text: str, source: str, score: float, semantic: float, lexical: float) -> Scored:
    """A candidate sentence (the whole text is one sentence of document ``source``)."""
    chunk = Chunk(f"{source}@0", source, source, source, 0, len(text), text)
    return Scored(chunk, score, semantic, lexical, 1.0, 1)


def test_the_month_a_question_names_is_read_from_its_words() -> None:
    assert disagree.asked_month("how many councillors came to the january meeting") == 1
    assert disagree.asked_month("What was the level in September 2024?") == 9
    assert disagree.asked_month("When may the May fair open?") == 5  # "may": a verb
    assert disagree.asked_month("How far did the march go?") is None
    assert disagree.asked_month("Was it January or February?") is None  # two months


def test_another_months_minutes_are_no_side() -> None:
    q = "How many members attended the january meeting?"
    jan = scored("Present: 14 members attended the meeting.", "jan", 0.6, 0.6, 0.6)
    apr = scored("Present: 7 members attended the meeting.", "apr", 0.58, 0.59, 0.6)
    assert disagree.find("How many members attended the meeting?", [jan, apr], DATES.get)
    assert disagree.find(q, [jan, apr], DATES.get) is None
    said = scored("In January, 12 members attended the meeting.", "apr", 0.58, 0.59, 0.6)
    found = disagree.find(q, [jan, said], DATES.get)  # it names the month: a side
    assert found is not None
    assert {s.value.span.text for s in found.sides} == {"14 members", "12 members"}
    undated = scored("Present: 9 members attended the meeting.", "undated", 0.58, 0.59, 0.6)
    assert disagree.in_asked_month(undated, 1, DATES.get)  # no date: cannot tell
    assert not disagree.in_asked_month(apr, 1, DATES.get)


def test_counts_of_other_homes_do_not_dispute_a_qualified_count() -> None:
    q = "How many affordable homes will the Fellside scheme provide?"
    flood = scored("The scheme will protect 318 homes in the lower town.", "mar", 0.6, 0.6, 0.4)
    build = scored("The Fellside scheme would build 120 homes.", "apr", 0.58, 0.58, 0.5)
    assert disagree.find(q, [flood, build], DATES.get) is None
    assert disagree.find("How many homes will the scheme provide?", [flood, build], DATES.get)
    a = scored("The Fellside scheme will provide 36 affordable homes.", "mar", 0.7, 0.7, 0.8)
    b = scored("The Fellside scheme now provides 40 affordable homes.", "apr", 0.69, 0.7, 0.8)
    found = disagree.find(q, [a, b], DATES.get)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["40 affordable", "36 affordable"]


def test_a_newest_sentence_about_another_thing_is_not_added() -> None:
    q = "What is the default number of agent streams now?"
    old = scored("The default number of agent streams is now 6.", "jan", 0.7, 0.72, 0.8)
    far = scored("The console port, 8443 by default, must not be exposed.", "apr", 0.24, 0.23, 0.2)
    answer = Answer(q, q, "The default number of agent streams is now 6 [1].", False, "openai")
    c = old.chunk
    answer.citations = [Citation(1, c.source, c.doc_title, c.start, c.end, c.text, 0.7)]
    recency.settle(answer, q, [old, far], DATES.get)
    assert answer.answer.startswith(prompts.AS_OF.format(date="14 Jan 2026"))
    assert "8443" not in answer.answer and len(answer.citations) == 1


def test_an_amount_moved_or_for_another_payer_is_no_rival_cost() -> None:
    q = "How much did the council have to pay in appeal costs?"
    costs = scored(
        "The inspector ordered the council to pay the appellant's costs of 12,400 euros.",
        "apr",
        0.63,
        0.71,
        0.62,
    )
    moved = scored(
        "He asked the council to approve a transfer of 300,000 euros from the reserve, "
        "out of which the council will pay its share.",
        "mar",
        0.5,
        0.55,
        0.4,
    )
    assert disagree.find(q, [costs, moved], DATES.get) is None
    q = "How much will the library rebuild cost?"
    old = scored("The library rebuild is expected to cost £4.2 million.", "jan", 0.7, 0.7, 0.8)
    new = scored(
        "The cost of the library rebuild has risen to £5.1 million.", "apr", 0.68, 0.69, 0.8
    )
    found = disagree.find(q, [old, new], DATES.get)  # each amount in a clause of its cost
    assert found is not None and len(found.sides) == 2


def test_unit_nouns_are_made_plural_for_the_note() -> None:
    words = ["megawatt", "inch", "storey", "foot", "century", "hours", "box", "metre"]
    assert [disagree.plural(w) for w in words] == [
        "megawatts",
        "inches",
        "storeys",
        "feet",
        "centuries",
        "hours",
        "boxes",
        "metres",
    ]

"""Many dated articles, one answer (issue 20): rules that carry to another genre.

A school district's budget articles disagree in their own wording: a year is named as a
period ("the 2025-26 budget"), money words are inflected ("Per-pupil spending would be
$14,300"), a change is a percentage ("by how much will the levy rise"), the year asked
about is stated once per article, a name spelt otherwise stands beside its full role, a
body's name holds the question's words ("Corliss Valley School District"), and an older
article's sentence beside the newest gives a former state. These tests run the real span
typing (:mod:`rag.answer.spans`) on real sentences; the scores stand for the extractive
backend's (meaning, wording). No word of any corpus is in the rules they test.
"""

from __future__ import annotations

from rag.answer import compare, disagree, recency, supporting
from rag.answer.draft import compose
from rag.answer.extractive import Scored
from rag.types import Chunk

DATES = {"old.txt": "2025-02-11", "mid.txt": "2025-03-04", "new.txt": "2025-06-12"}
DATES |= {"later.txt": "2026-02-24", "next.txt": "2026-03-17"}


def date_of(doc_id: str) -> str:
    return DATES.get(doc_id, "")


def scored(
    text: str, source: str, score: float, semantic: float, lexical: float, title: str = ""
) -> Scored:
    """A candidate sentence of document ``source`` as the extractive backend scores it."""
    chunk = Chunk(f"{source}@{hash(text) % 997}", source, source, title, 0, len(text), text)
    return Scored(chunk, score, semantic, lexical, 1.0, 1)


def test_a_span_of_years_is_a_period_not_a_date_or_figure() -> None:
    sentence = "Residents approved the district's 2025-26 budget on June 3, 2025, by 3,214 votes."
    q = "When will residents vote on the school budget?"
    dates = [v.span.text for v in supporting.values_of("date", sentence, q)]
    assert dates == ["June 3, 2025"]
    figures = supporting.values_of("number", "It raises the 2025-26 levy by 3.5%.", "how much?")
    assert "26" not in [v.span.text for v in figures]
    assert compare.in_year_range("the 2024/2025 year", compare.Span(4, 8, "date", "2024"))
    assert not compare.in_year_range("on 2025-06-12", compare.Span(3, 7, "date", "2025"))


def test_money_words_are_read_inflected() -> None:
    found = [m.group() for m in compare.MONEY_CUE.finditer("spending, funded, budgets, billion")]
    assert found == ["spending", "funded", "budgets"]
    q = "How much will the district spend per pupil?"
    cands = [
        scored("Per-pupil spending would be $14,300 under the proposal.", "mid.txt", 0.7, 0.8, 0.6),
        scored("Per-pupil spending will be $14,650.", "new.txt", 0.6, 0.75, 0.5),
    ]
    found_sides = disagree.find(q, cands, date_of)
    assert found_sides is not None
    assert [s.value.span.text for s in found_sides.sides] == ["$14,650", "$14,300"]


def test_the_asked_year_may_be_stated_once_in_the_article() -> None:
    q = "How much is the district budget for 2025-26?"
    cands = [
        scored(
            "The superintendent proposed an $84.2 million budget for the 2025-26 year.",
            "old.txt",
            0.86,
            0.76,
            1.0,
        ),
        scored(
            "The adopted budget totals $86.9 million after state aid rose.",
            "new.txt",
            0.52,
            0.52,
            0.26,
            title="Voters approve the 2025-26 budget",
        ),
        scored(
            "The interim superintendent proposed an $89.5 million budget for 2026-27.",
            "next.txt",
            0.66,
            0.70,
            0.65,
        ),
    ]
    found = disagree.find(q, cands, date_of)
    assert found is not None  # the 2026-27 budget is another year's: no side
    assert [s.value.span.text for s in found.sides] == ["$86.9 million", "$84.2 million"]


def test_by_how_much_asks_for_a_percentage_too() -> None:
    q = "By how much will the local tax levy rise under the budget?"
    cands = [
        scored("It raises the local tax levy by 3.5%.", "new.txt", 0.69, 0.73, 0.46),
        scored(
            "The plan would cut staff and raise the local tax levy by 3.9%.",
            "old.txt",
            0.57,
            0.53,
            0.46,
        ),
    ]
    found = disagree.find(q, cands, date_of)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["3.5%", "3.9%"]


def test_a_name_beside_its_full_role_is_a_side_whatever_else_is_said() -> None:
    q = "Who is the chief financial officer of Corliss Valley?"
    cands = [
        scored(
            "Chief financial officer Marisol Quintero said the district would hire aides.",
            "later.txt",
            0.59,
            0.52,
            0.74,
        ),
        scored(
            "Chief financial officer Marisol Quintera said the changes would not add to the levy.",
            "mid.txt",
            0.44,
            0.25,
            0.55,
        ),
    ]
    found = disagree.find(q, cands, date_of)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["Marisol Quintero", "Marisol Quintera"]


def test_a_word_of_a_proper_name_does_not_name_the_asked_event() -> None:
    q = "When will residents vote on the school budget?"
    cands = [
        scored("Residents approved the budget on June 3, 2025.", "new.txt", 0.8, 0.74, 0.88),
        scored("Residents will vote on the budget on May 20, 2025.", "old.txt", 0.66, 0.61, 0.57),
        scored(
            "The Corliss Valley School District lifted its hiring freeze on February 2, 2026.",
            "later.txt",
            0.46,
            0.51,
            0.43,
        ),
    ]
    found = disagree.find(q, cands, date_of)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["June 3, 2025", "May 20, 2025"]
    kept = disagree._outside_names("The Corliss Valley School District lifted it").split()
    assert kept == ["lifted", "it"]


def test_a_latest_answer_drops_an_older_articles_sentence() -> None:
    q = "Is the hiring freeze still in effect?"
    newest = scored(
        "The district lifted its hiring freeze on February 2, 2026.", "later.txt", 0.68, 0.8, 0.58
    )
    older = scored(
        "A hiring freeze takes effect on March 10, 2025 for all positions.",
        "mid.txt",
        0.64,
        0.68,
        0.75,
    )
    draft = compose(q, [(q, newest), (q, older)], [newest, older], False)
    assert len(draft.sources) == 2
    kept, date = recency.prefer_newest(draft, date_of)
    assert date == "2026-02-24"
    assert [s.chunk.doc_id for s in kept.sources] == ["later.txt"]
    assert "March 10" not in kept.text and "[2]" not in kept.text


def test_a_part_of_a_year_is_part_of_the_date() -> None:
    q = "When will the new school open?"
    autumn = supporting.values_of("date", "The school will open in autumn 2026.", q)[0]
    spring = supporting.values_of("date", "The school will now open in the spring of 2026.", q)[0]
    september = supporting.values_of("date", "The school opens in September 2026.", q)[0]
    assert (autumn.span.text, spring.span.text) == ("autumn 2026", "spring of 2026")
    assert compare.conflict(autumn, spring)
    assert not compare.conflict(autumn, september)  # September is in the autumn
    mid = supporting.values_of("date", "It opens in mid-2026.", q)[0]
    assert mid.span.text == "mid-2026" and compare.conflict(mid, autumn)


def test_one_currency_written_as_a_symbol_or_a_word() -> None:
    q = "How much will the merger cost?"
    symbol = supporting.values_of("number", "The merger will cost £1.2bn.", q)[0]
    word = supporting.values_of("number", "The merger will cost 1.3 billion pounds.", q)[0]
    same = supporting.values_of("number", "The merger will cost £1,200 million.", q)[0]
    assert symbol.key == word.key == same.key == ("money", "gbp")
    assert compare.conflict(symbol, word) and compare.same_value(symbol, same)
    assert compare.currency_key("4.2 million dollars") == compare.currency_key("$4.5m")


def test_an_abbreviated_title_names_the_role() -> None:
    q = "Who is the chief executive of the trust?"
    said = "CEO Maria Okonkwo said so."
    assert [v.span.text for v in supporting.values_of("person", said, q)] == ["CEO Maria Okonkwo"]
    q = "Who is the CEO of the trust?"
    said = "Chief executive Maria Okonkwo said so."
    assert [v.span.text for v in supporting.values_of("person", said, q)] == ["Maria Okonkwo"]
    assert supporting.values_of("person", "The board met Tom Hardy on Monday.", q) == []


def test_an_article_recalling_the_value_it_replaced_is_still_one_side() -> None:
    dates = {"old.txt": "2025-02-03", "new.txt": "2026-03-03"}
    q = "How much will the new hospital cost?"
    cands = [
        scored(
            "The new hospital will cost £310 million, the trust said.", "old.txt", 0.8, 0.8, 0.8
        ),
        scored("The new hospital will now cost £355 million.", "new.txt", 0.75, 0.78, 0.8),
        scored(
            "The original estimate for the new hospital was £310 million.",
            "new.txt",
            0.7,
            0.75,
            0.7,
        ),
    ]
    found = disagree.find(q, cands, dates.get)
    assert found is not None
    assert [(s.value.span.text, s.date) for s in found.sides] == [
        ("£355 million", "2026-03-03"),
        ("£310 million", "2025-02-03"),
    ]
    q = "When will the new hospital open?"
    cands = [
        scored("The new hospital will open in March 2027.", "old.txt", 0.8, 0.8, 0.8),
        scored("Its opening has been pushed back to September 2027.", "new.txt", 0.75, 0.78, 0.8),
        scored("The new hospital had been due to open in March 2027.", "new.txt", 0.6, 0.6, 0.5),
    ]
    found = disagree.find(q, cands, dates.get)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["September 2027", "March 2027"]
    listing = [  # one article giving both values as current lists them: no disagreement
        scored("The east wing will cost £310 million.", "new.txt", 0.8, 0.8, 0.8),
        scored("The new hospital will cost £355 million.", "new.txt", 0.75, 0.78, 0.8),
        scored("The new hospital will cost £310 million.", "old.txt", 0.7, 0.75, 0.7),
    ]
    assert disagree.find("How much will the new hospital cost?", listing, dates.get) is None


def test_a_count_in_words_is_a_figure() -> None:
    q = "How many operating theatres will the hospital have?"
    words = supporting.values_of("number", "The hospital will have eight operating theatres.", q)
    digits = supporting.values_of("number", "The hospital will have 6 operating theatres.", q)
    assert words[0].amount == (8.0,) and words[0].key == digits[0].key
    assert compare.conflict(words[0], digits[0], q)


def test_a_latest_count_is_a_count_of_the_asked_thing() -> None:
    dates = {"old.txt": "2025-06-12", "new.txt": "2025-12-15"}
    q = "How many teaching positions are being cut now?"
    cut = scored("The adopted budget eliminates 35 teaching positions.", "old.txt", 0.7, 0.7, 0.8)
    other = scored(
        "The superintendent will retire after nine years leading the district.",
        "new.txt",
        0.5,
        0.62,
        0.4,
    )
    assert recency.newest_support(q, [cut, other], dates.get) is cut


def test_the_kind_of_amount_a_question_asks_for() -> None:
    assert (
        supporting.asked_money_kinds("How many teaching jobs does the budget eliminate?") == set()
    )
    assert supporting.asked_money_kinds("What percentage rise in the levy does it bring?") == {
        "percent"
    }
    assert supporting.asked_money_kinds("How much will it cost?") == {"money"}
    assert "budget" not in compare.asked_money_cues(
        "What is per-pupil spending under the 2025-26 budget?"
    )
    assert compare.asked_money_cues("How much is the budget for 2025-26?") == {"budget"}


def test_the_role_itself_without_whose_it_is() -> None:
    q = "What is the name of the district's chief financial officer?"
    assert supporting.core_role(q) == {"chief", "financial", "officer"}
    assert supporting.core_role("Who is the president of the school board?") == {"president"}
    q = "What is the name of the district's chief financial officer?"
    cands = [
        scored(
            "Families can write to chief financial officer Marisol Quintero.",
            "mid.txt",
            0.68,
            0.58,
            0.72,
        ),
        scored("Chief financial officer Marisol Quintera said so.", "old.txt", 0.47, 0.29, 0.63),
    ]
    found = disagree.find(q, cands, date_of)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["Marisol Quintero", "Marisol Quintera"]


def test_a_question_of_distance_is_answered_in_units_of_length() -> None:
    q = "How far from the shore will the turbines be?"
    assert {"kilometre", "mile"} <= supporting.asked_units(q)
    assert "turbin" not in supporting.asked_units(q)
    assert supporting.asked_units("by how many metres is the wall raised") == {"metre"}
    cands = [
        scored(
            "The project would place its turbines 24 km from shore.", "new.txt", 0.61, 0.6, 0.45
        ),
        scored(
            "Tidereach wants 30 turbines on a bank 22 kilometres off the coast.",
            "old.txt",
            0.6,
            0.69,
            0.42,
        ),
    ]
    found = disagree.find(q, cands, date_of)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["24 km", "22 kilometres"]


def test_a_date_asked_for_by_name_and_a_price_that_is_a_cost() -> None:
    assert supporting.asked_type("What is the closing date of the consultation?") == "date"
    assert disagree.applicable("What is the closing date of the consultation?")
    assert "cost" in compare.asked_money_cues("What is the price of building the wind farm?")
    assert "charg" not in compare.asked_money_cues("How much will they pay me?")


def test_a_measure_is_no_count_under_another_name() -> None:
    q = "How many megawatts will the wind farm generate?"
    mw = supporting.values_of("number", "The wind farm would have a capacity of 450 megawatts.", q)
    homes = supporting.values_of("number", "It would power 410,000 households.", q)
    assert not compare.conflict(mw[0], homes[0], q)
    q = "how many people will work on the site at the peak of construction"
    people = supporting.values_of("number", "About 220 people will work on the site.", q)
    jobs = supporting.values_of("number", "Around 180 jobs would be created at the peak.", q)
    assert compare.conflict(people[0], jobs[0], q)  # counted alike: people and jobs

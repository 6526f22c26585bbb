"""Many articles, one answer (issue 20): a question whose dated sources disagree is answered
with both sides even where the abstention gate refuses the draft's best sentence, and a
near miss is still refused; the sides the check reads include an amount worded unlike
the best sentence ("It is expected to cost ...") and a measured attribute ("What will the
capacity of X be?").

The gate reads one sentence, the best of the first search. Where two articles give a
value two ways that is often a sentence about something else ("Dredging of Kellsby
harbour was suspended ..." for "Who is the harbour master at Kellsby?"), and the
disagreement check, which ran only after an answer, never saw the sides. The end-to-end
tests run the real assistant (MiniLM, FAISS, BM25) over the shipped eval/multiarticle dev
documents (never the test split), indexed in a temporary folder; the detection tests run
the real span typing on sentences written here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer import disagree
from rag.answer.extractive import Scored
from rag.config import Config
from rag.types import Chunk

DEV = Path(__file__).resolve().parents[1] / "eval" / "multiarticle"
DATES = {"plan": "2024-03-01", "update": "2025-06-10", "other": "2025-01-05"}


def sentence(text: str, doc: str, start: int, score: float, sem: float, lex: float) -> Scored:
    """A candidate sentence of document ``doc`` at offset ``start``, as the extractive
    backend scores it."""
    chunk = Chunk(f"{doc}@{start}", doc, doc, doc, start, start + len(text), text)
    return Scored(chunk, score, sem, lex, 1.0, 1)


# ---------------------------------------------------------------------------- detection


def test_an_amount_after_the_asked_money_word_about_it_is_a_side() -> None:
    """ "It is expected to cost £9.5 million" says what the question asks, worded unlike the
    best sentence: its subject is in the sentence before it."""
    q = "How much will the Harrow Point ferry terminal cost?"
    lead = "The Harrow Point ferry terminal would have eight berths."
    it = "It is expected to cost £9.5 million, and work starts in May."
    cands = [
        sentence(
            "The cost of the Harrow Point ferry terminal has risen to £12 million.",
            "update",
            0,
            0.8,
            0.8,
            1.0,
        ),
        sentence(lead, "plan", 0, 0.45, 0.5, 0.4),
        sentence(it, "plan", len(lead) + 1, 0.45, 0.44, 0.26),
    ]
    found = disagree.find(q, cands, DATES.get)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["£12 million", "£9.5 million"]
    # the sentence before it is about something else: "it" is not the terminal
    other = "The town council opened a new car park last spring."
    moved = [cands[0], sentence(other, "plan", 0, 0.4, 0.4, 0.3)]
    moved.append(sentence(it, "plan", len(other) + 1, 0.45, 0.44, 0.26))
    assert disagree.find(q, moved, DATES.get) is None
    # an amount that is not the question's money word's ("raised £9.5 million") is not
    raised = "It has raised £9.5 million from its members."
    apart = [cands[0], cands[1], sentence(raised, "plan", len(lead) + 1, 0.45, 0.44, 0.26)]
    assert disagree.find(q, apart, DATES.get) is None


def test_a_confident_side_anchors_the_disagreement() -> None:
    """The best-scored group is about something else (a company near "harbour"); the side
    the gate is confident of anchors the disagreement, and without one there is none."""
    q = "Who is the harbour master at Ostby?"
    cands = [
        sentence(
            "Work at Ostby harbour was paused, Marlow Energy said.", "other", 0, 0.6, 0.5, 0.6
        ),
        sentence("Harbour master Ivo Brandt welcomed the plan.", "plan", 0, 0.57, 0.4, 0.75),
        sentence(
            "Harbour master Ivo Brant said the harbour was busy.", "update", 0, 0.52, 0.38, 0.75
        ),
    ]
    assert disagree.find(q, cands, DATES.get) is None  # anchored on the best, it finds none
    side = disagree.confident_side(q, cands, DATES.get, lambda s: "Brant" in s.chunk.text)
    assert side is cands[2]
    either = disagree.confident_side(q, cands, DATES.get, lambda s: "master" in s.chunk.text)
    assert either is cands[2]  # of two confident sides' sentences, the newest
    assert disagree.confident_side(q, cands, DATES.get, lambda s: False) is None


def test_an_attribute_measured_two_ways_is_a_disagreement() -> None:
    """ "What will the capacity of X be?" asks for no kind of value by its words; the
    candidates say what measures it ("a capacity of 450 megawatts"), and a figure in that
    unit written as an adjective ("the 480-megawatt project") is the other side."""
    q = "What will the capacity of the Morrow Flats solar park be?"
    assert disagree.applicable(q)
    cands = [
        sentence(
            "The solar park would have a capacity of 450 megawatts.", "plan", 0, 0.6, 0.6, 0.7
        ),
        sentence(
            "The 480-megawatt park would cover 24 km of fenland.", "update", 0, 0.4, 0.48, 0.0
        ),
        sentence("The park employs 30 people.", "other", 0, 0.4, 0.45, 0.2),
    ]
    found = disagree.find(q, cands, DATES.get)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["480-megawatt", "450 megawatts"]
    assert [disagree.shown(s) for s in found.sides] == ["480 megawatts", "450 megawatts"]
    # nothing measures the attribute: no side (the park's 24 km and 30 people are not it)
    assert disagree.find(q, cands[1:], DATES.get) is None
    assert disagree.find("What is the purpose of the park?", cands, DATES.get) is None


# ---------------------------------------------------------------------------- end to end


def _bot(root: Path, domain: str):
    from rag.answer.assistant import Assistant

    cfg = Config.from_env(
        {
            "root": root,
            "corpus_dir": DEV / domain / "docs",
            "index_dir": root / "index",
            "upload_dir": root / "uploads",
        },
        environ={},
    )
    return Assistant.from_config(cfg)


@pytest.fixture(scope="module")
def windfarm(tmp_path_factory: pytest.TempPathFactory):
    return _bot(tmp_path_factory.mktemp("windfarm"), "saltmere_windfarm")


@pytest.fixture(scope="module")
def reservoir(tmp_path_factory: pytest.TempPathFactory):
    return _bot(tmp_path_factory.mktemp("reservoir"), "reservoir_project")


def _both_sides(bot, question: str, sides: list[tuple[str, set[str]]]) -> None:
    answer = bot.ask(question)
    assert not answer.abstained, answer.answer
    assert "The sources disagree" in answer.answer, answer.answer
    cited = {Path(c.source).name for c in answer.citations}
    for value, files in sides:
        assert value in answer.answer, (value, answer.answer)
        assert cited & files, (value, cited)
    for c in answer.citations:  # every quote is the document's text at its offsets
        assert bot.document(c.source).text[c.start : c.end] == c.quote


def test_a_name_spelt_two_ways_is_answered_with_both_though_the_gate_refused(windfarm) -> None:
    _both_sides(
        windfarm,
        "Who is the harbour master at Kellsby?",
        [
            ("Colm Ridgway", {"08_herald_first_power_delayed.txt"}),
            ("Colm Ridgeway", {"01_herald_plan_unveiled.txt", "04_herald_dredging_suspended.txt"}),
        ],
    )


def test_a_revised_cost_is_answered_with_both_though_the_gate_refused(reservoir) -> None:
    _both_sides(
        reservoir,
        "How much will the Cullerby Reservoir expansion cost?",
        [
            ("£168 million", {"06_gazette_cost_revised.txt", "09_courier_works_begin.txt"}),
            ("£142 million", {"01_courier_plan_announced.txt", "02_fenmoor_press_release.md"}),
        ],
    )


def test_an_attribute_given_in_two_units_forms_is_answered_with_both(windfarm) -> None:
    _both_sides(
        windfarm,
        "What will the capacity of the Saltmere Bank wind farm be?",
        [
            ("480 megawatts", {"03_windweekly_consultation_extended.txt"}),
            ("450 megawatts", {"01_herald_plan_unveiled.txt", "02_tidereach_consultation.md"}),
        ],
    )


@pytest.mark.parametrize(
    "question",
    [
        "How much will the Dunholm substation upgrade cost?",  # another entity's cost
        "How much will Tidereach's Baltic Sea projects cost?",
        "Who is the deputy project director for Saltmere Bank?",  # another role
    ],
)
def test_a_near_miss_whose_sources_disagree_on_another_thing_is_refused(
    windfarm, question: str
) -> None:
    assert windfarm.ask(question).abstained


def test_the_check_before_refusing_stays_within_the_narrowed_articles(windfarm) -> None:
    from rag.retrieve.filters import SourceFilter

    only = [
        d.source
        for d in windfarm.documents
        if Path(d.source).name
        in {"01_herald_plan_unveiled.txt", "04_herald_dredging_suspended.txt"}
    ]
    answer = windfarm.ask("Who is the harbour master at Kellsby?", narrow=SourceFilter(only))
    assert {c.source for c in answer.citations} <= set(only)
    assert "The sources disagree" not in answer.answer  # one spelling in these two


def test_a_disputed_question_runs_the_wider_search_once(reservoir, monkeypatch) -> None:
    """The gate's disagreement draft (_disputed) and the note after the answer (_dated)
    read one wider search: it runs once, and the answer is the same as when each ran its
    own (both sides named)."""
    calls: list[str] = []
    wider = type(reservoir)._wider

    def counted(self, question, cfg, allowed):
        calls.append(question)
        return wider(self, question, cfg, allowed)

    monkeypatch.setattr(type(reservoir), "_wider", counted)
    answer = reservoir.ask("How much will the Cullerby Reservoir expansion cost?")
    assert "The sources disagree" in answer.answer, answer.answer
    assert len(calls) == 1, calls


def test_the_shared_search_is_read_once_by_its_own_key_and_thread() -> None:
    """A kept search is taken once, only under its key and on its thread; taking empties
    the slot, so a later question never reads a stale result."""
    import threading

    shared = disagree.SharedSearch()
    shared.keep(("q", 1), ["hits"])  # type: ignore[list-item]
    assert shared.take(("other", 1)) is None  # another key: a miss, and the slot empties
    assert shared.take(("q", 1)) is None
    shared.keep(("q", 1), ["hits"])  # type: ignore[list-item]
    seen: list[object] = []
    t = threading.Thread(target=lambda: seen.append(shared.take(("q", 1))))
    t.start()
    t.join()
    assert seen == [None]  # another thread does not see it
    assert shared.take(("q", 1)) == ["hits"]
    assert shared.take(("q", 1)) is None

"""A why-question is answered by the sentence that gives a reason (rag/answer/reasons.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.neighbours import with_reason
from rag.answer.reasons import asks_why, gives_reason
from tests.conftest import assistant_over, sentence_of

DOC = """# Fenholt parish meeting, 3 March

The parish meeting discussed the request of Dunmere Cycles to open a repair workshop in the
old fire station on Quarry Lane.

The decision on the workshop was postponed to the April meeting so that the fire service can
first inspect the building's roof.

Councillor Imre Valdes asked whether the workshop would sell new bicycles as well.
"""


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("Why was the workshop decision postponed?", True),
        ("What explains the rise in the budget?", True),
        ("What was the reason for the closure?", True),
        ("And why did she resign?", True),
        ("What was decided about the workshop?", False),
        ("Who asked about new bicycles?", False),
    ],
)
def test_asks_why(question: str, why: bool) -> None:
    assert asks_why(question) is why


def test_gives_reason() -> None:
    assert gives_reason("It was deferred so that a bat survey can be carried out first.")
    assert gives_reason("The road stays shut because the bridge is unsafe.")
    assert gives_reason("Since the ferry leaves at 6, the library stays open late.")
    assert not gives_reason("The library now opens until 6 p.m. on weekdays.")
    assert not gives_reason("The meeting discussed the request of Dunmere Cycles.")
    assert gives_reason("Otherwise the water in the pipes can freeze.")
    assert gives_reason("Its purpose is to keep homes for residents.")
    assert gives_reason("The longer hours were meant for pupils who wait for the ferry.")
    assert gives_reason("The council had not given enough reasons for the refusal.")


MANUAL = """# Winter care

If the pump must be switched off in winter for more than a day, drain the outdoor unit.
Otherwise the water in the unit can freeze and split the heat exchanger. Keep the grille clear.

Check the pressure once a month. The gauge sits under the front cover.
"""


def test_with_reason_quotes_the_next_sentence_only_when_it_gives_the_reason() -> None:
    drained = with_reason(MANUAL, sentence_of(MANUAL, "If the pump"))
    assert drained.text.endswith("split the heat exchanger.")  # "Otherwise ..." joined
    assert MANUAL[drained.start : drained.end] == drained.text  # offsets into the document
    pressure = sentence_of(MANUAL, "Check the pressure")
    assert with_reason(MANUAL, pressure) == pressure  # the next one gives no reason
    last = sentence_of(MANUAL, "Keep the grille")
    assert with_reason(MANUAL, last) == last  # the paragraph ends there


def test_a_why_question_quotes_the_sentence_with_the_reason(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"parish.md": DOC})
    ans = bot.ask("Why was the decision on the repair workshop put off?")
    assert not ans.abstained
    first = " ".join(ans.citations[0].quote.split())  # the answer leads with the reason
    assert "so that the fire service can first inspect" in first

"""A why-question is answered by the sentence that gives a reason (rag/answer/reasons.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.reasons import asks_why, gives_reason
from tests.conftest import assistant_over

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


def test_a_why_question_quotes_the_sentence_with_the_reason(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"parish.md": DOC})
    ans = bot.ask("Why was the decision on the repair workshop put off?")
    assert not ans.abstained
    first = " ".join(ans.citations[0].quote.split())  # the answer leads with the reason
    assert "so that the fire service can first inspect" in first

"""The quoted window around an answer's value never cuts the value (issue 15: "a date
without its year"); "16%" at the end of a clause was quoted as "16"."""

from __future__ import annotations

import pytest

from rag.answer.qualifiers import value_window
from rag.answer.spans import value_spans


@pytest.mark.parametrize(
    ("sentence", "value", "window"),
    [
        ("Turnout was 16%.", "16%", "Turnout was 16%"),
        (
            "The share of milk sold abroad reached 16%, up from 12% a year earlier.",
            "16%",
            "The share of milk sold abroad reached 16%",
        ),
        ("Costs rose 4.5% and wages 16%", "16%", "Costs rose 4.5% and wages 16%"),
        (
            "The framework agreement was signed on June 26, 2023, in the border town.",
            "June 26, 2023",
            "The framework agreement was signed on June 26, 2023",
        ),
    ],
)
def test_the_value_is_quoted_whole(sentence: str, value: str, window: str) -> None:
    (span,) = [v for v in value_spans(sentence) if v.text == value]
    assert value_window(sentence, span) == window

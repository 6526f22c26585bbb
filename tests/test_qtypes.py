"""What a question asks for (rag.answer.qtypes): the question word that asks decides.

A "when" inside a question that another question word opens is a clause ("What is the
limit for a room when the host is away?" asks for a limit), not the question; it still
asks at the start, after "and"/"or"/a comma or "by", and in an indirect question.
"""

from __future__ import annotations

import pytest

from rag.answer.qtypes import question_type


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What is the limit for a Class A room when the host is away?", "other"),
        ("What happened when the bridge closed?", "other"),
        ("How quickly will a nurse see me when I arrive?", "other"),
        ("Who cut the ribbon when the terminal opened?", "person"),
        ("Which firm built the quay when the old one flooded?", "org"),
        ("When was the dam finished?", "date"),
        ("And when did he arrive?", "date"),
        ("What will the figure reach, and by when?", "date"),
        ("Do you know when the bridge reopens?", "date"),
        ("What time does the last ferry leave?", "date"),
    ],
)
def test_the_asking_word_decides(question: str, kind: str) -> None:
    assert question_type(question) == kind

"""A sentence that says what it is about only with the sentence before it (issue 15):
"Work starts in May 2026 ..., at a cost of 1.8 million euros" answers "How much will the
new underground cable route cost?" only read after "The second cable ... will be moved
to a new underground route". Each sentence was embedded alone, so it ranked low and the
gate refused; now a sentence is also scored read with the one before it in its paragraph
(at :data:`rag.answer.extractive.LEAD_IN_WEIGHT` of that similarity). Real models, a
real index.
"""

from __future__ import annotations

from pathlib import Path

from rag.answer.extractive import ExtractiveBackend
from rag.config import Config
from rag.types import Chunk, Hit
from tests.conftest import assistant_over

DOC = """# What we are changing after the storm

We have looked at why both cables failed on the same night, and we are making three
changes.

The second cable between Dunmarsh and Quillby will be moved to a new underground route
beside the canal towpath. Work starts in May 2026 and should be finished by October 2026,
at a cost of 1.8 million euros.

A home move costs 30 euros and can be booked in the app. Paper bills cost 2 euros a
month.
"""


def test_a_sentence_keeps_the_paragraph_before_it_as_its_lead_in(embedder) -> None:
    backend = ExtractiveBackend(embedder, Config())
    hits = [Hit(1, Chunk("d:0", "d", "d.md", "What we are changing", 0, len(DOC), DOC), 1, 1, 1)]
    cands = {c.chunk.text: c for c in backend._candidates(hits, {"d": DOC})}
    cost = next(c for t, c in cands.items() if t.startswith("Work starts"))
    assert cost.lead_in.startswith("The second cable")
    first = next(c for t, c in cands.items() if t.startswith("The second cable"))
    assert first.lead_in == ""  # a paragraph's first sentence has none


def test_the_cost_read_with_its_topic_sentence_answers(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"changes.md": DOC})
    answer = bot.ask("How much will the new underground cable route cost?")
    assert "1.8 million euros" in answer.answer, answer.answer
    assert not answer.answer.startswith("30 euros")

"""An acronym the question uses counts as named where the sentence spells it out."""

from __future__ import annotations

from pathlib import Path

from rag.answer.abstain_checks import spelled_out
from rag.text import tokenize
from tests.conftest import assistant_over, gate_features

DOC = """# Tarnwick Gas release 7.1

This release was checked by the Tarnwick quality assurance team, led by Odile Brandvik,
over six weeks in the spring.

The installer now asks for the database password only once.
"""


def test_spelled_out_reads_one_word_per_letter() -> None:
    sentence = "The team is led by the chief executive officer, Ann Lee."
    assert spelled_out("Who is the CEO?", sentence) == {"ceo"}
    assert spelled_out("Who is the CEO?", "The CEO is Ann Lee.") == set()  # named as such
    assert spelled_out("Who is the CFO?", sentence) == set()
    assert spelled_out("What does the UTC do?", "The Urgent Treatment Centre opens at 8.")
    # stop words do not spell: "the assistant" is not "TA"
    assert spelled_out("Who is the TA?", "Ask the assistant.") == set()


def test_the_gate_sees_the_acronyms_name_in_full(tmp_path: Path) -> None:
    bot = assistant_over(tmp_path, {"release.md": DOC})
    question = "Who led the QA team that checked release 7.1?"
    sentence = DOC.split("\n\n")[1].replace("\n", " ")
    feats = gate_features(bot, question, sentence)
    assert feats["names_missing_idf"] == 0.0
    ans = bot.ask(question)
    assert not ans.abstained and "Odile Brandvik" in ans.answer


def test_a_sentence_naming_its_subject_by_a_pronoun_reads_its_neighbours(tmp_path: Path) -> None:
    """ "this cut processor load": the name the question asks about ("lz4") is in the
    sentence before, which "this" points back to."""
    doc = (
        "# Tarnwick Gas release 7.2\n\n"
        "Release 7.2 switches the default compression from zstd to lz4. In our tests this "
        "cut processor load by about 30 percent, at the cost of files about 10 percent "
        "larger.\n"
    )
    bot = assistant_over(tmp_path, {"release.md": doc})
    question = "What did switching to lz4 do to processor load?"
    sentence = "In our tests this cut processor load by about 30 percent, at the cost of files about 10 percent larger."
    before = "Release 7.2 switches the default compression from zstd to lz4."
    feats = gate_features(bot, question, sentence, (set(tokenize(before)), set()))
    assert feats["names_missing_idf"] == 0.0
    plain = gate_features(
        bot, question, "Processor load fell by 30 percent.", (set(tokenize(before)), set())
    )
    assert plain["names_missing_idf"] > 0.0  # no pronoun: the name must be in the sentence

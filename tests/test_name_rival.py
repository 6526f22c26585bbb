"""name_rival: the asked name missing, another name making the same statement."""

from __future__ import annotations

import pytest

from rag.answer import abstain
from tests.conftest import assistant_over, gate_features

DOCS = {
    "quotas.md": (
        "# Oyster quotas for the new season\n\n"
        "The fisheries board set this season's oyster quotas on Monday. "
        "Boats from Tarrow Point may land 620 tonnes of oysters this season, 40 tonnes more "
        "than last year. The board said the beds off Gullholm were still closed after an "
        "outbreak of disease in the spring.\n"
    )
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    return assistant_over(tmp_path_factory.mktemp("rival"), DOCS)


def _name_rival(bot, question: str, sentence: str) -> float:
    return gate_features(bot, question, sentence)["name_rival"]


def test_a_statement_about_another_named_place_is_a_rival(bot) -> None:
    said = "Boats from Tarrow Point may land 620 tonnes of oysters this season."
    assert _name_rival(bot, "How many tonnes of oysters may Gullholm land?", said) == 1.0
    assert _name_rival(bot, "How many tonnes of oysters may Tarrow Point land?", said) == 0.0
    # no name asked, or a who-question (its answer is the name it lacks): no rival
    assert _name_rival(bot, "How many tonnes of oysters may boats land?", said) == 0.0
    assert _name_rival(bot, "Who may land 620 tonnes of oysters this season?", said) == 0.0
    # the asked name missing, but no other name in the sentence: not this feature's case
    bare = "The boats may land 620 tonnes of oysters this season."
    assert _name_rival(bot, "How many tonnes of oysters may Gullholm land?", bare) == 0.0


def test_the_asked_place_is_answered_and_another_one_abstains(bot) -> None:
    ans = bot.ask("How many tonnes of oysters may boats from Tarrow Point land this season?")
    assert not ans.abstained, ans.answer
    assert "620 tonnes" in ans.answer
    ans = bot.ask("How many tonnes of oysters may boats from Gullholm land this season?")
    assert ans.abstained, ans.answer


def test_the_fitted_model_counts_a_rival_name_against_answering() -> None:
    assert abstain.load_model().weights[abstain.FEATURES.index("name_rival")] < 0


def test_a_pronoun_subject_may_be_the_asked_name(bot) -> None:
    said = "He said boats from Tarrow Point may land 620 tonnes of oysters this season."
    assert (
        _name_rival(bot, "How many tonnes did the Gullholm skipper say boats may land?", said)
        == 0.0
    )

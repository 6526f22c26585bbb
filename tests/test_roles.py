"""Who pays whom (rag.answer.roles): a payment, sale or loan asked one way and stated the
other way round is a near miss the gate refuses, whatever words the two share."""

from __future__ import annotations

from pathlib import Path

from rag.answer.roles import reversed_roles
from tests.conftest import assistant_over


def test_the_money_going_the_other_way_is_a_reversed_role() -> None:
    assert reversed_roles(
        "How much did the host farmers pay the station?", "Host farmers receive £350 a season."
    )
    assert reversed_roles(
        "How much does the programme pay the Halvard Trust?",
        "The Selvan Fund pays 45 percent, and the Halvard Trust pays the remaining 25 percent.",
    )
    assert reversed_roles(  # a passive sale: the school bought, so the school paid
        "How much did the club pay Brantwick School for the boats?",
        "Two old boats were sold to Brantwick School for £3,200.",
    )
    assert reversed_roles(
        "How much did the Society get for selling Tarrach?",
        "The Baird family sold Tarrach to the Society for 18,500 pounds.",
    )


def test_the_other_side_of_a_converse_pair_is_a_reversed_role() -> None:
    gauge = "The level is read from the Pellow Bridge gauge, 400 m upstream of the boathouse."
    assert reversed_roles("How far downstream of the boathouse is the gauge?", gauge)
    assert not reversed_roles("How far upstream of the boathouse is the gauge?", gauge)
    both = "The employer adds 7 percent and employees pay 5 percent."
    assert reversed_roles("How much does the employer add?", "Employees pay 5 percent.")
    assert not reversed_roles("How much does the employer add?", both)


def test_the_same_payment_in_other_words_is_not() -> None:
    sale = "The Baird family sold Tarrach to the Society for 18,500 pounds."
    assert not reversed_roles("How much did the Society pay for Tarrach?", sale)
    assert not reversed_roles(
        "How much does the council pay the contractor?",
        "The contractor will receive 2 million euros from the council.",
    )
    assert not reversed_roles("How much do I pay for a licence?", "You pay 900 euros a year.")
    # what is paid is no party: "pays the junior rate"
    assert not reversed_roles(
        "What will a junior pay?", "A rower who turns 18 in June still pays the junior rate."
    )


DOC = """Host farms of the Hallowmere field station

Each trial site is on a working farm. Host farmers receive £350 per site per season for
the loss of cropped area and for access. The station pays for all seed and fertiliser.
"""


def test_the_gate_refuses_the_reversed_payment_and_answers_the_stated_one(
    tmp_path: Path,
) -> None:
    bot = assistant_over(tmp_path, {"hosts.txt": DOC})
    assert bot.ask("How much did the host farmers pay the station to take part?").abstained
    ans = bot.ask("How much do host farmers receive per site?")
    assert not ans.abstained and "£350" in ans.answer

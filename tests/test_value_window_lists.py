"""A factoid's quote never cuts a list that holds the answer (rag.answer.qualifiers.
value_window): "led jointly by A, a retired naval officer, and B" keeps B, "in 1987,
2003, 2013 and 2023" keeps every year; a clause after "and" on another matter is not
quoted ("42 computers, and opens until 6 p.m.")."""

from __future__ import annotations

from rag.answer.factoid import value_first


def test_a_list_of_names_is_quoted_to_its_last_item() -> None:
    sentence = (
        "In 1952 the society sent its first expedition, led jointly by Captain Hugh "
        "Tennant, a retired naval officer, and the ornithologist Margaret Orr."
    )
    answer = value_first(sentence, "Who led the society's 1952 expedition?")
    assert answer is not None and answer.endswith("Margaret Orr")


def test_a_list_of_years_is_quoted_whole() -> None:
    sentence = "The full censuses took place in 1987, 2003, 2013 and 2023."
    answer = value_first(sentence, "In which years were full censuses made?")
    assert answer is not None and "2003, 2013 and 2023" in answer


def test_a_clause_on_another_matter_is_left_out() -> None:
    sentence = (
        "The library at the old harbour school on the quay now has 42 computers, up from 18, "
        "and opens until 6 p.m. on weekdays."
    )
    answer = value_first(sentence, "How many computers does the library have?")
    assert answer is not None and answer.startswith("42 computers")
    assert "6 p.m." not in answer

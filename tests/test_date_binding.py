"""Binding a "when" question's date to the asked event (rag.answer.date_binding): the
clause of each date, and the blend of its similarity into the sentence's, with the real
MiniLM encoder (no mocks)."""

from __future__ import annotations

import numpy as np

from rag.answer.date_binding import bind_dates, date_clause, date_clauses

OTHER_EVENT = (
    "The cost of raising Cullerby Dam has been revised upward to £168 million, Fenmoor Water "
    "confirmed this week, £26 million more than the figure given when the plan was "
    "announced in January."
)
ASKED_EVENT = (
    "The dam was completed in 1958 to supply the growing towns of Ashgill and Brackwater, "
    "which until then drew their water from wells and from the Ashgill Beck."
)
ONE_CLAUSE = "The dam was completed in 1958."
OWN_CLAUSE = "Starting April 1, the ferry to the island will run every hour on weekdays."


def test_a_date_is_read_with_its_clause_grown_when_too_short() -> None:
    at = OTHER_EVENT.index("January")
    a, b = date_clause(OTHER_EVENT, at, at + len("January"))
    assert OTHER_EVENT[a:b] == "£26 million more than the figure given when the plan was " + (
        "announced in January."
    )
    at = OWN_CLAUSE.index("April 1")
    a, b = date_clause(OWN_CLAUSE, at, at + len("April 1"))
    assert OWN_CLAUSE[a:b] == OWN_CLAUSE  # "Starting April 1" says nothing alone
    # a one-clause sentence is its own date clause: nothing extra to embed
    assert date_clauses(ONE_CLAUSE, "When was the dam finished?") == []


def test_a_date_of_another_event_lowers_the_sentence(embedder) -> None:
    q = "When was the original Cullerby dam finished?"
    texts = [OTHER_EVENT, ASKED_EVENT, ONE_CLAUSE]
    vecs = embedder.encode_many(texts)
    query = embedder.encode_query(q)
    sims = vecs @ query
    bound = bind_dates(sims, texts, q, embedder.encode_many, query)
    assert sims[0] > sims[1]  # as a whole, the other event's sentence reads closer
    assert bound[1] > bound[0]  # bound to its date, the asked event's wins
    assert bound[2] == np.float32(sims[2])  # one clause: unchanged
    assert np.all(bound <= sims + 1e-6)  # the binding only ever lowers

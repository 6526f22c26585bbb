"""Who pays whom: the two sides of a payment, a sale or a loan, in a question and a sentence.

"How much did the host farmers pay the station?" over "Host farmers receive £350 per
site": every word of the question is there, and the money goes the other way. So does it
in "How much does the programme pay the Halvard Trust?" over "the Halvard Trust pays the
remaining 25 percent", and in "How much did the club pay the school for the boats?" over
"the boats were sold to the school for £3,200". Word coverage cannot see it; the verb and
the places of the two parties can. Each party is read as the side money comes *from* or
goes *to*: the subject of *pay*, *buy*, *lend* gives it, the subject of *receive*, *get*,
*earn*, *sell*, *borrow* gets it; *to*, *from* and *by* after the verb name the other
side, and a passive verb turns its subject round. The asker ("I", "me", "we") is the
reader a document addresses ("you"). General English verbs: nothing names a word of one
corpus.
"""

from __future__ import annotations

from functools import lru_cache

from rag.answer.qualifiers import Word, words
from rag.text import STOPWORDS, fold, stem, tokenize

_FORMS = {
    "pay": "pay pays paid paying",
    "receive": "receive receives received receiving get gets got earn earns earned earning",
    "buy": "buy buys bought buying",
    "sell": "sell sells sold selling",
    "lend": "lend lends lent lending",
    "borrow": "borrow borrows borrowed borrowing",
}
_VERB = {form: verb for verb, forms in _FORMS.items() for form in forms.split()}
_GIVES = frozenset({"pay", "buy", "lend"})  # the subject's money goes out
_AFTER = {  # a preposition after the verb: the role of the party it names (active voice)
    "pay": {"to": "to"},
    "receive": {"from": "from"},
    "buy": {"from": "to"},
    "sell": {"to": "from"},
    "lend": {"to": "to"},
    "borrow": {"from": "from"},
}
_BY = {"pay": "from", "buy": "from", "lend": "from", "sell": "to", "receive": "to"}
_DIRECT = frozenset({"pay", "lend"})  # "pays the station £350": the object gets the money
_BE = frozenset({"is", "are", "was", "were", "be", "been", "being"})
_AUX = _BE | frozenset(
    "do does did will would can could should must has have had may might".split()  # noqa: SIM905
)
_BEFORE_VERB = _AUX | {"not", "also", "still", "now"}  # between a subject and its verb
_PREPOSITIONS = frozenset({"for", "to", "from", "by", "in", "on", "at", "with", "into", "per"})
_AMOUNTS = frozenset(
    tokenize(
        "rate fee price cost charge bill amount sum rent fare subscription deposit fine tax "
        "salary wage interest premium balance share percent money"
    )
)
"""Nouns of an amount: the object of "pay" that is what is paid, not who is paid."""
_ASKER = frozenset({"i", "me", "my", "we", "us", "our"})
_READER = frozenset({"you", "your"})
_MAX = 4  # content words of a party's noun phrase


def _party(ws: list[Word], i: int, step: int) -> frozenset[str]:
    """The content terms of the noun phrase next to word ``i`` (after it for ``step`` 1,
    before it for -1), leading articles skipped; the asker and the reader as one party."""
    out: list[str] = []
    j = i + step
    while 0 <= j < len(ws) and len(out) < _MAX:
        w = fold(ws[j].text)
        if w in _ASKER or w in _READER:
            return frozenset({"@reader"}) if not out else frozenset(out)
        if w in STOPWORDS or not ws[j].terms or w in _VERB:
            if out:
                break
            if w in _AUX or w in _VERB or w in {"how", "much", "many", "what", "who"}:
                break
            j += step
            continue
        if not out and any(t[:1].isdigit() for t in ws[j].terms):
            return frozenset()  # "pays 45 percent": an amount, no party
        out.extend(ws[j].terms)
        j += step
    return frozenset(out)


@lru_cache(maxsize=8192)
def _roles(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """(role, party terms) pairs that ``text`` states: "from" for a side money comes from,
    "to" for a side it goes to (cached per text)."""
    ws = words(text)
    out: list[tuple[str, frozenset[str]]] = []
    for i, w in enumerate(ws):
        verb = _VERB.get(fold(w.text))
        if verb is None:
            continue
        passive = i > 0 and fold(ws[i - 1].text) in _BE and verb not in {"receive"}
        subject = _subject(ws, i)
        if subject:
            if passive:
                out.append(("to" if verb in _DIRECT else "", subject))
            else:
                out.append(("from" if verb in _GIVES else "to", subject))
        direct = i + 1 < len(ws) and fold(ws[i + 1].text) not in _PREPOSITIONS
        if verb in _DIRECT and not passive and direct:  # "pays the station": the payee
            obj = _party(ws, i, 1)
            if not obj & _AMOUNTS:  # "pays the junior rate": what is paid, no party
                out.append(("to", obj))
        for k in range(i + 1, min(len(ws), i + 8)):
            prep = fold(ws[k].text)
            role = _BY.get(verb) if prep == "by" and passive else _AFTER[verb].get(prep)
            if role:
                out.append((role, _party(ws, k, 1)))
    return tuple((r, p) for r, p in out if r and p)


def _subject(ws: list[Word], i: int) -> frozenset[str]:
    """The party before verb ``i``; in a question, the one between its auxiliary and the
    verb ("did | the host farmers | pay")."""
    j = i - 1
    while j >= 0 and fold(ws[j].text) in _BEFORE_VERB:
        j -= 1
    return _party(ws, j + 1, -1)


_CONVERSES = (
    ("upstream", "downstream"),
    ("uphill", "downhill"),
    ("upriver", "downriver"),
    ("inbound", "outbound"),
    ("incoming", "outgoing"),
    ("inflow", "outflow"),
    ("northbound", "southbound"),
    ("eastbound", "westbound"),
    ("import", "export"),
    ("employer", "employee"),
    ("landlord", "tenant"),
    ("lender", "borrower"),
    ("buyer", "seller"),
    ("sender", "recipient"),
    ("creditor", "debtor"),
)
_CONVERSE: dict[str, str] = {}
for _a, _b in _CONVERSES:
    _CONVERSE[stem(_a)], _CONVERSE[stem(_b)] = stem(_b), stem(_a)


def _converse_word(question: str, sentence: str) -> bool:
    """The question names one side of a converse pair ("downstream", "the employer") that
    the sentence lacks, and the sentence names the other side ("upstream", "employees")."""
    asked, said = set(tokenize(question)), set(tokenize(sentence))
    return any(t not in said and _CONVERSE[t] in said for t in asked if t in _CONVERSE)


def reversed_roles(question: str, sentence: str) -> bool:
    """Does the sentence put a party of the question's payment, sale or loan on the other
    side of it, and none on its own side ("How much did the host farmers pay the
    station?" over "Host farmers receive £350"), or name the converse of a relation the
    question asks about ("How far downstream ...?" over "400 m upstream of ...")?"""
    if _converse_word(question, sentence):
        return True
    asked = _roles(question)
    if not asked:
        return False
    stated = _roles(sentence)
    if not stated:
        return False
    same = any(r == s and p & q for r, p in asked for s, q in stated)
    other = any(r != s and p & q for r, p in asked for s, q in stated)
    return other and not same

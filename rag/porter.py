"""The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", 1980).

The word indexes (BM25) hold Porter stems, so that a word and its derived forms meet
("mediators" and "mediation", "approve" and "approval"): users seldom write the
document's own suffix. The published algorithm, as NLTK's ``PorterStemmer`` runs it in
``ORIGINAL_ALGORITHM`` mode (``tests/test_porter.py`` checks every word of the bundled
documents against it); written out here because importing NLTK costs ~1.5 s.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

_VOWELS = frozenset("aeiou")

Rule = tuple[str, str, Callable[[str], bool] | None]


def _consonant(word: str, i: int) -> bool:
    """Is ``word[i]`` a consonant? "y" is one at the start or after a vowel."""
    c = word[i]
    if c in _VOWELS:
        return False
    if c == "y":
        return i == 0 or not _consonant(word, i - 1)
    return True


def _measure(stem: str) -> int:
    """m in [C](VC)^m[V]: how many vowel-consonant sequences ``stem`` has."""
    pattern = "".join("c" if _consonant(stem, i) else "v" for i in range(len(stem)))
    return pattern.count("vc")


def _has_vowel(stem: str) -> bool:
    return any(not _consonant(stem, i) for i in range(len(stem)))


def _double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _consonant(word, len(word) - 1)


def _cvc(word: str) -> bool:
    """*o: the stem ends consonant-vowel-consonant, the last not w, x or y ("hop")."""
    n = len(word)
    return (
        n >= 3
        and _consonant(word, n - 3)
        and not _consonant(word, n - 2)
        and _consonant(word, n - 1)
        and word[-1] not in "wxy"
    )


def _positive(stem: str) -> bool:
    return _measure(stem) > 0


def _above_one(stem: str) -> bool:
    return _measure(stem) > 1


def _apply(word: str, rules: list[Rule]) -> str:
    """The first rule whose suffix ``word`` ends in decides: its replacement when its
    condition holds on the stem, else ``word`` unchanged (no later rule is tried)."""
    for suffix, replacement, condition in rules:
        if word.endswith(suffix):
            stem = word[: len(word) - len(suffix)]
            return stem + replacement if condition is None or condition(stem) else word
    return word


def _step1b(word: str) -> str:
    if word.endswith("eed"):
        return word[:-1] if _positive(word[:-3]) else word
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
            stem = word[: -len(suffix)]
            break
    else:
        return word
    for suffix, replacement in (("at", "ate"), ("bl", "ble"), ("iz", "ize")):
        if stem.endswith(suffix):
            return stem[: -len(suffix)] + replacement
    if _double_consonant(stem):
        return stem[:-1] if stem[-1] not in "lsz" else stem
    return stem + "e" if _measure(stem) == 1 and _cvc(stem) else stem


_STEP2: list[Rule] = [
    (s, r, _positive)
    for s, r in (
        ("ational", "ate"),
        ("tional", "tion"),
        ("enci", "ence"),
        ("anci", "ance"),
        ("izer", "ize"),
        ("abli", "able"),
        ("alli", "al"),
        ("entli", "ent"),
        ("eli", "e"),
        ("ousli", "ous"),
        ("ization", "ize"),
        ("ation", "ate"),
        ("ator", "ate"),
        ("alism", "al"),
        ("iveness", "ive"),
        ("fulness", "ful"),
        ("ousness", "ous"),
        ("aliti", "al"),
        ("iviti", "ive"),
        ("biliti", "ble"),
    )
]
_STEP3: list[Rule] = [
    (s, r, _positive)
    for s, r in (
        ("icate", "ic"),
        ("ative", ""),
        ("alize", "al"),
        ("iciti", "ic"),
        ("ical", "ic"),
        ("ful", ""),
        ("ness", ""),
    )
]
_STEP4: list[Rule] = [
    *((s, "", _above_one) for s in ("al", "ance", "ence", "er", "ic", "able", "ible", "ant")),
    *((s, "", _above_one) for s in ("ement", "ment", "ent")),
    ("ion", "", lambda stem: _above_one(stem) and stem[-1:] in ("s", "t")),
    *((s, "", _above_one) for s in ("ou", "ism", "ate", "iti", "ous", "ive", "ize")),
]


def _step5(word: str) -> str:
    if word.endswith("e"):
        stem = word[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _cvc(stem)):
            word = stem
    if word.endswith("ll") and _measure(word[:-1]) > 1:
        word = word[:-1]
    return word


@lru_cache(maxsize=65536)
def porter_stem(word: str) -> str:
    """The Porter stem of a lower-case word ("mediation" -> "mediat"); cached per word."""
    word = _apply(word, [("sses", "ss", None), ("ies", "i", None), ("ss", "ss", None)])
    if word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    word = _step1b(word)
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    word = _apply(word, _STEP2)
    word = _apply(word, _STEP3)
    word = _apply(word, _STEP4)
    return _step5(word)

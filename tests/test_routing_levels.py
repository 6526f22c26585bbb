"""The answer step's similarities across languages: each language's level moved half-way
up to the highest one (rag.retrieve.routing.toward_common_level), so an English question's
English sentences on the topic no longer outrank the Chinese sentence that answers it."""

from __future__ import annotations

import numpy as np
import pytest

from rag.config import Config


def test_each_language_moves_half_way_to_the_common_median() -> None:
    """Calibrated similarities of an English question (English sentences on the topic,
    the Chinese answer first among the Chinese ones): the answer now ranks first; the
    English ones keep their values, the order within a language is kept; one language,
    or a language of fewer than three candidates, stays as it was."""
    from rag.retrieve.routing import LEVEL_SHARE, toward_common_level

    sims = np.array([0.50, 0.45, 0.44, 0.42, 0.46, 0.20, 0.17, 0.16, 0.13])
    langs = ["en"] * 4 + ["zh"] * 5
    out = toward_common_level(sims, langs)
    assert int(np.argmax(sims)) == 0 and int(np.argmax(out)) == 4
    en, zh = np.asarray(langs) == "en", np.asarray(langs) == "zh"
    for mask in (en, zh):
        assert np.all(np.diff(out[mask]) < 0)  # order within the language kept
    assert np.allclose(out[en], sims[en])  # the highest language keeps its values
    gap = np.median(sims[en]) - np.median(sims[zh])
    assert np.allclose(out[zh] - sims[zh], LEVEL_SHARE * gap)  # half-way up
    assert toward_common_level(sims, ["en"] * 9) is sims
    few = toward_common_level(np.array([0.5, 0.4, 0.3, 0.9, 0.8]), ["en"] * 3 + ["vi"] * 2)
    assert np.allclose(few[3:], [0.9, 0.8])


@pytest.mark.slow
def test_the_multilingual_scores_close_the_gap_between_languages() -> None:
    """With e5: an English question, English sentences on its topic and a Chinese answer.
    Read against unrelated text, the English sentences stand far out; the answer step's
    similarities move the Chinese sentences up and leave the English ones, each language
    keeping its order. The main encoder's path is untouched (test_crosslingual_answers)."""
    from rag.embed.encoder import Embedder
    from rag.retrieve.routing import answer_similarity, calibrated_similarity

    cfg = Config.from_env(environ={})
    e5 = Embedder(cfg.multilingual_model)
    question = "How many tonnes of fruit were imported through the river port in 2025?"
    texts = [
        ("en", "The river port welcomed roughly 90,000 foreign visitors in 2025."),
        ("en", "Officials of the two provinces met at the river port to discuss customs."),
        ("en", "The port authority plans to open a second cargo terminal next year."),
        ("en", "Traders said demand for tropical fruit kept rising through the summer."),
        ("zh", "据海关统计，2025年经该河港进口的水果达到42万吨，同比增长18%。"),
        ("zh", "港区新建的停车场可同时停放300辆货车。"),
        ("zh", "当地还开通了一条通往省会的客运班车线路。"),
        ("zh", "码头工人每天工作两班，每班八小时。"),
    ]
    langs = [lang for lang, _ in texts]
    query = e5.encode_query(question)
    raw = e5.encode_many([t for _, t in texts]) @ query
    cal = calibrated_similarity(raw, langs, query, e5)
    out = answer_similarity(raw, langs, query, e5, cfg)
    en, zh = np.asarray(langs) == "en", np.asarray(langs) == "zh"
    assert np.median(cal[en]) > np.median(cal[zh])
    assert np.all(out[zh] > cal[zh]) and np.allclose(out[en], cal[en])
    assert max(cal[en]) - cal[4] > max(out[en]) - out[4]  # the gap to the answer shrinks
    for mask in (en, zh):
        assert list(np.argsort(out[mask])) == list(np.argsort(cal[mask]))

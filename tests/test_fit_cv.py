"""The abstention fit's leave-one-domain-out estimate (scripts/fit_abstention.py --cv)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from rag.answer import abstain

_SPEC = importlib.util.spec_from_file_location(
    "fit_abstention", Path(__file__).parents[1] / "scripts" / "fit_abstention.py"
)
assert _SPEC is not None and _SPEC.loader is not None
fit_abstention = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(fit_abstention)


def _rows(rng: np.random.Generator, domain: str, n: int, leak: float):
    """``n`` answerable and ``n`` unanswerable rows of one domain: ``cover`` (a feature
    for answering) separates them, except that a share ``leak`` of the unanswerable ones
    look answerable (a near miss the features cannot see)."""
    k = len(abstain.FEATURES)
    i = abstain.FEATURES.index("cover")
    x = np.tile(np.asarray(abstain.load_model().mean), (2 * n, 1))
    y = np.r_[np.ones(n), np.zeros(n)]
    x[:n, i] = rng.uniform(0.8, 1.0, n)
    x[n:, i] = np.where(
        rng.uniform(size=n) < leak, rng.uniform(0.8, 1.0, n), rng.uniform(0, 0.2, n)
    )
    assert x.shape[1] == k
    keys = np.asarray([f"{domain}:{j}" for j in range(2 * n)])
    return x, y, np.asarray([domain] * 2 * n), keys


def test_held_out_domains_are_gated_by_a_model_that_never_saw_them(capsys):
    rng = np.random.default_rng(7)
    parts = [_rows(rng, d, 30, 0.0) for d in ("a", "b")]
    x, y, g, keys = _rows(rng, "c", 30, 1.0)  # in "c" only another feature tells them apart
    x[30:, abstain.FEATURES.index("names_missing_idf")] = 1.0
    parts.append((x, y, g, keys))
    x, y, g, keys = (np.concatenate(p) for p in zip(*parts, strict=True))
    abst, false = fit_abstention.cross_validate(x, y, g, keys, 0.45)
    printed = capsys.readouterr().out
    assert "c                      held out: abstained 0/30" in printed  # never seen: answered
    assert 55 / 90 <= abst <= 60 / 90 and false == 0.0  # "a" and "b" refused as in-sample
    whole = fit_abstention.calibrate(abstain.fit(x, y), x, y, g, keys, 0.45, quiet=True)
    assert fit_abstention.held_out_rates(whole, x, y, keys, 0.45)[0] == 90  # in-sample flatters


def test_a_two_part_question_counts_once_on_its_parts_mean():
    model = abstain.load_model()
    x = np.tile(np.asarray(model.mean), (3, 1))
    keys = np.asarray(["q1", "q1", "q2"])
    y = np.asarray([1.0, 1.0, 0.0])
    refused_neg, negatives, refused_pos, positives = fit_abstention.held_out_rates(
        model, x, y, keys, 0.45
    )
    assert (negatives, positives) == (1, 1)
    assert refused_neg == refused_pos  # the same features: both refused or both answered

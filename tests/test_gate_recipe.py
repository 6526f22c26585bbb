"""Whole-refit options of the abstention gate: domain-balanced rows, a feature mask, and
the features left out as unstable across leave-one-domain-out folds."""

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


def test_every_domain_weighs_the_same_in_total():
    groups = np.asarray(["big"] * 90 + ["small"] * 10)
    w = abstain.domain_weights(groups)
    assert np.isclose(w.mean(), 1.0)
    assert np.isclose(w[groups == "big"].sum(), w[groups == "small"].sum())


def _rows(rng: np.random.Generator, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    x = np.tile(np.asarray(abstain.load_model().mean), (n, 1))
    y = np.r_[np.ones(n // 2), np.zeros(n // 2)]
    x[:, abstain.FEATURES.index("cover")] = np.where(y == 1, 0.9, 0.1) + rng.normal(0, 0.05, n)
    return x, y


def test_a_masked_feature_weighs_nothing_and_the_others_still_separate():
    x, y = _rows(np.random.default_rng(3))
    use = np.asarray([f != "cover" for f in abstain.FEATURES])
    assert abstain.fit(x, y, use=use).weights[abstain.FEATURES.index("cover")] == 0.0
    model = abstain.fit(x, y)
    p = np.asarray([model.probability(f) for f in x])
    assert p[y == 1].min() > p[y == 0].max()


def test_a_balanced_fit_is_not_outvoted_by_the_big_domain():
    rng = np.random.default_rng(5)
    x, y = _rows(rng, 200)  # "big": cover separates
    sx, sy = _rows(rng, 20)  # "small": there, a missing number does
    i = abstain.FEATURES.index("numbers_missing_doc")
    sx[:, abstain.FEATURES.index("cover")] = 0.9
    sx[sy == 0, i] = 1.0
    g = np.asarray(["big"] * 200 + ["small"] * 20)
    x, y = np.concatenate([x, sx]), np.concatenate([y, sy])
    plain = abstain.fit(x, y).weights[i]
    balanced = abstain.fit(x, y, sample_weight=abstain.domain_weights(g)).weights[i]
    assert balanced < plain < 0  # the small domain's evidence counts for more


def test_unstable_features_are_those_zeroed_in_some_folds_only():
    rng = np.random.default_rng(11)
    parts = [_rows(rng) for _ in range(3)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    g = np.repeat(np.asarray(["a", "b", "c"]), 60)
    i = abstain.FEATURES.index("money_absent")  # against answering in "a", for it in "b", "c"
    x[(g == "a") & (y == 0), i] = 1.0
    x[(g != "a") & (y == 1), i] = 1.0
    x[:, abstain.FEATURES.index("cover")] = 0.5 + rng.normal(0, 0.3, len(y))
    drop = fit_abstention.unstable(x, y, g, fit_abstention.Recipe())
    assert "money_absent" in drop and "semantic" not in drop

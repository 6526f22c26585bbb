"""Refit the extractive abstention model (rag/abstain_model.json) on the dev split.

    .venv/bin/python scripts/fit_abstention.py            # suite dev domains + seeds_dev
    .venv/bin/python scripts/fit_abstention.py --reuse    # refit on the last collection
    .venv/bin/python scripts/fit_abstention.py --extend   # add new features to the stored model
    .venv/bin/python scripts/fit_abstention.py --reuse --cv   # estimate on unseen domains only
    .venv/bin/python scripts/fit_abstention.py --reuse --balance --stable   # the candidate recipe

Options of a whole refit (and of its ``--cv`` estimate): ``--l2 X`` (default 1.0),
``--balance`` (every dev domain weighs the same: :func:`abstain.domain_weights`),
``--stable`` (leave out the features whose weight is 0 in some leave-one-domain-out folds
and not in others: :func:`unstable`). On the ten suite dev domains held out,
``--balance --stable`` gave 0.653 / 0.019 (abstention / false abstention) against 0.635 /
0.017 plain, higher along the whole threshold curve; the stored (incrementally extended)
model is still the one kept, as no whole refit so far keeps every seeds_dev answer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rag.answer import abstain
from rag.answer.assistant import Assistant
from rag.config import Config
from rag.evaluation.dataset import load_dataset
from rag.evaluation.metrics import Scorer
from rag.evaluation.runner import score_items
from rag.evaluation.suite import DEFAULT_SUITE, DEFAULT_SUITE_OUT, domain_config, load_suite
from rag.retrieve.components import Components, load_components
from rag.retrieve.retriever import Retriever
from rag.store.build import open_index

ROWS = Path("eval/reports/abstain-fit.jsonl")  # what was fitted on, for inspection
CACHE = Path("eval/reports/abstain-fit.npz")  # the collected rows, for --reuse
MANIFESTS = (DEFAULT_SUITE, Path("eval/multiarticle/suite.toml"))  # their dev domains only


def collect(bot: Assistant, items: list[Any], scorer: Scorer) -> list[tuple[list[float], int, str]]:
    """(features, label) for each item the gate saw; wrong answers to answerable ones left out.

    Items are asked through :func:`runner.score_items`, the evaluation's own path (a
    filtered item narrowed as ``rag eval`` narrows it), with the gate open."""
    out = []
    log = ROWS.open("a", encoding="utf-8")
    for item in items:
        bot.trace = []
        row = score_items(bot, [item], {"min_answer_score": 0.0}, scorer)[0]
        answer_text = str(row.get("answer", ""))
        if not bot.trace:
            continue
        correct = bool(row["metrics"].get("answer_correct"))
        log.write(
            json.dumps(
                {
                    "id": item.id,
                    "question": item.question,
                    "answerable": item.answerable,
                    "correct": correct,
                    "answer": answer_text[:300],
                    "features": bot.trace[-1]["features"],
                }
            )
            + "\n"
        )
        for t in bot.trace:  # one per part of a two-part question
            if not item.answerable:
                out.append((t["features"], 0, item.id))
            elif correct:
                out.append((t["features"], 1, item.id))
    log.close()
    return out


MAX_FALSE_ABSTENTION = 0.10  # per dev domain, on the fitted rows: at most twice the pooled
MAX_POOLED_FALSE_ABSTENTION = 0.04  # all rows: a point under the target, as unseen
# domains run higher (leave-one-domain-out on the dev rows: about +1 to +2 points)
MIN_DOMAIN_ANSWERS = 20  # below this a domain's rate moves in steps of 5+ points
GUARDED = {"seeds_dev": 0.05}  # the bundled corpus (the CI gate's set): no looser bound
HEAVIER = {"seeds_dev": 2.0}  # ... and, with --balance, twice a domain's weight: on the
# ten suite dev domains held out this moved the operating point along the same curve
# (0.653 / 0.019 -> 0.675 / 0.021), and it keeps the CI set's abstentions (8/11 -> 10/11)


def calibrate(
    model: abstain.Model,
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    keys: np.ndarray,
    at: float,
    *,
    quiet: bool = False,
) -> abstain.Model:
    """Shift the bias so that ``p >= at`` (the default ``min_answer_score``) is the
    operating point with the best balanced accuracy whose false-abstention rate stays
    within :data:`MAX_POOLED_FALSE_ABSTENTION` on all dev questions and within
    :data:`MAX_FALSE_ABSTENTION` in every dev domain (``groups``) with at least
    :data:`MIN_DOMAIN_ANSWERS` answered ones (one question at least): one corpus may not
    pay for another's abstentions. Rates are per question: a two-part question is one
    answer, gated on the mean probability of its parts, as the assistant does."""
    rows = np.asarray([model.probability(f) for f in x])
    means, which, starts = question_means(rows, keys)
    p = means[which]  # each row: its item's mean
    first = np.zeros(len(keys), bool)
    first[starts] = True  # one row per question
    pos = {g: p[first & (y == 1) & (groups == g)] for g in sorted(set(groups.tolist()))}
    bounded = {
        g: max(GUARDED.get(g, MAX_FALSE_ABSTENTION) * len(v), 1.0)
        for g, v in pos.items()
        if len(v) >= MIN_DOMAIN_ANSWERS
    }
    best_t, best_j = None, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        fa = float(np.mean(p[first & (y == 1)] < t))
        ok = fa <= MAX_POOLED_FALSE_ABSTENTION and all(
            float(np.sum(pos[g] < t)) <= n for g, n in bounded.items()
        )
        j = float(np.mean(p[first & (y == 0)] < t)) + 1 - fa
        if ok and j > best_j:
            best_t, best_j = float(t), j
    if best_t is None:
        raise SystemExit("no operating point keeps the dev false abstentions in bounds")
    shift = np.log(at / (1 - at)) - np.log(best_t / (1 - best_t))
    if not quiet:
        print(
            f"operating point p >= {best_t:.2f} (balanced {best_j / 2:.3f}) -> {at}",
            file=sys.stderr,
        )
    return abstain.Model(model.mean, model.std, model.weights, model.bias + float(shift))


def question_means(p: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per question (its rows share a key; a two-part question has one per part): the mean
    of ``p`` over its rows, each row's question index, and each question's first row."""
    _, starts, which = np.unique(keys, return_index=True, return_inverse=True)
    return np.bincount(which, p) / np.bincount(which), which, starts


def held_out_rates(
    model: abstain.Model, x: np.ndarray, y: np.ndarray, keys: np.ndarray, at: float
) -> tuple[int, int, int, int]:
    """(unanswerables refused, unanswerables, answerable ones refused, answerable ones) of
    ``model`` at ``p >= at``, per question (a two-part question on its parts' mean p)."""
    mean, _, starts = question_means(np.asarray([model.probability(f) for f in x]), keys)
    label = y[starts]  # a question's rows share its label
    refused = mean < at
    return (
        int(np.sum(refused & (label == 0))),
        int(np.sum(label == 0)),
        int(np.sum(refused & (label == 1))),
        int(np.sum(label == 1)),
    )


class Recipe(NamedTuple):
    """How a whole refit is made: L2 strength, domain-balanced rows, features it may use
    (a mask over :data:`abstain.FEATURES`; None: all)."""

    l2: float = 1.0
    balance: bool = False
    use: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> abstain.Model:
        """:func:`abstain.fit` on these rows with this recipe."""
        weight = None
        if self.balance:  # each domain the same, the guarded ones :data:`HEAVIER`
            weight = abstain.domain_weights(groups)
            weight = weight * np.asarray([HEAVIER.get(str(d), 1.0) for d in groups])
            weight = weight / weight.mean()
        return abstain.fit(x, y, l2=self.l2, sample_weight=weight, use=self.use)


CURVE = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)  # thresholds the held-out curve is read at


def unstable(x: np.ndarray, y: np.ndarray, groups: np.ndarray, recipe: Recipe) -> list[str]:
    """The features whose weight is 0 (pushed against its sign) in some leave-one-domain-
    out fits and not in others: which way they point depends on which domains are seen."""
    zero = np.asarray(
        [
            np.abs(recipe.fit(x[groups != d], y[groups != d], groups[groups != d]).weights) < 1e-9
            for d in sorted(set(groups.tolist()))
        ]
    )
    return [f for f, z in zip(abstain.FEATURES, zero.T, strict=True) if z.any() and not z.all()]


def cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    keys: np.ndarray,
    at: float,
    recipe: Recipe | None = None,
) -> tuple[float, float]:
    """Leave one dev domain out: fit and calibrate on the others, gate the held-out one.

    The in-sample rates flatter the gate (its operating point is chosen on the same
    questions); a domain it never saw is what a user's upload is, and this is its
    estimate (abstention, false abstention; pooled over the held-out domains), also
    printed along :data:`CURVE` (what another ``min_answer_score`` would give). A feature
    or setting is worth keeping when it raises this figure, not only the in-sample one."""
    recipe = recipe or Recipe()
    total = np.zeros(4)
    curve = np.zeros((len(CURVE), 4))
    for domain in sorted(set(groups.tolist())):
        train = groups != domain
        try:
            model = calibrate(
                recipe.fit(x[train], y[train], groups[train]),
                x[train],
                y[train],
                groups[train],
                keys[train],
                at,
                quiet=True,
            )
        except SystemExit:
            print(f"  {domain}: no operating point without it", file=sys.stderr)
            continue
        rates = held_out_rates(model, x[~train], y[~train], keys[~train], at)
        total += rates
        for i, t in enumerate(CURVE):
            curve[i] += held_out_rates(model, x[~train], y[~train], keys[~train], t)
        print(
            f"  {domain:22s} held out: abstained {rates[0]}/{rates[1]}, "
            f"refused answerable {rates[2]}/{rates[3]}"
        )
    abst, false = total[0] / max(total[1], 1), total[2] / max(total[3], 1)
    print(f"leave-one-domain-out: abstention {abst:.3f}, false abstention {false:.3f}")
    for t, c in zip(CURVE, curve, strict=True):
        print(
            f"  at p >= {t:.2f}: abstention {c[0] / max(c[1], 1):.3f}, "
            f"false abstention {c[2] / max(c[3], 1):.3f}"
        )
    return float(abst), float(false)


def _placeholder_model() -> None:
    """When the feature list changed, the stored model cannot load; the gate is open while
    collecting (``min_answer_score=0``), so a zero model of the new shape serves until
    the refit replaces it."""
    try:
        abstain.load_model()
    except (ValueError, KeyError):
        n = len(abstain.FEATURES)
        zero = abstain.Model(np.zeros(n), np.ones(n), np.zeros(n), 0.0)
        abstain.MODEL_PATH.write_text(json.dumps(zero.to_dict(), indent=1) + "\n", "utf-8")
        abstain.load_model.cache_clear()


def gather() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ask every dev question with the gate open: features, labels, domains and item keys
    (one row per part of a two-part question), also saved to :data:`CACHE`."""
    _placeholder_model()
    base = Config.from_env()
    ROWS.parent.mkdir(parents=True, exist_ok=True)
    ROWS.write_text("", encoding="utf-8")
    parts = load_components(base)
    data: list[tuple[list[float], int, str]] = []
    seeds = load_dataset(Path("eval/datasets/seeds_dev.jsonl"), base.corpus_path)
    bot = Assistant(parts)
    data += collect(bot, list(seeds.items), Scorer(base, parts.embedder))
    groups = ["seeds_dev"] * len(data)
    domains = [d for m in MANIFESTS for d in load_suite(m).select("dev").domains]
    for domain in domains:
        cfg = domain_config(base, domain, DEFAULT_SUITE_OUT / "index")
        index = open_index(cfg, parts.embedder)
        bot = Assistant(
            Components(cfg, parts.embedder, index, Retriever(index, parts.embedder, cfg))
        )
        items = [i for q in domain.questions for i in load_dataset(q, cfg.corpus_path).items]
        data += collect(bot, items, Scorer(cfg, parts.embedder))
        groups += [domain.name] * (len(data) - len(groups))
        print(f"{domain.name}: {len(data)} rows so far", file=sys.stderr)
    x = np.asarray([f for f, _, _ in data], float)
    y = np.asarray([label for _, label, _ in data], float)
    g = np.asarray(groups)
    keys = np.asarray([f"{name}:{key}" for name, (_, _, key) in zip(groups, data, strict=True)])
    np.savez(CACHE, x=x, y=y, g=g, keys=keys, features=np.asarray(abstain.FEATURES))
    return x, y, g, keys


def extend(old: dict[str, Any], x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> abstain.Model:
    """The stored model with the features it lacks added: their weights fitted on the
    dev rows with the stored model's logit (bias included) as a fixed offset,
    the same class-balanced, sign-constrained loss as :func:`abstain.fit`
    (:func:`abstain.fit_added`). The old
    weights and operating point stay as they were; a new feature moves only the
    questions it fires on. Use it for a feature that fires on few dev rows, where a
    whole refit would move every other question for no gain."""
    have = list(old["features"])
    new = [i for i, f in enumerate(abstain.FEATURES) if f not in have]
    idx = [abstain.FEATURES.index(f) for f in have]
    mean = np.zeros(len(abstain.FEATURES))
    std = np.ones(len(abstain.FEATURES))
    weights = np.zeros(len(abstain.FEATURES))
    mean[idx], std[idx], weights[idx] = old["mean"], old["std"], old["weights"]
    offset = ((x[:, idx] - mean[idx]) / std[idx]) @ weights[idx] + float(old["bias"])
    signs = np.asarray([abstain.SIGNS[i] for i in new], float)
    w, std[new] = abstain.fit_added(x[:, new], y, offset, signs, l2)
    weights[new] = w
    for i in new:
        print(f"extended with {abstain.FEATURES[i]}: weight {weights[i]:+.3f}", file=sys.stderr)
    return abstain.Model(mean, std, weights, float(old["bias"]))


def main(argv: list[str]) -> int:
    """Collect (or, with ``--reuse``, read the last collection) and refit the model, or
    with ``--extend`` add the features the stored model lacks (:func:`extend`), or with
    ``--cv`` only report the leave-one-domain-out estimate (:func:`cross_validate`)."""
    old = json.loads(abstain.MODEL_PATH.read_text(encoding="utf-8"))
    if "--reuse" in argv:
        saved = np.load(CACHE)
        if list(saved["features"]) != list(abstain.FEATURES):
            raise SystemExit(f"{CACHE} was collected for other features; run without --reuse")
        x, y, g, keys = saved["x"], saved["y"], saved["g"], saved["keys"]
    else:
        x, y, g, keys = gather()
    recipe = Recipe(
        float(argv[argv.index("--l2") + 1]) if "--l2" in argv else 1.0, "--balance" in argv
    )
    if "--stable" in argv:
        drop = unstable(x, y, g, recipe)
        print(f"left out as unstable across folds: {', '.join(drop) or 'none'}", file=sys.stderr)
        recipe = Recipe(
            recipe.l2, recipe.balance, np.asarray([f not in drop for f in abstain.FEATURES])
        )
    if "--cv" in argv:  # an estimate only: the stored model is left as it is
        cross_validate(x, y, g, keys, Config().min_answer_score, recipe)
        return 0
    if "--extend" in argv:
        model = extend(old, x, y)
    else:
        model = calibrate(recipe.fit(x, y, g), x, y, g, keys, Config().min_answer_score)
    abstain.MODEL_PATH.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
    p = np.asarray([model.probability(f) for f in x])
    for t in (0.3, 0.4, 0.45, 0.5, 0.6):
        ok = float(np.mean((p >= t) == (y == 1)))
        print(f"threshold {t}: agreement {ok:.3f}, answered {np.mean(p >= t):.3f}")
    for name, w in zip(abstain.FEATURES, model.weights, strict=True):
        print(f"  {name:22s} {w:+.3f}")
    print(f"n={len(y)} positives={int(y.sum())}; wrote {abstain.MODEL_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Refit the extractive abstention model (rag/abstain_model.json) on the dev split.

    .venv/bin/python scripts/fit_abstention.py            # suite dev domains + seeds_dev

Every dev question is asked with the gate open (``min_answer_score=0``), the gate's
features of the best sentence are recorded, and a logistic regression (numpy, L2) is
fitted: label 1 when the answer is right, 0 when the question is unanswerable.
Answerable questions answered wrongly are left out: abstaining on them does not make
them right, it only adds a false abstention. Test domains are never read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer import abstain
from rag.answer.assistant import Assistant
from rag.config import Config
from rag.evaluation.dataset import load_dataset
from rag.evaluation.metrics import Scorer
from rag.evaluation.suite import DEFAULT_SUITE, DEFAULT_SUITE_OUT, domain_config, load_suite
from rag.retrieve.components import Components, load_components
from rag.retrieve.retriever import Retriever
from rag.store.build import open_index

ROWS = Path("eval/reports/abstain-fit.jsonl")  # what was fitted on, for inspection


def collect(bot: Assistant, items: list[Any], scorer: Scorer) -> list[tuple[list[float], int]]:
    """(features, label) for each item the gate saw; wrong answers to answerable ones left out."""
    out = []
    log = ROWS.open("a", encoding="utf-8")
    for item in items:
        bot.trace = []
        answer = bot.ask(item.question, list(item.history) or None, min_answer_score=0.0)
        row = scorer.score(item, answer)
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
                    "answer": answer.answer[:300],
                    "features": bot.trace[-1]["features"],
                }
            )
            + "\n"
        )
        for t in bot.trace:  # one per part of a two-part question
            if not item.answerable:
                out.append((t["features"], 0))
            elif correct:
                out.append((t["features"], 1))
    log.close()
    return out


MAX_FALSE_ABSTENTION = 0.05  # on the fitted rows: the operating point may not refuse more


def calibrate(
    model: abstain.Model, x: np.ndarray, y: np.ndarray, groups: np.ndarray, at: float
) -> abstain.Model:
    """Shift the bias so that ``p >= at`` (the default ``min_answer_score``) is the
    operating point with the best balanced accuracy whose false-abstention rate stays
    within :data:`MAX_FALSE_ABSTENTION` in every dev domain (``groups``), not only on
    all rows pooled: one corpus may not pay for another's abstentions."""
    p = np.asarray([model.probability(f) for f in x])
    best_t, best_j = 0.05, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        fa = max(float(np.mean(p[(y == 1) & (groups == g)] < t)) for g in set(groups.tolist()))
        j = float(np.mean(p[y == 0] < t)) + 1 - float(np.mean(p[y == 1] < t))
        if fa <= MAX_FALSE_ABSTENTION and j > best_j:
            best_t, best_j = float(t), j
    shift = np.log(at / (1 - at)) - np.log(best_t / (1 - best_t))
    print(f"operating point p >= {best_t:.2f} (balanced {best_j / 2:.3f}) -> {at}", file=sys.stderr)
    return abstain.Model(model.mean, model.std, model.weights, model.bias + float(shift))


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


def main() -> int:
    _placeholder_model()
    base = Config.from_env()
    ROWS.parent.mkdir(parents=True, exist_ok=True)
    ROWS.write_text("", encoding="utf-8")
    parts = load_components(base)
    data: list[tuple[list[float], int]] = []
    seeds = load_dataset(Path("eval/datasets/seeds_dev.jsonl"), base.corpus_path)
    bot = Assistant(parts)
    data += collect(bot, list(seeds.items), Scorer(base, parts.embedder))
    groups = ["seeds_dev"] * len(data)
    suite = load_suite(DEFAULT_SUITE).select("dev")
    for domain in suite.domains:
        cfg = domain_config(base, domain, DEFAULT_SUITE_OUT / "index")
        index = open_index(cfg, parts.embedder)
        bot = Assistant(
            Components(cfg, parts.embedder, index, Retriever(index, parts.embedder, cfg))
        )
        items = [i for q in domain.questions for i in load_dataset(q, cfg.corpus_path).items]
        data += collect(bot, items, Scorer(cfg, parts.embedder))
        groups += [domain.name] * (len(data) - len(groups))
        print(f"{domain.name}: {len(data)} rows so far", file=sys.stderr)
    x = np.asarray([f for f, _ in data], float)
    y = np.asarray([label for _, label in data], float)
    g = np.asarray(groups)
    model = calibrate(abstain.fit(x, y), x, y, g, Config().min_answer_score)
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
    raise SystemExit(main())

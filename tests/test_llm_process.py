"""The local model behind a process boundary: crashes, hangs and queues end in the child.

Real processes throughout: the SmolLM2 GGUF in a real ``llama_cpp.server`` child
supervised by :class:`rag.answer.llm.process.ModelProcess`, killed with real signals while it
answers, and a real Gradio server whose other sessions keep being answered.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag import prompts
from rag.answer.assistant import Assistant
from rag.answer.llm.backends import LlamaCppLocal, smollm2_path
from rag.answer.llm.process import ModelProcess, describe_exit
from rag.errors import ModelLoadError
from rag.retrieve.components import Components

pytestmark = [
    pytest.mark.llm,
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
ROOT = Path(__file__).resolve().parents[1]
HOTLINE_Q = "How many hotline calls did the Vietnamese and Chinese border guards make to each other in 2025?"
OTHER_Q = "How many official letters did the two border guard forces exchange in 2025?"
# One thread and short replies: the prompt (~700 tokens) still takes seconds to read,
# so a signal sent 0.3 s after a question takes the model lands mid-answer. The long
# timeout is for a busy 2-core machine; the hang test sets its own short one.
FAST = {"llm_max_tokens": 64, "llm_threads": 1, "k": 3, "llm_timeout_s": 300}
FALLBACK = "extractive (fallback from llamacpp)"


def local_model(bot: Assistant, **settings) -> LlamaCppLocal:
    """The ``llamacpp`` model the chain uses for these settings (its child started)."""
    llm = bot._llm(bot.config.replace(backend="llamacpp", **{**FAST, **settings}))
    assert isinstance(llm, LlamaCppLocal)
    return llm


def signal_when_busy(proc: ModelProcess, sig: int, delay_s: float = 0.3) -> threading.Thread:
    """Send ``sig`` to the model's child once a question has held it for ``delay_s``."""

    def run() -> None:
        deadline = time.monotonic() + 120
        while proc.in_use == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay_s)
        pid = proc.pid
        assert pid is not None
        os.kill(pid, sig)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def gone(pid: int) -> bool:
    """Has process ``pid`` ended (a zombie nobody reaped counts as ended)?"""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in {"Z", "X"}


@pytest.fixture()
def bot(assistant: Assistant) -> Assistant:
    """A fresh Assistant (own model cache) sharing the session's models and index."""
    return Assistant(assistant.parts)


def test_the_library_is_built_for_a_portable_instruction_set() -> None:
    """The Makefile's flags reached the build: AVX2 kernels, none for AVX-512 or AMX
    (a native build on an AVX-512 + AMX CPU segfaults in decode)."""
    out = subprocess.run(
        [sys.executable, "-c", "import llama_cpp; print(llama_cpp.llama_print_system_info())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "AVX2 = 1" in out, out
    assert not re.search(r"\b(?:AVX512|AMX)\w* = 1", out), out


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL], ids=["SIGSEGV", "SIGKILL"])
def test_a_child_killed_mid_answer_falls_back_and_is_replaced(bot: Assistant, sig: int) -> None:
    llm = local_model(bot)
    first_pid, starts = llm.process.pid, llm.process.starts
    killer = signal_when_busy(llm.process, sig)
    answer = bot.ask(HOTLINE_Q, backend="llamacpp", **FAST)
    killer.join(timeout=5)
    assert answer.backend == FALLBACK, answer.notes
    reason = describe_exit(-sig)
    assert any(reason in note and "next question" in note for note in answer.notes), answer.notes
    assert not answer.abstained and "113" in answer.answer  # the extractive answer
    assert "127.0.0.1" not in " ".join(answer.notes), "no internal URLs in notes"

    again = bot.ask(HOTLINE_Q, backend="llamacpp", **FAST)
    assert again.backend == "llamacpp", again.notes
    assert llm.process.pid not in (None, first_pid) and llm.process.starts == starts + 1


@pytest.mark.slow
def test_a_hung_child_times_out_and_is_replaced(bot: Assistant) -> None:
    hang = {**FAST, "llm_timeout_s": 3}
    llm = local_model(bot, **hang)
    first_pid = llm.process.pid
    signal_when_busy(llm.process, signal.SIGSTOP)  # frozen: it never answers
    t0 = time.perf_counter()
    answer = bot.ask(HOTLINE_Q, backend="llamacpp", **hang)
    assert time.perf_counter() - t0 < 20
    assert answer.backend == FALLBACK
    assert any("did not answer within 3 s" in n for n in answer.notes), answer.notes
    assert first_pid is not None and gone(first_pid), "the hung child was stopped"
    again = bot.ask(HOTLINE_Q, backend="llamacpp", **FAST)
    assert again.backend == "llamacpp", again.notes


@pytest.mark.slow
def test_concurrent_questions_take_turns_on_one_model(bot: Assistant) -> None:
    llm = local_model(bot)
    pid = llm.process.pid
    questions = [HOTLINE_Q, OTHER_Q, HOTLINE_Q, OTHER_Q]
    with ThreadPoolExecutor(len(questions)) as pool:
        answers = list(pool.map(lambda q: bot.ask(q, backend="llamacpp", **FAST), questions))
    assert [a.backend for a in answers] == ["llamacpp"] * len(questions), [a.notes for a in answers]
    assert [a.question for a in answers] == questions
    assert llm.process.max_in_use == 1, "one generation at a time on one llama context"
    assert llm.process.pid == pid, "no crash, no restart"


def test_a_memory_cap_the_model_cannot_load_under_is_a_clear_error(bot: Assistant) -> None:
    cfg = bot.config.replace(backend="llamacpp", llm_memory_mb=160, llm_threads=1)
    with pytest.raises(ModelLoadError, match="local model process .* while loading"):
        LlamaCppLocal(cfg)
    answer = bot.ask(HOTLINE_Q, backend="llamacpp", llm_memory_mb=160, llm_threads=1)
    assert answer.backend == FALLBACK and "113" in answer.answer
    prefix = prompts.FALLBACK_NOTE.split("{reason}")[0].format(backend="llamacpp")
    assert any(n.startswith(prefix) for n in answer.notes), answer.notes


def test_the_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = (
        "import time\nfrom pathlib import Path\n"
        "from rag.answer.llm.process import ChildSpec, ModelProcess\n"
        f"p = ModelProcess(ChildSpec(model=Path({str(smollm2_path())!r}), n_ctx=512, threads=1))\n"
        "p.ensure_running()\nprint(p.pid, flush=True)\ntime.sleep(300)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child)
        parent.kill()  # kill -9: no atexit, no cleanup in the parent
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not gone(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(child), "an orphaned model process would hold its port and memory"
    finally:
        parent.kill()


@pytest.mark.slow
def test_the_app_survives_a_model_crash_and_other_sessions_see_no_error(
    assistant: Assistant,
) -> None:
    """A real Gradio server: session A's model child gets SIGSEGV mid-answer while session
    B keeps asking; A gets the fallback answer, B never an error, and A's next question is
    answered by a fresh child."""
    gradio_client = pytest.importorskip("gradio_client")
    from tests.test_app import free_port, load_app

    parts = assistant.parts  # the session's models and index; this test only asks
    config = assistant.config.replace(
        backend="llamacpp", llm_max_tokens=64, llm_threads=1, k=3, llm_timeout_s=300
    )
    bot = Assistant(Components(config, parts.embedder, parts.index, parts.retriever))
    app = load_app()
    demo = app.build(app.Engine(assistant=bot))
    port = free_port()
    app.launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        llm = local_model(bot)
        first_pid = llm.process.pid
        killer = signal_when_busy(llm.process, signal.SIGSEGV)
        b_results: list[dict] = []

        def session_b() -> None:
            client = gradio_client.Client(url, verbose=False)
            for _ in range(6):
                b_results.append(client.predict(OTHER_Q, "extractive", 5, True, api_name="/ask"))

        other = threading.Thread(target=session_b)
        other.start()
        a = gradio_client.Client(url, verbose=False)
        crashed = a.predict(HOTLINE_Q, "llamacpp", 3, True, api_name="/ask")
        other.join(timeout=120)
        killer.join(timeout=5)
        assert crashed["backend"] == FALLBACK and "113" in crashed["answer"]
        assert any("crashed (SIGSEGV)" in n for n in crashed.get("notes", [])), crashed
        assert len(b_results) == 6 and all("679" in r["answer"] for r in b_results), b_results
        again = a.predict(HOTLINE_Q, "llamacpp", 3, True, api_name="/ask")
        assert again["backend"] == "llamacpp", again.get("notes")
        assert llm.process.pid not in (None, first_pid)
    finally:
        demo.close()


def test_the_child_s_openmp_threads_sleep_when_idle(bot: Assistant) -> None:
    """Issue 17.4: OpenMP threads that spin while idle starve each other on 2 shared cores
    (prompt reading 2x and generation 5-20x slower under load); the child gets
    OMP_WAIT_POLICY=PASSIVE unless the environment says otherwise."""
    llm = local_model(bot)
    pid = llm.process.pid
    assert pid is not None
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    want = os.environ.get("OMP_WAIT_POLICY", "PASSIVE").encode()
    assert b"OMP_WAIT_POLICY=" + want in env


def test_the_child_reads_only_the_new_part_of_each_prompt(bot: Assistant) -> None:
    """Issue 17.4, time to first token: the child is started without per-token logits
    (``--logits_all false``: the vocabulary's logits for every prompt token are a quarter
    more work for SmolLM2), and the system prompt is read once at start-up, so that even
    the first question's prompt evaluation starts after it (llama.cpp reuses the longest
    common token prefix of consecutive requests)."""
    llm = local_model(bot)
    pid = llm.process.pid
    assert pid is not None
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert argv[argv.index(b"--logits_all") + 1] == b"false"
    before = llm.process.log_tail(10**9)
    assert "prompt eval time" in before  # the warm-up request ran
    answer = bot.ask(HOTLINE_Q, backend="llamacpp", **FAST)
    assert answer.backend == "llamacpp", answer.notes
    hits = re.findall(r"(\d+) prefix-match hit", llm.process.log_tail(10**9)[len(before) :])
    assert hits and int(hits[0]) >= 60, hits  # the system prompt is ~100 tokens


def test_the_app_starts_an_enabled_local_model_before_its_first_question(bot: Assistant) -> None:
    """An enabled ``llamacpp`` backend that is not the default is started in a background
    thread once the app is up (the warm-up question only loads the default one), so the
    first question on it finds its child running and the system prompt read; the
    questions then use that model, not a new one."""
    from rag.app.engine import Engine

    bot.config = bot.config.replace(backend="extractive", allowed_backends="extractive,llamacpp")
    cfg = bot.config.replace(backend="llamacpp")
    Engine(assistant=bot).warm_models()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(k[0] == "llamacpp" for k in bot._llms):
        time.sleep(0.1)
    llm = bot._llm(cfg)
    assert isinstance(llm, LlamaCppLocal)
    assert llm.process.pid is not None and not gone(llm.process.pid)
    assert "prompt eval time" in llm.process.log_tail(10**9)  # the system prompt was read
    bot.warm_backend("llamacpp")  # once started, warming again changes nothing
    assert bot._llm(cfg) is llm

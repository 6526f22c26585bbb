"""The load script (tests/load/run_load.py) in miniature: 2 sessions for a few seconds.

The app is served in-process over the session's index (rate limit off, as the script
does when it starts the app itself); the script connects with ``--url``. The long run
(N = 1, 8, 32) is ``.venv/bin/python tests/load/run_load.py``; see RELIABILITY.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.config import Config
from rag.server.limits import RateLimiter
from tests.load import run_load
from tests.test_reliability import built_seed_index, free_port, load_app, private_bot  # noqa: F401

pytestmark = [
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, built_seed_index: Path, assistant):  # noqa: F811
    pytest.importorskip("gradio_client")
    root = tmp_path_factory.mktemp("loadapp")
    shutil.copytree(built_seed_index / "seeds", root / "seeds")
    shutil.copytree(built_seed_index / "index", root / "index")
    bot = private_bot(Config.from_env({"root": root}, environ={}), assistant.parts.embedder)
    app = load_app()
    demo = app.build(app.Engine(assistant=bot), limiter=RateLimiter(0))
    port = free_port()
    app.launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_load_script_two_sessions(app_url: str, tmp_path: Path, capsys) -> None:
    rc = run_load.main(
        ["--url", app_url, "--sessions", "2", "--seconds", "3", "--timeout", "60"]
        + ["--scenarios", "4", "--out", str(tmp_path)]
    )
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "latest.json").read_text())
    (run,) = report["runs"]
    assert rc == 0, out
    assert run["sessions"] == 2 and run["errors"] == 0 and run["wrong_answers"] == 0
    assert run["asks"] >= 4 and run["conversations"] >= 2
    assert run["latency_ms"]["p50"] <= run["latency_ms"]["p95"] <= run["latency_ms"]["max"]
    assert " N " in f" {out}" and "asks/s" in out


def test_load_checks_catch_crossed_answers() -> None:
    """The checker flags an answer meant for another session or with another history."""
    sc = run_load.SCENARIOS[0]
    ref = {
        "question": sc.question,
        "standalone_question": sc.question,
        "answer": f"They made {sc.fact} calls [1].",
        "abstained": False,
        "citations": [{"n": 1, "source": "s", "start": 0, "end": 5}],
    }
    assert run_load.check(ref, sc.question, sc.fact, ref) is None
    other = {**ref, "question": run_load.SCENARIOS[1].question}
    assert "another question" in run_load.check(other, sc.question, sc.fact, ref)
    mixed = {**ref, "standalone_question": "x (context: something else)"}
    assert "standalone_question differs" in run_load.check(mixed, sc.question, sc.fact, ref)
    assert "missing" in run_load.check({**ref, "answer": "no"}, sc.question, sc.fact, ref)
    with pytest.raises(SystemExit):
        run_load.parse_args(["--url", "http://example.com/"])  # loopback only


def test_flood_script_asks_what_the_app_answers(app_url: str) -> None:
    """tests/load/flood.py posts /ask over raw HTTP; when /ask gained inputs its 4-value
    payload was refused by Gradio ("needed: 9, got: 4") and counted as rate-limited."""
    from tests.load import flood

    port = int(app_url.rstrip("/").rsplit(":", 1)[1])
    status, data = flood.call(port, "ask", flood.ASK, source=flood.HOST)
    assert status == "complete" and "113" in json.dumps(data), (status, data)

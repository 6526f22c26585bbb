"""Load test: N concurrent gradio_client sessions against the running app, every answer checked.

    .venv/bin/python tests/load/run_load.py                      # starts `python app.py`, N = 1, 8, 32
    .venv/bin/python tests/load/run_load.py --sessions 1,8,32 --seconds 60
    .venv/bin/python tests/load/run_load.py --url http://127.0.0.1:7860/ --sessions 8

Each session is one ``gradio_client.Client`` (one server-side conversation). It loops
until its time is up: ask a question about the seed articles, ask a follow-up that only
makes sense with *its own* history, then ``/reset``. Every answer is checked against a
reference taken first, one question at a time, from the same server:

* ``question`` echoes what this session asked (no answer delivered to another session),
* the answer contains the expected fact and equals the reference answer and citations,
* the follow-up's standalone rewrite equals the reference (no mixed histories).

With ``--backend llamacpp`` (or ``openai``) the app answers with that generative
backend: its answers are not compared with a fact or a reference (a 135M model words
them its own way), only checked to belong to the session's question and to come
from that backend or its announced extractive fallback, which is counted.

Reported per N: asks, conversations, throughput (asks/s), latency p50/p95/max of /ask,
errors (exceptions, timeouts) and wrong answers. A JSON report goes to ``--out``
(default ``eval/reports/load/``). Exit status: 0 clean, 1 any error or wrong answer,
2 the app could not be started or the references are wrong.

When it starts the app itself, the app runs over a temporary copy of ``seeds/`` with
``RAG_RATE_LIMIT_PER_MINUTE=0``: each virtual session asks back to back, far above the
per-session limit meant for people. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "eval" / "reports" / "load"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    """A question with its expected fact, and a follow-up that needs the question's context."""

    question: str
    fact: str
    follow_up: str
    follow_fact: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "How many hotline calls did the Vietnamese and Chinese border guards make to each other in 2025?",
        "113",
        "And how many official letters did they exchange?",
        "679",
    ),
    Scenario(
        "How many rounds of talks did the Lang Son and Guangxi border guards hold during 2025 "
        "under their coordination mechanisms?",
        "20",
        "And how many face-to-face meetings did they conduct?",
        "74",
    ),
    Scenario(
        "How many border crime cases were handled by the Lạng Sơn Border Guard and Border "
        "Section No. 7 during the year?",
        "221",
        "How many people were involved in those cases?",
        "1,182",
    ),
    Scenario(
        "How many cases of organising illegal entry and exit were prosecuted?",
        "49",
        "And how many suspects?",
        "94",
    ),
    Scenario(
        "How many cases of illegally transporting fireworks did the border guards deal with?",
        "30",
        "And how many suspects were involved?",
        "35",
    ),
    Scenario(
        "How many smuggling cases across border gates were dealt with in 2025?",
        "65",
        "And how many suspects were involved?",  # the same words: only history tells them apart
        "70",
    ),
    Scenario(
        "Who led the Chinese side at the border guard talks with Lạng Sơn?",
        "Zhu Xingan",
        "And who led the Vietnamese side?",
        "Đào Quốc Thạo",
    ),
    Scenario(
        "Who chairs the People's Committee of Lang Son province?",
        "Nguyễn Cảnh Toàn",
        "On which day did he hold talks with Wei Tao?",
        "Thursday",
    ),
    Scenario(
        "In which city will the 17th Joint Working Committee meeting take place?",
        "Nanning",
        "Which restored passenger train route goes there?",
        "Hà Nội–Nanning",
    ),
    Scenario(
        "On what day of the week did the Lạng Sơn and Guangxi border guard forces hold their "
        "review talks?",
        "Tuesday",
        "And where did they meet?",
        "Lạng Sơn",
    ),
    Scenario(
        "Which freight route did Lang Son's chairman want formally launched?",
        "Tân Thanh–Pò Chài",
        "And at which crossing did he ask for longer operating hours?",
        "Cốc Nam",
    ),
)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# ---------------------------------------------------------------------------- the app


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class AppProcess:
    """``python app.py`` over a temporary copy of the seeds, on a free loopback port."""

    def __init__(self, root: Path | None = None, port: int = 0) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="rag-load-")
            root = Path(self._tmp.name)
            shutil.copytree(ROOT / "seeds", root / "seeds")
        self.root = root
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}/"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "app.log"

    def start(self, timeout_s: float, backend: str = "extractive") -> AppProcess:
        env = {
            **os.environ,
            "RAG_BACKEND": backend,
            "RAG_ROOT": str(self.root),
            "RAG_RATE_LIMIT_PER_MINUTE": "0",
            "HF_HUB_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
        cmd = [sys.executable, str(ROOT / "app.py"), "--host", HOST, "--port", str(self.port)]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:  # the page is served first ...
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise TimeoutError(
                f"app.py did not serve {self.url} in {timeout_s:g} s:\n{self.tail()}"
            )
        from gradio_client import Client  # ... then the engine loads: /documents waits for it

        client = Client(self.url, verbose=False)
        left = max(1.0, deadline - time.monotonic())
        docs = client.submit(api_name="/documents").result(timeout=left)
        if not docs:
            raise RuntimeError("the app has no documents")
        _close(client)
        return self

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _close(client: Any) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


# ---------------------------------------------------------------------------- checking


@dataclass
class Reference:
    first: dict[str, Any]
    follow: dict[str, Any]


def _essence(result: dict[str, Any]) -> dict[str, Any]:
    """What must be identical between a loaded run and the reference."""
    return {
        "question": result.get("question"),
        "standalone_question": result.get("standalone_question"),
        "answer": result.get("answer"),
        "abstained": result.get("abstained"),
        "citations": [
            (c["n"], c["source"], c["start"], c["end"]) for c in result.get("citations", [])
        ],
    }


def check(
    result: Any,
    asked: str,
    fact: str,
    reference: dict[str, Any] | None,
    backend: str = "extractive",
) -> str | None:
    """Why ``result`` is wrong for this session's question, or None when it is right.

    A generative ``backend`` is only held to the question and to its own name (or
    its extractive fallback): its wording is its own.
    """
    if not isinstance(result, dict):
        return f"not an answer object: {type(result).__name__}"
    if result.get("question") != asked:
        return f"answer to another question: {str(result.get('question'))[:80]!r}"
    if backend != "extractive":
        if result.get("backend") not in {backend, f"extractive (fallback from {backend})"}:
            return f"answered by {result.get('backend')!r}, not {backend}"
        return None
    if _norm(fact) not in _norm(result.get("answer", "")):
        return f"expected fact {fact!r} missing from {str(result.get('answer'))[:120]!r}"
    if reference is not None:
        got, want = _essence(result), _essence(reference)
        for key in want:
            if got[key] != want[key]:
                return f"{key} differs from the reference: {str(got[key])[:120]!r}"
    return None


def take_references(
    url: str, scenarios: Sequence[Scenario], timeout_s: float, backend: str = "extractive"
) -> list[Reference]:
    """Every scenario asked once, alone, by one session: the expected answers."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    refs = []
    try:
        for sc in scenarios:
            first = client.submit(sc.question, backend, api_name="/ask").result(timeout_s)
            follow = client.submit(sc.follow_up, backend, api_name="/ask").result(timeout_s)
            client.submit(api_name="/reset").result(timeout=timeout_s)
            for result, asked, fact in (
                (first, sc.question, sc.fact),
                (follow, sc.follow_up, sc.follow_fact),
            ):
                problem = check(result, asked, fact, None, backend)
                if problem:
                    raise RuntimeError(f"reference for {asked!r} is wrong: {problem}")
            refs.append(Reference(first, follow))
    finally:
        _close(client)
    return refs


# ---------------------------------------------------------------------------- one run


@dataclass
class Gate:
    """When the measured run starts and ends: set as the last session connects."""

    seconds: float
    deadline: float
    t0: float = 0.0

    def open(self) -> None:
        self.t0 = time.monotonic()
        self.deadline = self.t0 + self.seconds


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    conversations: int = 0
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    fallbacks: int = 0  # generative answers that came from the extractive fallback
    client_setup_ms: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _session(
    index: int,
    url: str,
    scenarios: Sequence[Scenario],
    refs: Sequence[Reference],
    gate: Gate,
    timeout_s: float,
    tally: Tally,
    start: threading.Barrier,
    backend: str = "extractive",
) -> None:
    from gradio_client import Client

    t0 = time.perf_counter()
    try:
        client = Client(url, verbose=False)
    except Exception as exc:
        with tally.lock:
            tally.errors.append(f"session {index}: cannot connect: {type(exc).__name__}: {exc}")
        start.abort()
        return
    with tally.lock:
        tally.client_setup_ms.append((time.perf_counter() - t0) * 1000)
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait(timeout=timeout_s)
    turn = index
    try:
        for _ in range(100_000):  # bounded; the deadline ends it long before
            if time.monotonic() >= gate.deadline:
                break
            k = turn % len(scenarios)
            sc, ref = scenarios[k], refs[k]
            turn += 1
            ok = True
            for asked, fact, want in (
                (sc.question, sc.fact, ref.first),
                (sc.follow_up, sc.follow_fact, ref.follow),
            ):
                t = time.perf_counter()
                try:
                    result = client.submit(asked, backend, api_name="/ask").result(timeout_s)
                except Exception as exc:
                    with tally.lock:
                        tally.errors.append(
                            f"session {index}: {asked[:40]!r}: {type(exc).__name__}: {str(exc)[:200]}"
                        )
                    ok = False
                    break
                elapsed = (time.perf_counter() - t) * 1000
                problem = check(result, asked, fact, want, backend)
                with tally.lock:
                    tally.latencies_ms.append(elapsed)
                    if str(result.get("backend", "")).startswith("extractive (fallback"):
                        tally.fallbacks += 1
                    if problem:
                        tally.wrong.append(f"session {index}: {asked[:40]!r}: {problem}")
                if problem:
                    ok = False
                    break
            try:
                client.submit(api_name="/reset").result(timeout=timeout_s)
            except Exception as exc:
                with tally.lock:
                    tally.errors.append(f"session {index}: /reset: {type(exc).__name__}: {exc}")
                ok = False
            if ok:
                with tally.lock:
                    tally.conversations += 1
            else:
                break  # a broken session stops; its failure is counted
    finally:
        _close(client)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def run_level(
    url: str,
    sessions: int,
    seconds: float,
    timeout_s: float,
    scenarios: Sequence[Scenario],
    refs: Sequence[Reference],
    backend: str = "extractive",
) -> dict[str, Any]:
    """``sessions`` concurrent sessions for ``seconds``; the measured figures."""
    tally = Tally()
    connect_s = max(60.0, timeout_s)
    gate = Gate(seconds, deadline=time.monotonic() + connect_s + seconds)  # a hard bound
    start = threading.Barrier(sessions + 1, action=gate.open)  # the clock starts when all connected
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    threads = [
        threading.Thread(
            target=_session,
            args=(i, url, scenarios, refs, gate, timeout_s, tally, start, backend),
            name=f"load-session-{i}",
            daemon=True,
        )
        for i in range(sessions)
    ]
    for t in threads:
        t.start()
    try:
        start.wait(timeout=connect_s)
    except threading.BrokenBarrierError:
        if not gate.t0:
            gate.open()
    for t in threads:
        t.join(timeout=max(0.0, gate.deadline - time.monotonic()) + 2 * timeout_s + 30)
    elapsed = time.monotonic() - gate.t0
    stuck = sum(t.is_alive() for t in threads)
    if stuck:
        tally.errors.append(
            f"{stuck} session(s) still running {2 * timeout_s + 30:g} s past the end"
        )
    lat = tally.latencies_ms
    return {
        "sessions": sessions,
        "seconds": round(elapsed, 2),
        "asks": len(lat),
        "conversations": tally.conversations,
        "throughput_asks_per_s": round(len(lat) / elapsed, 2) if elapsed else None,
        "latency_ms": {
            "p50": _r(percentile(lat, 0.50)),
            "p95": _r(percentile(lat, 0.95)),
            "max": _r(max(lat) if lat else None),
            "mean": _r(statistics.fmean(lat) if lat else None),
        },
        "client_setup_ms_p50": _r(percentile(tally.client_setup_ms, 0.5)),
        "errors": len(tally.errors),
        "wrong_answers": len(tally.wrong),
        "backend": backend,
        "fallbacks": tally.fallbacks,
        "error_samples": tally.errors[:10],
        "wrong_samples": tally.wrong[:10],
        "loadavg_1min_before": _r(load_before),
        "loadavg_1min_after": _r(os.getloadavg()[0] if hasattr(os, "getloadavg") else None),
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 1)


# ---------------------------------------------------------------------------- main


def _print_table(runs: Sequence[dict[str, Any]]) -> None:
    head = f"{'N':>3} {'secs':>6} {'asks':>6} {'asks/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'errors':>6} {'wrong':>6} {'fallbk':>6}"
    print(head)
    for r in runs:
        lat = r["latency_ms"]
        print(
            f"{r['sessions']:>3} {r['seconds']:>6.1f} {r['asks']:>6} "
            f"{(r['throughput_asks_per_s'] or 0):>7.2f} {(lat['p50'] or 0):>8.0f} "
            f"{(lat['p95'] or 0):>8.0f} {(lat['max'] or 0):>8.0f} {r['errors']:>6} "
            f"{r['wrong_answers']:>6} {r.get('fallbacks', 0):>6}"
        )
        for line in r["error_samples"][:3] + r["wrong_samples"][:3]:
            print(f"    {line}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running app (default: start `python app.py` on a free port)")
    p.add_argument("--root", type=Path, help="project root for the started app (default: temp)")
    p.add_argument("--sessions", default="1,8,32", help="concurrent sessions per run")
    p.add_argument("--seconds", type=float, default=30.0, help="duration of each run")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per request")
    p.add_argument("--startup-timeout", type=float, default=600.0)
    p.add_argument(
        "--scenarios", type=int, default=len(SCENARIOS), help="use the first K conversations"
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON report")
    p.add_argument("--backend", default="extractive", choices=["extractive", "llamacpp", "openai"])
    args = p.parse_args(argv)
    try:
        args.levels = [int(x) for x in str(args.sessions).split(",") if x.strip()]
    except ValueError:
        p.error(f"--sessions must be numbers like 1,8,32, not {args.sessions!r}")
    if not args.levels or min(args.levels) < 1 or max(args.levels) > 256:
        p.error("--sessions must be between 1 and 256")
    if not 0 < args.seconds <= 3600 or not 0 < args.timeout <= 3600:
        p.error("--seconds and --timeout must be in (0, 3600]")
    if not 1 <= args.scenarios <= len(SCENARIOS):
        p.error(f"--scenarios must be between 1 and {len(SCENARIOS)}")
    if args.url and not args.url.startswith((f"http://{HOST}:", "http://localhost:")):
        p.error("--url must be a loopback address (http://127.0.0.1:PORT/)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    app = None
    url = args.url
    started = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        if url is None:
            print("starting app.py ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            app = AppProcess(args.root).start(args.startup_timeout, args.backend)
            url = app.url
            print(f"app ready at {url} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        scenarios = SCENARIOS[: args.scenarios]
        refs = take_references(url, scenarios, args.timeout, args.backend)
    except Exception as exc:
        print(f"run_load: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if app is not None:
            app.stop()
        return 2
    runs = []
    try:
        for n in args.levels:
            print(f"N={n}: {args.seconds:g} s ...", file=sys.stderr, flush=True)
            runs.append(
                run_level(url, n, args.seconds, args.timeout, scenarios, refs, args.backend)
            )
    finally:
        if app is not None:
            app.stop()
    report = {
        "started": started,
        "url": url,
        "app": "started by run_load (temp copy of seeds, rate limit off)" if app else "given",
        "seconds_per_run": args.seconds,
        "timeout_s": args.timeout,
        "scenarios": len(scenarios),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"load-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), "utf-8")
    (args.out / "latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), "utf-8")
    _print_table(runs)
    print(f"report: {path}")
    clean = all(r["errors"] == 0 and r["wrong_answers"] == 0 for r in runs)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())

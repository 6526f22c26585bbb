"""Flood the app from one address and time another user's questions meanwhile.

    .venv/bin/python tests/load/flood.py --threads 15 --seconds 20
    .venv/bin/python tests/load/flood.py --app /path/to/other/checkout/app.py   # compare

Starts ``python app.py`` (default settings: rate limits on) over a temporary copy of
``seeds/``, then runs ``--threads`` threads from 127.0.0.1 that each post
``/gradio_api/call/ask`` back to back (raw HTTP: a new Gradio session per call, as a
script would), while one "other user" on 127.0.0.2 asks one question a second.
Also measured first: 15 asks from one ``gradio_client.Client``, and 15 asks with a
new ``Client`` for each. Prints one JSON report (answered/refused per flood thread,
the other user's latency p50/p95/max before and during the flood).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
OTHER = "127.0.0.2"
Q = "How many hotline calls did the Vietnamese and Chinese border guards make to each other in 2025?"
# /ask's inputs over raw HTTP: question, backend, top_k, hybrid, the session's turns
# (a state: null), sources, since, until, scope (see rag.app.page)
ASK = [Q, "extractive", 5, True, None, None, "", "", "all"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_app(app: Path, root: Path, port: int, timeout_s: float = 600) -> subprocess.Popen:
    """``python app.py`` over ``root``; returns once ``/documents`` answers."""
    env = {**os.environ, "RAG_ROOT": str(root), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = str(app.parent)  # that checkout's rag package
    log = open(root / "app.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, str(app), "--host", HOST, "--port", str(port)],
        cwd=app.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((root / "app.log").read_text(errors="replace")[-2000:])
        try:
            status, _ = call(port, "documents", [], source=HOST, timeout=timeout_s)
            if status == "complete":
                return proc
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("the app did not start")


def call(port: int, api: str, data: list, *, source: str, timeout: float = 120) -> tuple[str, Any]:
    """POST /gradio_api/call/<api> from ``source`` and read the result event."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout, source_address=(source, 0))
    try:
        body = json.dumps({"data": data})
        conn.request("POST", f"/gradio_api/call/{api}", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            return f"http {resp.status}", payload[:200].decode(errors="replace")
        event_id = json.loads(payload)["event_id"]
        conn.request("GET", f"/gradio_api/call/{api}/{event_id}")
        lines = conn.getresponse().read().decode().splitlines()
    finally:
        conn.close()
    events = [line.split(": ", 1)[1] for line in lines if line.startswith("event:")]
    datas = [line[6:] for line in lines if line.startswith("data: ")]
    return (events[-1] if events else "none"), (json.loads(datas[-1]) if datas else None)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def other_user(port: int, stop: threading.Event, out: list[float], errors: list[str]) -> None:
    """One question a second from another address; latency in ms."""
    while not stop.is_set():
        t0 = time.perf_counter()
        status, data = call(port, "ask", ASK, source=OTHER)
        if status == "complete" and "113" in json.dumps(data):
            out.append((time.perf_counter() - t0) * 1000)
        else:
            errors.append(str(data)[:120])
        stop.wait(max(0.0, 1.0 - (time.perf_counter() - t0)))


def flooder(port: int, stop: threading.Event, tally: dict[str, int]) -> None:
    while not stop.is_set():
        try:
            status, data = call(port, "ask", ASK, source=HOST)
        except OSError:
            tally["failed"] += 1
            continue
        if status == "complete":
            tally["answered"] += 1
        elif "Too many" in json.dumps(data) or status.startswith("http 429"):
            tally["refused"] += 1  # the rate limit's own answer
        else:
            tally["failed"] += 1  # anything else is a defect, not a refusal


def sessions(url: str, n: int) -> dict[str, int]:
    """n asks from one Client, then n asks with a new Client each."""
    from gradio_client import Client

    out = {}
    for label, fresh in (("one_client", False), ("new_client_each", True)):
        client, ok = Client(url, verbose=False), 0
        for _ in range(n):
            c = Client(url, verbose=False) if fresh else client
            try:
                c.predict(Q, api_name="/ask")
                ok += 1
            except Exception:  # noqa: BLE001 - refusals are counted
                pass
        out[label] = ok
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=ROOT / "app.py")
    parser.add_argument("--threads", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--quiet-seconds", type=float, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rag-flood-") as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "seeds", root / "seeds")
        port = free_port()
        proc = start_app(args.app.resolve(), root, port)
        try:
            report: dict[str, Any] = {"app": str(args.app), "threads": args.threads}
            report["sessions_15_asks"] = sessions(f"http://{HOST}:{port}/", 15)
            time.sleep(61)  # every bucket full again
            quiet: list[float] = []
            errs: list[str] = []
            stop = threading.Event()
            t = threading.Thread(target=other_user, args=(port, stop, quiet, errs))
            t.start()
            time.sleep(args.quiet_seconds)
            tallies = [{"answered": 0, "refused": 0, "failed": 0} for _ in range(args.threads)]
            during: list[float] = []
            flood_stop = threading.Event()
            workers = [
                threading.Thread(target=flooder, args=(port, flood_stop, tallies[i]))
                for i in range(args.threads)
            ]
            n_quiet = len(quiet)
            for w in workers:
                w.start()
            time.sleep(args.seconds)
            flood_stop.set()
            during = quiet[n_quiet:]
            stop.set()
            for w in [*workers, t]:
                w.join(60)
            report["other_user_quiet_ms"] = _stats(quiet[:n_quiet])
            report["other_user_during_flood_ms"] = _stats(during)
            report["other_user_errors"] = errs
            report["flood_per_thread"] = tallies
            report["flood_total"] = {
                k: sum(tl[k] for tl in tallies) for k in ("answered", "refused", "failed")
            }
        finally:
            proc.terminate()
            proc.wait(30)
    print(json.dumps(report, indent=1))
    return 0


def _stats(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 1) if ms else float("nan"),
        "p95": round(pct(ms, 0.95), 1),
        "max": round(max(ms), 1) if ms else float("nan"),
    }


if __name__ == "__main__":
    sys.exit(main())

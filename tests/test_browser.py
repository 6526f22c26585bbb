"""The app in a real browser: Chromium (Debian's /usr/bin/chromium) driven by Playwright.

``python app.py`` runs as a subprocess over a private copy of the seeds whose index is
built beforehand, so the startup measured here is "index present". Screenshots and
timings go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rag.config import Config

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
except ImportError:  # pragma: no cover - playwright is a dev dependency
    PlaywrightTimeoutError = TimeoutError

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
Q_HOTLINE = "How many hotline calls did the Vietnamese and Chinese border guards make to each other in 2025?"
Q_SILENT = "Who is the Prime Minister of China?"
FOLLOW_UP = "And what about the official letters?"
Q_ZANZIBAR = "How many visitors did the Zanzibar lantern festival draw?"
HOSTILE_HTML = """<!doctype html><html><head><title>x</title>
<script>window.stolen = "yes";</script></head><body>
<h1>The Zanzibar festival</h1>
<p>The Zanzibar lantern festival drew 4,321 visitors &lt;img src=x onerror=alert(1)&gt;
&lt;script&gt;window.pwned=1&lt;/script&gt; to the harbour in 2025.</p>
<img src="x" onerror="alert(2)">
</body></html>
"""

BOT = '[data-testid="bot"]'
QUESTION = 'textarea[data-testid="textbox"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, embedder):
    """``python app.py`` on a free loopback port, index already built; yields url, timings."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (run `make browser`)")
    from rag.store.build import build_index

    root = tmp_path_factory.mktemp("browserroot")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    build_index(Config.from_env({"root": root}, environ={}), embedder, progress=False)

    port = free_port()
    env = {**os.environ, "RAG_ROOT": str(root), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (root / "app.log").open("w")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited: {(root / 'app.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not serve in 120 s: {(root / 'app.log').read_text()}")
            time.sleep(0.1)
        timings = {"served_s": time.perf_counter() - started, "started": started}
        yield url, timings, root
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (run `make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def ask(page, question: str) -> None:
    box = page.locator(QUESTION).first
    box.fill(question)
    box.press("Enter")


def set_top_k(page, value: str) -> None:
    """Set the top-k slider as a user would, until its number box shows ``value`` (the
    slider may still be mounting: its range input, then its own number box, typed into)."""
    slider = page.locator('#rag-topk input[type="range"]')
    number = page.locator('#rag-topk input[type="number"]')
    for attempt in range(10):
        if attempt % 2 == 0:
            slider.fill(value)
        else:
            number.fill(value)
            number.press("Enter")
        try:
            page.wait_for_function(
                f"() => document.querySelector('#rag-topk input[type=number]').value === '{value}'",
                timeout=2_000,
            )
            break
        except PlaywrightTimeoutError:
            page.wait_for_timeout(500)
    assert number.input_value() == value


def test_ask_cite_highlight_follow_up_upload(browser, app_url, tmp_path: Path) -> None:
    url, timings, root = app_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # -- the page is ready within seconds of start (index present)
    page.goto(url, wait_until="domcontentloaded")
    page.locator(QUESTION).first.wait_for()
    timings["page_ready_s"] = time.perf_counter() - timings["started"]
    page.get_by_text("Ready ·").wait_for(timeout=120_000)
    timings["engine_ready_s"] = time.perf_counter() - timings["started"]

    # -- 1. ask a seed question; the answer streams in with citation markers
    t0 = time.perf_counter()
    ask(page, Q_HOTLINE)
    page.locator(f"{BOT} .rag-answer-text").first.wait_for(timeout=60_000)
    timings["first_token_s"] = time.perf_counter() - t0
    marker = page.locator(f"{BOT} .rag-answer-text a.rag-cite").first
    marker.wait_for(timeout=60_000)
    timings["answer_s"] = time.perf_counter() - t0
    answer_text = page.locator(f"{BOT} .rag-answer-text").first.inner_text()
    assert "113" in answer_text
    assert "[1]" in answer_text

    # the same engine through its API gives the citation to expect
    from gradio_client import Client

    api = Client(url, verbose=False)
    expected = api.predict(Q_HOTLINE, api_name="/ask")
    quote = expected["citations"][0]["quote"]
    expected_rewrite = api.predict(FOLLOW_UP, api_name="/ask")["standalone_question"]

    # -- 2. click the marker: the sources panel shows the article, the span highlighted
    marker.click()
    mark = page.locator("#rag-sources mark.rag-quote")
    mark.wait_for(timeout=20_000)
    assert mark.text_content() == quote
    panel = page.locator("#rag-sources").inner_text()
    assert expected["citations"][0]["source"] in panel
    page.screenshot(path=str(ARTIFACTS / "browser_citation.png"), full_page=True)

    # open the full article: it scrolls to the span
    page.locator("#rag-sources details.rag-full summary").click()
    full = page.locator("#rag-article-quote")
    full.wait_for()
    assert full.text_content() == quote
    page.wait_for_function(
        """() => { const m = document.querySelector('#rag-article-quote');
                   const box = m.closest('.rag-article').getBoundingClientRect();
                   const r = m.getBoundingClientRect();
                   return r.top >= box.top - 1 && r.bottom <= box.bottom + 1 && box.top > 0; }""",
        timeout=5_000,
    )

    # -- 8. copy: the clipboard gets the answer text, not its HTML
    page.locator(BOT).first.hover()
    page.locator('button[aria-label="Copy message"]').nth(1).click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == answer_text.strip() and "<a" not in copied

    # -- 7. rate the answer (thumbs up, then a comment): saved as JSONL
    page.get_by_text("Rate an answer", exact=True).click()
    page.locator('button[aria-label="Like"]').first.click()
    page.get_by_text("Saved 👍 for answer 1").wait_for(timeout=20_000)
    page.get_by_label("Comment (optional)").fill("Exactly the number I needed.")
    page.get_by_role("button", name="Save comment").click()
    page.get_by_text("Comment saved for answer 1").wait_for(timeout=20_000)
    lines = (root / "eval" / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    first, second = (json.loads(line) for line in lines[-2:])
    assert first["rating"] == second["rating"] == "up"
    assert second["replaces"] == first["id"] and second["comment"] == "Exactly the number I needed."
    assert second["question"] == Q_HOTLINE and second["citations"][0]["quote"] == quote

    # -- 3. follow-up in the same conversation; details show rewrite, scores, timings
    ask(page, FOLLOW_UP)
    page.locator(BOT).nth(1).locator(".rag-answer-text").wait_for(timeout=60_000)
    page.locator(f"{BOT} >> nth=1 >> .rag-answer:not(.rag-streaming):not(.rag-pending)").wait_for(
        timeout=60_000
    )
    page.get_by_text("Details: rewrite, passages, scores, timings").click()
    details = page.locator("#rag-details")
    details.get_by_text("Standalone rewrite").wait_for()
    rewrite = details.locator(".rag-rewrite").inner_text()
    assert expected_rewrite in rewrite and expected_rewrite != FOLLOW_UP, rewrite
    head = details.locator("table.rag-passages thead").inner_text()
    assert "Dense" in head and "BM25" in head and "Fused" in head
    assert "total" in details.locator("table.rag-timings").inner_text()

    # -- 5. settings without restarting: top-k 2 -> two passages
    page.get_by_text("Settings", exact=True).click()
    page.locator('#rag-topk input[type="range"]').wait_for(state="visible", timeout=20_000)
    set_top_k(page, "2")
    page.locator("#rag-hybrid input[type=checkbox]").uncheck()
    page.wait_for_timeout(500)
    rows = "#rag-details table.rag-passages tbody tr"
    for attempt in range(2):
        ask(page, Q_HOTLINE)
        page.locator(BOT).nth(2 + attempt).locator("a.rag-cite").first.wait_for(timeout=60_000)
        try:  # the details panel comes with the answer's last event, after the streamed text
            page.wait_for_function(
                f"() => document.querySelectorAll('{rows}').length === 2", timeout=60_000
            )
            break
        except PlaywrightTimeoutError:
            got = page.locator(rows).count()
            shown = page.locator('#rag-topk input[type="number"]').input_value()
            if shown == "2" or attempt:  # the page said 2 and the server retrieved otherwise
                raise AssertionError(
                    f"top-k {shown} on the page, {got} passages in the details"
                ) from None
            # the slider lost its value on the page (seen once under load): set it again
            set_top_k(page, "2")
    silent_index = 3 + attempt

    # -- 4. an example question the articles are silent on
    page.get_by_text(Q_SILENT, exact=True).click()
    silent = page.locator(BOT).nth(silent_index)
    silent.get_by_text("The sources do not answer").wait_for(timeout=60_000)
    assert "Closest passages" in silent.inner_text()
    silent.locator("a.rag-passage-link").first.click()
    page.locator("#rag-sources mark.rag-passage-mark").wait_for(timeout=20_000)

    # -- 6. upload a hostile HTML file; ask about it at once; it renders as text
    hostile = tmp_path / "zanzibar.html"
    hostile.write_text(HOSTILE_HTML, encoding="utf-8")
    page.get_by_text("Documents", exact=True).click()
    page.locator('#rag-files input[type="file"]').set_input_files(str(hostile))
    page.get_by_role("button", name="Add to the index").click()
    page.locator("#rag-doc-status").get_by_text("Added zanzibar.html").wait_for(timeout=60_000)
    assert "uploads/zanzibar.html" in page.locator("#rag-documents").inner_text()
    page.get_by_text("Ready · 3 documents indexed.").wait_for()

    ask(page, Q_ZANZIBAR)
    answer = page.locator(BOT).nth(silent_index + 1)
    answer.locator("a.rag-cite").first.wait_for(timeout=60_000)
    assert "4,321" in answer.locator(".rag-answer-text").inner_text()
    page.locator("#rag-sources a.rag-card", has_text="uploads/zanzibar.html").first.click()
    mark = page.locator("#rag-sources mark.rag-quote")
    mark.wait_for(timeout=20_000)
    shown = page.locator("#rag-sources .rag-paragraph").text_content()
    assert "<img src=x onerror=alert(1)>" in shown
    assert "<script>window.pwned=1</script>" in shown
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("window.pwned === undefined && window.stolen === undefined")
    page.screenshot(path=str(ARTIFACTS / "browser_upload.png"), full_page=True)

    # a bad file: a clear error, the index unchanged; then remove the upload
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really a pdf")
    page.locator('#rag-files input[type="file"]').set_input_files(str(broken))
    page.get_by_role("button", name="Add to the index").click()
    page.locator("#rag-doc-status").get_by_text("Nothing was added").wait_for(timeout=60_000)
    assert "broken.pdf" in page.locator("#rag-doc-status").inner_text()
    assert "broken.pdf" not in page.locator("#rag-documents").inner_text()
    page.get_by_role("button", name="Remove").click()
    page.locator("#rag-doc-status").get_by_text("Removed uploads/zanzibar.html").wait_for(
        timeout=60_000
    )
    page.get_by_text("Ready · 2 documents indexed.").wait_for()

    # -- 8. clear the chat
    page.get_by_role("button", name="Clear chat").click()
    page.wait_for_function(f"() => document.querySelectorAll('{BOT}').length === 0")

    assert not dialogs, f"a document's markup ran as code: {dialogs}"
    assert not errors, errors
    timings.pop("started")
    (ARTIFACTS / "browser_timings.json").write_text(json.dumps(timings, indent=2))
    print("browser timings:", json.dumps({k: round(v, 2) for k, v in timings.items()}))
    context.close()

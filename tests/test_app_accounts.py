"""Accounts, roles and the audit trail in the chat app (issue 18), on a real server.

A real Gradio server on 127.0.0.1 over a private copy of the seeds and a built index,
with a real users file (``rag.server.accounts.UserStore``: scrypt hashes, mode 0600), driven
with ``gradio_client`` logging in as each role, with wrong credentials and with none.
Every named endpoint is called by every role; refused calls are checked to change
nothing (documents, upload folder, feedback file). ``python app.py`` is run as a
subprocess for the refusal to start on 0.0.0.0 without users. See RELIABILITY.md,
"Security".
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.app.auth import Access
from rag.config import Config
from rag.server import audit
from rag.server.accounts import LoginThrottle, UserStore
from rag.server.limits import RateLimiter, RequestLimits
from tests.test_reliability import (  # noqa: F401
    HOST,
    Q_HOTLINE,
    built_seed_index,
    free_port,
    load_app,
    private_bot,
)
from tests.test_uploads_robustness import _project

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = [  # Gradio's queue statistics use pandas APIs that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
PASSWORDS = {"rita": "reader-pass-1", "eddie": "editor-pass-1", "ada": "admin-pass-1"}
ROLES = {"rita": "reader", "eddie": "editor", "ada": "admin"}
OTTERS = "# Otters\n\nThe otter colony at Marrow Lake counted 77 pups in 2025."
GENEROUS = {"free": 1000, "lock_after": 1000}  # the shared server never locks anyone out


# ============================================================================ fixtures


def _accounts_project(root: Path, built: Path) -> Config:
    """A project copy with a users file holding one user of each role. The OpenAI
    server named is a closed port, so an admin's pick of it fails fast (and falls back)."""
    config = _project(root, built)
    config = Config.from_env({"root": root, "openai_base_url": "http://127.0.0.1:9/v1"}, environ={})
    store = UserStore(config.users_path)
    for name, role in ROLES.items():
        store.add(name, role, PASSWORDS[name])
    return config


@contextlib.contextmanager
def serve(
    config: Config, embedder, throttle: LoginThrottle, limits: RequestLimits | None = None
) -> Iterator[dict]:
    """The app over ``config`` with accounts on, on a free loopback port."""
    app = load_app()
    engine = app.Engine(assistant=private_bot(config, embedder))
    access = Access(config, throttle=throttle)
    demo = app.build(engine, limiter=RateLimiter(0), limits=limits, access=access)
    port = free_port()
    app.launch(demo, host=HOST, port=port, prevent_thread_lock=True)
    try:
        yield {"url": f"http://{HOST}:{port}/", "config": config, "access": access}
    finally:
        demo.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, built_seed_index: Path, assistant):  # noqa: F811
    config = _accounts_project(tmp_path_factory.mktemp("accounts"), built_seed_index)
    with serve(config, assistant.parts.embedder, LoginThrottle(**GENEROUS)) as srv:
        yield srv


def login(server: dict, name: str) -> Client:
    return Client(server["url"], auth=(name, PASSWORDS[name]), verbose=False)


def entries(config: Config, **match: str) -> list[dict]:
    """Audit entries whose fields equal ``match``."""
    log = audit.read(audit.audit_path(config.index_path), 10_000)
    return [e for e in log if all(e.get(k) == v for k, v in match.items())]


def corpus(config: Config) -> tuple[list[str], list[str], int]:
    """What a refused call must not change: the upload folder, the indexed sources and
    the number of feedback lines."""
    up = config.upload_path
    uploads = sorted(p.name for p in up.iterdir()) if up.exists() else []
    index = config.index_path / "manifest.json"
    fb = config.path(config.feedback_path)
    lines = len(fb.read_text("utf-8").splitlines()) if fb.exists() else 0
    return uploads, [index.read_text("utf-8") if index.exists() else ""], lines


def refused(client: Client, *args: object, api_name: str) -> str:
    """Call an endpoint that must be refused; the error message."""
    with pytest.raises(AppError) as info:
        client.predict(*args, api_name=api_name)
    return str(info.value)


# ============================================================================ logins


def test_no_credentials_get_nothing(server) -> None:
    """Without a login the config, the API info and the queue answer 401."""
    for path in ("config", "gradio_api/info"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server["url"] + path, timeout=10)
        assert info.value.code == 401
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own types
        Client(server["url"], verbose=False).predict(api_name="/documents")


def test_wrong_credentials_are_refused_and_audited(server) -> None:
    with pytest.raises(ValueError):
        Client(server["url"], auth=("rita", "not-her-password"), verbose=False)
    with pytest.raises(ValueError):
        Client(server["url"], auth=("mallory", "anything-at-all"), verbose=False)
    assert entries(server["config"], action="login", user="rita", result="failed")
    assert entries(server["config"], action="login", user="mallory", result="failed")


def test_users_file_has_no_plain_password(server) -> None:
    path = server["config"].users_path
    text = path.read_text("utf-8")
    assert not any(p in text for p in PASSWORDS.values())
    assert "scrypt$" in text and (path.stat().st_mode & 0o777) == 0o600


# ============================================================================ roles


def test_reader_may_ask_read_and_rate_but_not_change_or_audit(server, tmp_path: Path) -> None:
    cfg = server["config"]
    c = login(server, "rita")
    answer = c.predict(Q_HOTLINE, api_name="/ask")
    assert answer["answer"] and answer["answer_id"]  # (its wording is the answerer's business)
    docs = c.predict(api_name="/documents")
    source = answer["citations"][0]["source"]
    assert source in {d["source"] for d in docs}
    assert c.predict(source, api_name="/document")["text"]
    assert c.predict(answer, "up", "reader rating", api_name="/feedback")["rating"] == "up"
    c.predict(api_name="/reset")  # allowed (the state output is not returned)
    before = corpus(cfg)
    path = tmp_path / "otters.md"
    path.write_text(OTTERS, "utf-8")
    assert "may not upload" in refused(c, [handle_file(str(path))], api_name="/upload")
    assert "may not remove" in refused(c, "uploads/otters.md", api_name="/remove")
    assert "may not audit" in refused(c, 10, api_name="/audit")
    assert "may not audit" in refused(c, 10, api_name="/feedback_log")
    assert "not enabled" in refused(c, Q_HOTLINE, "openai", 5, False, api_name="/ask")
    assert corpus(cfg) == before  # nothing changed by the refused calls
    assert entries(cfg, user="rita", action="upload", result="refused", file="otters.md")
    assert entries(cfg, user="rita", action="remove", result="refused")


def test_editor_changes_the_corpus_and_the_audit_log_says_so(server, tmp_path: Path) -> None:
    cfg = server["config"]
    c = login(server, "eddie")
    path = tmp_path / "otters.md"
    path.write_text(OTTERS, "utf-8")
    out = c.predict([handle_file(str(path))], api_name="/upload")
    assert out["added"] == ["uploads/otters.md"]
    assert "uploads/otters.md" in {d["source"] for d in c.predict(api_name="/documents")}
    assert c.predict("uploads/otters.md", api_name="/remove")["removed"] == "uploads/otters.md"
    assert "may not audit" in refused(c, 10, api_name="/audit")
    assert "may not audit" in refused(c, 10, api_name="/feedback_log")
    assert "not enabled" in refused(c, Q_HOTLINE, "llamacpp", 5, False, api_name="/ask")
    ok = entries(cfg, user="eddie", result="ok")
    assert [(e["action"], e["file"]) for e in ok] == [
        ("upload", "otters.md"),
        ("remove", "uploads/otters.md"),
    ]
    assert all(e["time"].endswith("Z") for e in ok)


def test_admin_reads_the_audit_log_and_feedback_and_picks_any_backend(server) -> None:
    with pytest.raises(ValueError):
        Client(server["url"], auth=("ada", "a-wrong-guess"), verbose=False)
    c = login(server, "ada")
    answer = c.predict(Q_HOTLINE, api_name="/ask")
    c.predict(answer, "down", "admin rating", api_name="/feedback")
    log = c.predict(1000, api_name="/audit")
    assert log[-1]["user"] == "ada" and log[-1]["action"] == "login"
    assert log[-1]["result"] == "failed" and "127.0.0.1" in log[-1]["detail"]
    assert all({"time", "user", "action", "file", "result"} <= set(e) for e in log)
    ratings = c.predict(1000, api_name="/feedback_log")
    assert any(r.get("comment") == "admin rating" for r in ratings)
    # openai is not allowed to others; for an admin it is tried (its server is a closed
    # port here, so the answer falls back to extractive and says so)
    picked = c.predict(Q_HOTLINE, "openai", 5, False, api_name="/ask")
    assert picked["backend"].startswith("extractive (fallback from openai)")


def test_a_removed_user_is_refused_at_once(server) -> None:
    """Roles are read from the users file per call: removing a user locks them out
    of a session they already have."""
    store = UserStore(server["config"].users_path)
    store.add("temp", "reader", "temp-pass-123")
    c = Client(server["url"], auth=("temp", "temp-pass-123"), verbose=False)
    assert c.predict(api_name="/documents")
    store.remove("temp")
    assert "not signed in" in refused(c, api_name="/documents")


# ============================================================================ lock-out


def test_repeated_failed_logins_are_slowed_then_refused(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
) -> None:
    config = _accounts_project(tmp_path, built_seed_index)
    throttle = LoginThrottle(free=1, lock_after=3, window_s=4.0, delay_s=0.5)
    with serve(config, assistant.parts.embedder, throttle) as srv:
        took = []
        for _ in range(3):
            t0 = time.perf_counter()
            with pytest.raises(Exception):  # noqa: B017
                Client(srv["url"], auth=("rita", "wrong-password"), verbose=False)
            took.append(time.perf_counter() - t0)
        assert took[2] >= 0.5  # the third try waited (two failures, one free)
        with pytest.raises(ValueError, match="Could not login"):  # locked: even the right one
            login(srv, "rita")
        assert entries(config, action="login", result="refused", user="rita")
        assert len(entries(config, action="login", result="failed")) == 3
        time.sleep(4.2)  # the window passes
        assert login(srv, "rita").predict(api_name="/documents")


# ============================================================================ startup


@pytest.mark.parametrize("args", [["--host", "0.0.0.0"], ["--share"]])
def test_refuses_to_start_exposed_without_users(tmp_path: Path, args: list[str]) -> None:
    env = {**os.environ, "RAG_ROOT": str(tmp_path), "GRADIO_ANALYTICS_ENABLED": "False"}
    t0 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args, "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "rag users add" in run.stderr and "--no-auth" in run.stderr
    assert "ready" not in run.stderr and time.perf_counter() - t0 < 60


# ============================================================================ browser


@pytest.mark.browser
def test_browser_login(server) -> None:
    """In Chromium: Gradio's login page refuses a wrong password, signs the reader in
    (the page loads its documents: "Ready"), with no admin panel; an admin sees it."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (`make test` installs it)")
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM_ARGS

    def sign_in(page, name: str) -> None:
        page.goto(server["url"])
        page.fill('input[type="text"]', name)
        page.fill('input[type="password"]', PASSWORDS[name])
        page.keyboard.press("Enter")
        page.wait_for_selector("#rag-status >> text=Ready", timeout=30_000)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server["url"])
            page.fill('input[type="text"]', "rita")
            page.fill('input[type="password"]', "wrong-password")
            page.keyboard.press("Enter")
            page.wait_for_selector("text=Incorrect", timeout=15_000)
            sign_in(page, "rita")  # the form is cleared after a failure
            assert page.is_visible("#rag-question")
            assert page.get_by_text("Admin: audit log and feedback").count() == 0
            page.screenshot(path=str(ARTIFACTS / "login-reader.png"))
            admin = browser.new_page()
            sign_in(admin, "ada")
            admin.get_by_text("Admin: audit log and feedback").wait_for(timeout=15_000)
            admin.screenshot(path=str(ARTIFACTS / "login-admin.png"))
        finally:
            browser.close()


# ============================================================================ page events


def page_event(server: dict, name: str, label: str, data: list) -> dict:
    """Run the page's own (private) click event of the button labelled ``label`` the
    way a hostile client would: raw ``queue/join`` with the login cookie, bypassing
    what the page shows or hides (after the page-load events of the same session, as a
    browser would). The ``process_completed`` message."""
    import httpx

    c = login(server, name)
    deps = c.config["dependencies"]
    button = next(
        x["id"] for x in c.config["components"] if x.get("props", {}).get("value") == label
    )
    loads = [d for d in deps if any(list(t)[1:] == ["load"] for t in d.get("targets", []))]
    click = next(d for d in deps if [button, "click"] in [list(t) for t in d.get("targets", [])])
    session = f"raw-{name}-{time.monotonic_ns()}"
    api = server["url"] + "gradio_api/"
    with httpx.Client(cookies=c.cookies, timeout=60) as http:
        for dep, args in [*((d, [None] * len(d["inputs"])) for d in loads), (click, data)]:
            body = {"data": args, "fn_index": dep["id"], "session_hash": session}
            http.post(api + "queue/join", json=body).raise_for_status()
            with http.stream("GET", api + "queue/data", params={"session_hash": session}) as r:
                for line in r.iter_lines():
                    msg = json.loads(line[5:]) if line.startswith("data:") else {}
                    if msg.get("msg") == "process_completed":
                        break
    return msg


def test_page_events_check_the_role_too(server, tmp_path: Path) -> None:
    """Hiding a button is not a check: a reader who sends the page's Remove and admin
    Refresh events by hand is refused on the server, and nothing changes."""
    cfg = server["config"]
    path = tmp_path / "herons.md"
    path.write_text("# Herons\n\nThe heronry at Sallow Marsh held 31 nests in 2025.", "utf-8")
    login(server, "eddie").predict([handle_file(str(path))], api_name="/upload")
    before = corpus(cfg)
    removed = page_event(server, "rita", "Remove", ["uploads/herons.md"])
    assert "may not remove" in json.dumps(removed)
    refresh = page_event(server, "rita", "Refresh", [])
    assert refresh.get("success") is False and "may not audit" in json.dumps(refresh)
    assert corpus(cfg) == before
    done = page_event(server, "eddie", "Remove", ["uploads/herons.md"])
    assert "Removed uploads/herons.md" in json.dumps(done)


def test_without_users_the_app_is_open_as_before_and_still_audited(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
) -> None:
    """No users file: no login, uploads and removals allowed (audited as ``local``), the
    admin endpoints refused, only the allowed backends."""
    config = _project(tmp_path, built_seed_index)
    with serve(config, assistant.parts.embedder, LoginThrottle()) as srv:
        assert not srv["access"].accounts
        c = Client(srv["url"], verbose=False)
        path = tmp_path / "otters.md"
        path.write_text(OTTERS, "utf-8")
        assert c.predict([handle_file(str(path))], api_name="/upload")["added"]
        assert c.predict("uploads/otters.md", api_name="/remove")["removed"]
        assert "may not audit" in refused(c, 10, api_name="/audit")
        assert "not enabled" in refused(c, Q_HOTLINE, "openai", 5, False, api_name="/ask")
    done = [(e["user"], e["action"], e["result"]) for e in entries(config)]
    assert done == [("local", "upload", "ok"), ("local", "remove", "ok")]


def _signed_in_ask(url: str, name: str, source: str) -> tuple[str, str]:
    """Sign in and ask once over raw HTTP from the loopback address ``source``."""
    import http.client
    from urllib.parse import urlencode, urlparse

    port = urlparse(url).port
    conn = http.client.HTTPConnection(HOST, port, timeout=60, source_address=(source, 0))
    try:
        form = urlencode({"username": name, "password": PASSWORDS[name]})
        conn.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
        cookies = "; ".join(
            v.split(";", 1)[0] for k, v in resp.getheaders() if k.lower() == "set-cookie"
        )
        assert resp.status == 200 and cookies, resp.status
        body = json.dumps(
            {
                "data": [
                    "How many hotline calls were made in 2025?",
                    "extractive",
                    5,
                    True,
                    None,
                    None,
                    "",
                    "",
                    "all",
                ]
            }
        )
        headers = {"Content-Type": "application/json", "Cookie": cookies}
        conn.request("POST", "/gradio_api/call/ask", body, headers)
        event_id = json.loads(conn.getresponse().read())["event_id"]
        conn.request("GET", f"/gradio_api/call/ask/{event_id}", headers={"Cookie": cookies})
        lines = conn.getresponse().read().decode().splitlines()
    finally:
        conn.close()
    event = [x.split(": ", 1)[1] for x in lines if x.startswith("event:")][-1]
    return event, [x[6:] for x in lines if x.startswith("data: ")][-1]


def test_a_signed_in_user_is_limited_across_addresses(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
) -> None:
    """Issue 13.3: limits per client address, and per user once accounts exist. One
    account asking from three loopback addresses is held to one address's rate; another
    account from the same addresses is not affected."""
    config = _accounts_project(tmp_path / "p", built_seed_index)
    limits = RequestLimits.around(RateLimiter(600, 100))  # sessions out of the way
    limits.address = RateLimiter(1, 3)  # questions per address and per account: 3, then 1 a minute
    with serve(config, assistant.parts.embedder, LoginThrottle(**GENEROUS), limits) as srv:
        got = [_signed_in_ask(srv["url"], "rita", f"127.0.0.{i}") for i in (1, 2, 3, 4)]
        assert [e for e, _ in got[:3]] == ["complete"] * 3, got
        assert got[3][0] == "error" and "Too many questions for your account" in got[3][1]
        assert _signed_in_ask(srv["url"], "eddie", "127.0.0.4")[0] == "complete"

"""Accounts, roles, API keys and the audit log (``rag users``, ``rag serve``).

Real files, real processes and a real HTTP server (uvicorn on a loopback port) driven
with the ``openai`` SDK and the ``mcp`` client; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import stat
import threading
import time
from pathlib import Path

import pytest

from rag.server.accounts import (
    AccountError,
    LoginThrottle,
    PermissionDenied,
    UserStore,
    check_password,
    hash_password,
    require,
    role_allows,
)
from rag.server.audit import read as read_audit
from rag.server.audit import record
from tests.conftest import run_rag
from tests.test_integrations import HOTLINE_Q, ThreadServer

openai = pytest.importorskip("openai")
PASSWORD = "correct horse battery"


def test_passwords_are_salted_slow_hashes() -> None:
    a, b = hash_password(PASSWORD), hash_password(PASSWORD)
    assert a != b and a.startswith("scrypt$16384$8$1$"), "salted: same password, other hash"
    assert check_password(PASSWORD, a) and not check_password("wrong", a)
    assert not check_password(PASSWORD, "plain-text") and not check_password(PASSWORD, "")


def test_roles_include_the_ones_below() -> None:
    assert role_allows("reader", "ask") and not role_allows("reader", "upload")
    assert role_allows("editor", "upload") and not role_allows("editor", "audit")
    assert role_allows("admin", "audit") and role_allows("admin", "any_backend")
    assert not role_allows("nobody", "ask") and not role_allows("admin", "no-such-action")
    with pytest.raises(PermissionDenied, match="needs the editor role"):
        require("reader", "remove", "bob")


def test_users_file_holds_no_secret_in_plain_text(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.toml")
    assert not store
    store.add("alice", "editor", PASSWORD)
    key = store.new_key("alice")
    text = store.path.read_text()
    secret = key.split("-", 2)[2]  # "rag-<id>-<secret>": the secret may hold dashes itself
    assert PASSWORD not in text and key not in text and secret not in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.login("alice", PASSWORD).role == "editor"
    assert store.login("alice", "wrong password") is None
    assert store.login("nobody", PASSWORD) is None
    assert store.by_key(key).name == "alice"
    assert store.by_key(key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    with pytest.raises(AccountError, match="exists"):
        store.add("alice", "reader", PASSWORD)
    with pytest.raises(AccountError, match="at least 8"):
        store.add("bob", "reader", "short")
    with pytest.raises(AccountError, match="role must be"):
        store.add("bob", "owner", PASSWORD)
    with pytest.raises(AccountError, match="user name"):
        store.add("../etc", "reader", PASSWORD)
    store.set_role("alice", "admin")
    store.set_password("alice", "another long one")
    assert store.login("alice", "another long one").role == "admin"
    store.remove("alice")
    assert not store and store.by_key(key) is None


def test_rag_users_cli(tmp_path: Path) -> None:
    add = run_rag(
        ["users", "add", "carol", "--role", "reader", "--password-stdin"],
        tmp_path,
        stdin=PASSWORD + "\n",
    )
    assert add.returncode == 0, add.stderr
    listed = run_rag(["users", "list"], tmp_path)
    assert "carol\treader\t0 key(s)" in listed.stdout
    key = run_rag(["users", "key", "carol"], tmp_path)
    assert key.returncode == 0 and key.stdout.strip().startswith("rag-")
    assert "shown once" in key.stderr
    bad = run_rag(["users", "add", "dave", "--password-stdin"], tmp_path, stdin="short\n")
    assert bad.returncode == 2 and bad.stderr.startswith("rag: error: the password must")
    gone = run_rag(["users", "remove", "nobody"], tmp_path)
    assert gone.returncode == 2 and "no user 'nobody'" in gone.stderr
    assert PASSWORD not in (tmp_path / "users.toml").read_text()


def test_login_throttle_slows_then_locks_out() -> None:
    throttle = LoginThrottle(free=2, lock_after=4, window_s=60, delay_s=0.5)
    for _ in range(2):
        throttle.failed("10.0.0.1")
    assert throttle.delay("10.0.0.1") == 0 and not throttle.locked("10.0.0.1")
    throttle.failed("10.0.0.1")
    assert throttle.delay("10.0.0.1") == 0.5
    throttle.failed("10.0.0.1")
    assert throttle.locked("10.0.0.1") and not throttle.locked("10.0.0.2")
    throttle.succeeded("10.0.0.1")
    assert not throttle.locked("10.0.0.1")


def test_audit_log_appends_whole_lines_from_many_threads(tmp_path: Path) -> None:
    path = tmp_path / "index" / "audit.jsonl"

    def write(i: int) -> None:
        for j in range(25):
            record(path, f"user{i}", "upload", "ok", file=f"f{j}.txt", detail="x" * 2000)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 200 and all(json.loads(line)["action"] == "upload" for line in lines)
    entries = read_audit(path, limit=10)
    assert len(entries) == 10 and len(entries[-1]["detail"]) == 500
    assert entries[-1]["time"].endswith("Z")


# ------------------------------------------------------------------ the API with accounts


@pytest.fixture(scope="module")
def keyed_server(assistant, tmp_path_factory):
    """``rag serve``'s app over the seeds with a users file: a reader and an admin."""
    from rag.server.routes import create_app

    users = UserStore(tmp_path_factory.mktemp("users") / "users.toml")
    users.add("rita", "reader", PASSWORD)
    users.add("adam", "admin", PASSWORD)
    keys = {"reader": users.new_key("rita"), "admin": users.new_key("adam")}
    config = assistant.config.replace(
        rate_limit_per_minute=0, users_file=users.path, backend="extractive"
    )
    with ThreadServer(create_app(assistant, config)) as url:
        yield url, keys


def test_api_needs_a_key_when_users_exist(keyed_server) -> None:
    url, keys = keyed_server
    for key in ("", "rag-deadbeef-not-a-key", "sk-anything"):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key or "x", max_retries=0)
        with pytest.raises(openai.AuthenticationError, match="valid API key"):
            client.chat.completions.create(
                model="rag", messages=[{"role": "user", "content": HOTLINE_Q}]
            )
        with pytest.raises(openai.AuthenticationError):
            client.models.list()
    reader = openai.OpenAI(base_url=f"{url}/v1", api_key=keys["reader"], max_retries=0)
    reply = reader.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": HOTLINE_Q}]
    )
    assert "113" in reply.choices[0].message.content
    assert [m.id for m in reader.models.list()] == ["rag", "rag-extractive"]
    with pytest.raises(openai.NotFoundError):  # a reader may not pick another backend
        reader.chat.completions.create(
            model="rag-llamacpp", messages=[{"role": "user", "content": HOTLINE_Q}]
        )
    admin = openai.OpenAI(base_url=f"{url}/v1", api_key=keys["admin"], max_retries=0)
    assert [m.id for m in admin.models.list()] == [
        "rag",
        "rag-extractive",
        "rag-llamacpp",
        "rag-openai",
    ]


def test_mcp_needs_a_key_when_users_exist(keyed_server) -> None:
    import httpx

    url, keys = keyed_server
    refused = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert refused.status_code == 401 and "valid API key" in refused.text

    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def run() -> set[str]:
        headers = {"Authorization": f"Bearer {keys['reader']}"}
        async with httpx.AsyncClient(headers=headers, timeout=60) as http:
            transport = streamable_http_client(f"{url}/mcp", http_client=http)
            async with Client(transport) as mcp:
                return {t.name for t in (await mcp.list_tools()).tools}

    assert asyncio.run(run()) == {"search", "ask"}


def test_serve_refuses_a_public_address_without_accounts(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    done = run_rag(["serve", "--host", "0.0.0.0", "--port", "9"], tmp_path, timeout=60)
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 with no accounts" in done.stderr
    assert "rag users add" in done.stderr and "--no-auth" in done.stderr
    assert time.perf_counter() - t0 < 30, "refused before loading any model"

"""Accounts in the chat app: who is calling, what their role allows, the login throttle,
the audit trail and the admin panel.

The building blocks are :mod:`rag.server.accounts` (users, roles, :class:`LoginThrottle`) and
:mod:`rag.server.audit`; this module applies them to Gradio requests. With users in the users
file, Gradio's ``auth=`` asks for a login and every event checks the caller's role on
the server (hiding a button is not a check). Without users the app is open as before:
every caller may ask, read, rate, upload and remove, but not audit or pick a backend
outside ``RAG_ALLOWED_BACKENDS``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import gradio as gr

from rag import prompts
from rag.app import feedback
from rag.config import BACKENDS, Config
from rag.server import audit
from rag.server.accounts import ACTIONS, LoginThrottle, PermissionDenied, UserStore, require

OPEN_ROLE = "editor"  # what anyone may do when no users are configured (as before)
OPEN_USER = "local"  # the user name audit entries get when no users are configured
CORPUS_ACTIONS = ("upload", "remove")  # refusals of these go to the audit log
MAX_LOGIN_BODY = 64 * 1024  # a login form is a few hundred bytes
ADMIN_LIMIT = 200  # entries /audit and /feedback_log return by default


class Access:
    """Roles for one app: decided once at build time whether accounts are on (a users
    file with users), then the users file is read per check, so a removed user or a
    changed role takes effect at once."""

    def __init__(self, config: Config, throttle: LoginThrottle | None = None) -> None:
        self.config = config
        self.store = UserStore(config.users_path)
        self.accounts = bool(self.store)
        self.audit_file = audit.audit_path(config.index_path)
        self.throttle = throttle or LoginThrottle()

    def login(self, username: str, password: str) -> bool:
        """Gradio's ``auth=`` callable: is this the user's password?"""
        return self.store.login(username, password) is not None

    def name(self, request: gr.Request | None) -> str:
        """The caller's user name (``local`` without accounts, ``-`` when unknown)."""
        if not self.accounts:
            return OPEN_USER
        return str(getattr(request, "username", None) or "-")

    def account(self, request: gr.Request | None) -> str:
        """The signed-in account's name, for per-account limits ("" without accounts)."""
        if not self.accounts:
            return ""
        return str(getattr(request, "username", None) or "")

    def role(self, request: gr.Request | None) -> str | None:
        """The caller's role now (None: not signed in, or no longer a user)."""
        if not self.accounts:
            return OPEN_ROLE
        name = getattr(request, "username", None)
        user = self.store.users().get(name) if name else None
        return user.role if user is not None else None

    def allows(self, action: str, request: gr.Request | None) -> bool:
        try:
            require(self.role(request), action)
        except PermissionDenied:
            return False
        return True

    def require(self, action: str, request: gr.Request | None, file: str = "") -> None:
        """Raise a ``gr.Error`` with the :class:`PermissionDenied` text unless the caller
        may do ``action``; a refused corpus change is written to the audit log."""
        assert action in ACTIONS, action
        try:
            require(self.role(request), action, self.name(request))
        except PermissionDenied as exc:
            if action in CORPUS_ACTIONS:
                self.record(self.name(request), action, "refused", file, str(exc))
            raise gr.Error(str(exc)) from None

    def backends(self, request: gr.Request | None, enabled: list[str]) -> list[str]:
        """The backends this caller may pick: any for an admin, else ``enabled``."""
        return list(BACKENDS) if self.allows("any_backend", request) else enabled

    def record(self, user: str, action: str, result: str, file: str = "", detail: str = "") -> None:
        """Append one audit entry (a failure to write is reported, never raised: the
        change it describes has already happened or been refused)."""
        try:
            audit.record(self.audit_file, user, action, result, file, detail)
        except OSError as exc:
            print(f"rag: could not write the audit log: {exc}")


def files_label(files: list[str] | None) -> str:
    """The uploaded files' names, for an audit entry."""
    return ", ".join(Path(f).name for f in files or [])


# ---------------------------------------------------------------------------- login


class LoginGuard:
    """ASGI middleware on Gradio's ``POST /login``: a client address with too many
    recent failures is refused (HTTP 429) before its password is checked, and one with
    a few is slowed down (:class:`~rag.server.accounts.LoginThrottle`); the response status
    tells whether the login failed (400) or succeeded (200). Each refused or failed
    login goes to the audit log with the name tried and the address."""

    def __init__(self, app: Any, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", "")).rstrip("/")
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or not path.endswith("/login")
        ):
            await self.app(scope, receive, send)
            return
        client = str((scope.get("client") or ("-",))[0])
        body = await _read_body(receive)
        if body is None:
            await _json(send, 413, {"detail": "login form too large"})
            return
        name = (parse_qs(body.decode("latin-1")).get("username") or [""])[0].strip()[:64]
        throttle = self.access.throttle
        if throttle.locked(client):
            self.access.record(name, "login", "refused", detail=f"{client}: too many failures")
            await _json(send, 429, {"detail": prompts.LOGIN_LOCKED})
            return
        delay = throttle.delay(client)
        if delay > 0:
            await asyncio.sleep(delay)

        async def watch(message: dict[str, Any]) -> None:
            """Count the outcome before the client hears it (so its next try sees it)."""
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    throttle.succeeded(client)
                elif message["status"] in (400, 401, 403):
                    throttle.failed(client)
                    detail = f"{client}: wrong name or password"
                    self.access.record(name, "login", "failed", detail=detail)
            await send(message)

        await self.app(scope, _replay(body, receive), watch)


async def _read_body(receive: Any) -> bytes | None:
    """The whole request body, or None past :data:`MAX_LOGIN_BODY`."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_LOGIN_BODY:
            return None
        if not message.get("more_body"):
            return body


def _replay(body: bytes, receive: Any) -> Callable[[], Any]:
    """An ASGI ``receive`` that gives the already read ``body`` once, then passes on
    the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _json(send: Any, status: int, body: dict[str, Any]) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


# ---------------------------------------------------------------------------- admin


def _limit(value: Any) -> int:
    try:
        return max(1, min(10_000, int(float(value))))
    except (TypeError, ValueError, OverflowError):
        return ADMIN_LIMIT


def audit_log(access: Access, limit: Any, request: gr.Request) -> list[dict[str, Any]]:
    """``/audit`` (admins only): the last ``limit`` audit entries, newest last."""
    access.require("audit", request)
    return audit.read(access.audit_file, _limit(limit))


def feedback_log(access: Access, limit: Any, request: gr.Request) -> list[dict[str, Any]]:
    """``/feedback_log`` (admins only): the last ``limit`` ratings, newest last."""
    access.require("audit", request)
    path = access.config.path(access.config.feedback_path)
    return feedback.load(path)[-_limit(limit) :]


def admin_panel(
    demo: gr.Blocks, access: Access, backend: gr.Radio, enabled: list[str]
) -> gr.Accordion:
    """The admin-only panel (audit log, feedback) and the ``/audit`` and
    ``/feedback_log`` endpoints; call inside the Blocks. On page load the panel is shown
    to admins only and the backend choice widened for them. The data is only ever
    returned after the server-side role check, whatever the page shows."""
    with gr.Accordion("Admin: audit log and feedback", open=False, visible=False) as panel:
        refresh = gr.Button("Refresh", size="sm")
        audit_view = gr.JSON(label="Audit log (newest last)", elem_id="rag-audit")
        feedback_view = gr.JSON(label="Feedback (newest last)", elem_id="rag-feedback-log")
    with gr.Column(visible=False):
        api_limit = gr.Number(value=ADMIN_LIMIT, precision=0, label="limit")
        api_out = gr.JSON(label="entries")
        audit_btn, feedback_btn = gr.Button("audit"), gr.Button("feedback_log")

    def on_refresh(request: gr.Request) -> tuple[Any, Any]:
        return audit_log(access, ADMIN_LIMIT, request), feedback_log(access, ADMIN_LIMIT, request)

    def on_admin_load(request: gr.Request) -> tuple[Any, Any]:
        admin = access.allows("audit", request)
        return gr.update(visible=admin), gr.update(choices=access.backends(request, enabled))

    def api_audit(limit: float, request: gr.Request) -> list[dict[str, Any]]:
        return audit_log(access, limit, request)

    def api_feedback_log(limit: float, request: gr.Request) -> list[dict[str, Any]]:
        return feedback_log(access, limit, request)

    private: dict[str, Any] = {"api_visibility": "private"}
    refresh.click(on_refresh, None, [audit_view, feedback_view], **private)
    audit_btn.click(
        api_audit,
        [api_limit],
        [api_out],
        api_name="audit",
        api_description="Admins: the last `limit` audit entries (corpus changes, logins).",
    )
    feedback_btn.click(
        api_feedback_log,
        [api_limit],
        [api_out],
        api_name="feedback_log",
        api_description="Admins: the last `limit` ratings saved by /feedback and the page.",
    )
    demo.load(on_admin_load, None, [panel, backend], **private)
    return panel

"""Accounts, roles and API keys: who may ask, who may change the corpus, who may audit.

Users live in one TOML file (``RAG_USERS_FILE``, default ``users.toml`` at the project
root, written with mode 0600 and never committed)::

    [users.alice]
    role = "editor"
    password = "scrypt$16384$8$1$<salt>$<hash>"
    keys = ["<key id>:<sha256 of the key>"]

Passwords are stored only as salted scrypt hashes (``hashlib.scrypt``, n=2^14, r=8,
p=1); API keys (``rag users key NAME``) are random 256-bit tokens stored as SHA-256
hashes (they are not guessable, so a slow hash adds nothing) and shown once. A key
carries its user's role.

Roles, each including the one before: ``reader`` (ask, follow citations, read
documents, rate answers), ``editor`` (also upload and remove documents), ``admin`` (also
read the feedback and the audit log, and pick any backend).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
import tomllib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import RagError

ROLES = ("reader", "editor", "admin")
ACTIONS = {
    "ask": "reader",
    "read": "reader",
    "feedback": "reader",
    "upload": "editor",
    "remove": "editor",
    "audit": "admin",
    "any_backend": "admin",
}
KEY_PREFIX = "rag-"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AccountError(RagError):
    """A users-file operation that cannot be done (unknown user, bad name or role, ...)."""


class PermissionDenied(RagError):
    """The caller's role does not allow the action."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``password`` in the users file's text form."""
    salt = salt or secrets.token_bytes(16)
    n, r, p = _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"]
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    """Does ``password`` match the stored hash? (Constant-time comparison.)"""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def role_allows(role: str, action: str) -> bool:
    """May a user with ``role`` do ``action`` (see :data:`ACTIONS`)?"""
    need = ACTIONS.get(action)
    if need is None or role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(need)


def require(role: str | None, action: str, who: str = "") -> None:
    """Raise :class:`PermissionDenied` unless ``role`` allows ``action``."""
    if role is None or not role_allows(role, action):
        need = ACTIONS.get(action, "admin")
        raise PermissionDenied(
            f"{who or 'this account'} ({role or 'not signed in'}) may not {action}: "
            f"that needs the {need} role"
        )


@dataclass
class User:
    name: str
    role: str
    password: str = ""  # the scrypt hash; "" = no password login (keys only)
    keys: list[str] = field(default_factory=list)  # "<id>:<sha256 hex>"


class UserStore:
    """The users file: read on every check (another process may have changed it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def users(self) -> dict[str, User]:
        """Every user in the file ({} when it does not exist)."""
        try:
            data = tomllib.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AccountError(f"cannot read the users file {self.path}: {exc}") from None
        out = {}
        for name, u in (data.get("users") or {}).items():
            if isinstance(u, dict) and u.get("role") in ROLES:
                keys = [str(k) for k in u.get("keys", []) if isinstance(k, str)]
                out[name] = User(name, u["role"], str(u.get("password", "")), keys)
        return out

    def __bool__(self) -> bool:
        return bool(self.users())

    def add(self, name: str, role: str, password: str) -> None:
        if not _NAME.fullmatch(name):
            raise AccountError(
                f"user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'"
            )
        _check_role(role)
        _check_new_password(password)
        with self._lock:
            users = self.users()
            if name in users:
                raise AccountError(f"user {name!r} exists; use `rag users passwd {name}`")
            users[name] = User(name, role, hash_password(password))
            self._write(users)

    def remove(self, name: str) -> None:
        with self._lock:
            users = self.users()
            if users.pop(name, None) is None:
                raise AccountError(f"no user {name!r}")
            self._write(users)

    def set_password(self, name: str, password: str) -> None:
        _check_new_password(password)
        with self._lock:
            users = self._existing(name)
            users[name].password = hash_password(password)
            self._write(users)

    def set_role(self, name: str, role: str) -> None:
        _check_role(role)
        with self._lock:
            users = self._existing(name)
            users[name].role = role
            self._write(users)

    def new_key(self, name: str) -> str:
        """Create an API key for ``name``; the key is returned once and stored hashed."""
        with self._lock:
            users = self._existing(name)
            key_id = secrets.token_hex(4)
            key = f"{KEY_PREFIX}{key_id}-{secrets.token_urlsafe(32)}"
            users[name].keys.append(f"{key_id}:{hashlib.sha256(key.encode()).hexdigest()}")
            self._write(users)
            return key

    def login(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else None."""
        user = self.users().get(name)
        if user is None or not user.password:
            check_password(password, hash_password("timing"))  # same cost either way
            return None
        return user if check_password(password, user.password) else None

    def by_key(self, key: str) -> User | None:
        """The user an API key belongs to, else None."""
        if not key.startswith(KEY_PREFIX):
            return None
        key_id = key[len(KEY_PREFIX) :].split("-", 1)[0]
        digest = hashlib.sha256(key.encode()).hexdigest()
        for user in self.users().values():
            for stored in user.keys:
                sid, _, shash = stored.partition(":")
                if sid == key_id and hmac.compare_digest(shash, digest):
                    return user
        return None

    def _existing(self, name: str) -> dict[str, User]:
        users = self.users()
        if name not in users:
            raise AccountError(f"no user {name!r}; add one with `rag users add {name}`")
        return users

    def _write(self, users: dict[str, User]) -> None:
        """Write the whole file atomically, readable by its owner only (0600)."""
        lines = ["# rag users: written by `rag users`; passwords are scrypt hashes", ""]
        for u in users.values():
            lines += [f"[users.{_toml_key(u.name)}]", f"role = {_toml_str(u.role)}"]
            lines += [f"password = {_toml_str(u.password)}"]
            lines += ["keys = [" + ", ".join(_toml_str(k) for k in u.keys) + "]", ""]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_str(name)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _check_new_password(password: str) -> None:
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")


class LoginThrottle:
    """Slows down, then refuses, repeated failed logins from one client.

    After ``free`` failures within ``window_s``, each further attempt waits
    ``delay_s`` × (failures − free) (capped at 5 s); after ``lock_after`` failures the
    client is refused outright until ``window_s`` has passed since its last failure.
    """

    def __init__(
        self,
        free: int = 3,
        lock_after: int = 10,
        window_s: float = 300.0,
        delay_s: float = 0.5,
        max_clients: int = 10_000,
    ) -> None:
        self.free, self.lock_after, self.window_s, self.delay_s = (
            free,
            lock_after,
            window_s,
            delay_s,
        )
        self.max_clients = max_clients
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(client, []) if now - t < self.window_s]
        if times:
            self._failures[client] = times
            self._failures.move_to_end(client)
        else:
            self._failures.pop(client, None)
        return times

    def locked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self.lock_after

    def delay(self, client: str) -> float:
        """Seconds to wait before checking this client's next attempt."""
        with self._lock:
            over = len(self._recent(client, time.monotonic())) - self.free
        return min(5.0, max(0, over) * self.delay_s)

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, []).append(time.monotonic())
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

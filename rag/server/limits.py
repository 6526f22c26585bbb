"""Request-rate limits: a token bucket per client, thread-safe and bounded in memory.

The app gives every session (a browser tab, a ``gradio_client.Client``) its own
bucket of ``rate_limit_burst`` questions that refills at ``rate_limit_per_minute``;
a question that finds the bucket empty is refused with :class:`RateLimitError`
("Too many questions: limit is 30 per minute; wait a few seconds"). Answers are
CPU-bound on a small machine, so one client asking in a tight loop would otherwise
starve everyone else.

Settings (``Config`` fields, or ``RAG_*`` variables while a ``Config`` lacks them):

=========================  ==============================  =======
setting                    env                             default
=========================  ==============================  =======
``rate_limit_per_minute``  ``RAG_RATE_LIMIT_PER_MINUTE``   30 (0 = no limit)
``rate_limit_burst``       ``RAG_RATE_LIMIT_BURST``        10
=========================  ==============================  =======
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from rag import prompts
from rag.errors import ConfigError, RagError

DEFAULT_PER_MINUTE = 30
DEFAULT_BURST = 10
MAX_CLIENTS = 10_000  # buckets kept at most; the longest idle are forgotten first


class RateLimitError(RagError):
    """A client asked more often than the configured rate allows."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def setting(config: Any, name: str, default: int) -> int:
    """``config.<name>``, else ``$RAG_<NAME>``, else ``default``, as a non-negative int."""
    value = getattr(config, name, None)
    if value is None:
        value = os.environ.get(f"RAG_{name.upper()}", default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {name} (RAG_{name.upper()}): {value!r} is not a whole number"
        ) from None
    if number < 0:
        raise ConfigError(f"setting {name} (RAG_{name.upper()}) must be >= 0, not {number}")
    return number


class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``per_minute``.

    ``per_minute == 0`` disables the limit. Thread-safe; at most ``max_keys`` buckets
    are kept (a forgotten bucket comes back full, which only ever favours the client).
    """

    def __init__(
        self,
        per_minute: float = DEFAULT_PER_MINUTE,
        burst: int | None = None,
        *,
        max_keys: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 0:
            raise ConfigError(f"rate_limit_per_minute must be >= 0, not {per_minute}")
        self.per_minute = per_minute
        self.burst = max(
            1, int(burst if burst is not None else min(DEFAULT_BURST, per_minute or 1))
        )
        self.rate = per_minute / 60.0  # tokens per second
        self.max_keys = max(1, max_keys)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, t)

    @classmethod
    def from_config(cls, config: Any) -> RateLimiter:
        """The limiter for ``config`` (``rate_limit_per_minute``, ``rate_limit_burst``)."""
        per_minute = setting(config, "rate_limit_per_minute", DEFAULT_PER_MINUTE)
        burst = setting(config, "rate_limit_burst", DEFAULT_BURST)
        return cls(per_minute, burst or None)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def acquire(self, key: str) -> float:
        """Take one token for ``key``: 0.0 when allowed, else the seconds until one is free."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # the least recently seen client
        return wait

    def check(self, key: str, what: str = "questions", scope: str = "") -> None:
        """Take one token for ``key`` or raise :class:`RateLimitError` with a clear message
        ("Too many questions: limit is 30 per minute; wait ... and ask again.")."""
        wait = self.acquire(key)
        if wait > 0:
            raise RateLimitError(
                prompts.TOO_MANY.format(
                    what=what,
                    scope=scope,
                    per_minute=self.per_minute,
                    wait=math.ceil(wait),
                    again="ask again" if what == "questions" else "try again",
                ),
                wait,
            )

    def __len__(self) -> int:
        return len(self._buckets)

    def __bool__(self) -> bool:
        """Always true: ``len()`` counts buckets, and a limiter with none is still one."""
        return True


ADDRESS_FACTOR = 4
"""A client address may ask this many times a session's rate (one address can hold a few
people behind one NAT; a new session per request must not reset anything)."""
DEFAULT_CHANGES_PER_MINUTE = 30  # uploads + removals per address (each one re-indexes)
DEFAULT_FEEDBACK_PER_MINUTE = 60  # ratings per address (each one writes a line to disk)


class RequestLimits:
    """Every limit the app applies to one request, by what it does and who sends it.

    * questions: a bucket per session (``rate_limit_per_minute``/``_burst``) *and* one per
      client address (``rate_limit_per_address``, default 4x the session rate), so a
      client that opens a new session for every call is still held to its address's rate;
    * uploads and removals (``rate_limit_changes_per_minute``, per address);
    * ratings (``rate_limit_feedback_per_minute``, per address);
    * every request that joins the queue (``rate_limit_requests_per_address``, default
      twice the three above together), refused with HTTP 429 by :class:`FloodGuard`
      before it is queued;
    * files posted to Gradio's upload route (``rate_limit_file_posts_per_address``,
      default twice the uploads rate), refused with HTTP 429 before they are received.

    ``rate_limit_per_minute = 0`` turns them all off (unless set on their own). Each
    limit is a :class:`RateLimiter`; together they are thread-safe and bounded.
    """

    def __init__(
        self,
        session: RateLimiter,
        address: RateLimiter,
        changes: RateLimiter,
        feedback: RateLimiter,
        requests: RateLimiter | None = None,
        files: RateLimiter | None = None,
    ) -> None:
        self.session = session
        self.address = address
        self.changes = changes
        self.feedback = feedback
        # every request joining the queue, per address (see FloodGuard)
        self.requests = requests if requests is not None else RateLimiter(0)
        # files posted to Gradio's upload route, per address (see FloodGuard)
        self.files = files if files is not None else RateLimiter(0)

    @classmethod
    def from_config(cls, config: Any) -> RequestLimits:
        """The limits for ``config`` (see the class docstring for the settings)."""
        return cls.around(RateLimiter.from_config(config), config)

    @classmethod
    def around(cls, session: RateLimiter, config: Any = None) -> RequestLimits:
        """Limits derived from a per-session question limiter (off when it is off),
        each overridable by its own setting; they share ``session``'s clock."""
        clock = session._clock
        on = session.enabled

        def limiter(name: str, per_minute: float, burst: int) -> RateLimiter:
            rate = setting(config, f"rate_limit_{name}", int(per_minute) if on else 0)
            return RateLimiter(rate, max(1, min(burst, rate or 1)), clock=clock)

        per_action = [
            limiter(
                "per_address", session.per_minute * ADDRESS_FACTOR, session.burst * ADDRESS_FACTOR
            ),
            limiter("changes_per_minute", DEFAULT_CHANGES_PER_MINUTE, 10),
            limiter("feedback_per_minute", DEFAULT_FEEDBACK_PER_MINUTE, 20),
        ]
        requests = limiter(  # twice what the per-action limits allow together
            "requests_per_address",
            2 * sum(lim.per_minute for lim in per_action),
            2 * sum(lim.burst for lim in per_action),
        )
        files = limiter(  # twice the uploads allowed: a batch posts one file at a time
            "file_posts_per_address", 2 * per_action[1].per_minute, 2 * per_action[1].burst
        )
        return cls(session, *per_action, requests, files)

    def check(self, action: str, session: str, address: str, user: str = "") -> None:
        """Let one ``action`` ("ask", "upload", "remove", "feedback") through or raise
        :class:`RateLimitError`. A refused question costs its address nothing.

        ``user``: the signed-in account ("" without accounts); its own bucket per
        action, at the address's rate, so that one account spread over many addresses
        (or sessions) is held to what one address may do."""
        if action == "ask":
            self.session.check(f"session:{session}")
            limiter, what = self.address, "questions"
        elif action in ("upload", "remove"):
            limiter, what = self.changes, "uploads and removals"
        elif action == "feedback":
            limiter, what = self.feedback, "ratings"
        else:
            raise ValueError(f"unknown action {action!r}")
        limiter.check(f"host:{address}", what, " from your address")
        if user:
            limiter.check(f"user:{user}", what, " for your account")


class FloodGuard:
    """ASGI middleware: a request that would join the queue (``POST .../queue/join`` or
    ``.../call/<api>``) from an address over its budget (``RequestLimits.requests``:
    twice the address's question, upload and rating limits together, for every kind of
    event) gets HTTP 429 at once.

    The per-action limits answer with a clear message from inside the event, but by
    then a request has been queued, scheduled and run in a worker thread; a flood of
    them delays everyone. This refuses the excess before any of that, for a fraction of
    a millisecond each. ``POST .../upload`` (Gradio's file route, which stores the file
    in its cache before any event sees it) is counted by ``files`` the same way.
    """

    PATHS = ("/queue/join", "/call/")

    def __init__(self, app: Any, limiter: RateLimiter, files: RateLimiter | None = None) -> None:
        self.app = app
        self.limiter = limiter
        self.files = files if files is not None else RateLimiter(0)

    def _budget(self, scope: dict[str, Any]) -> tuple[RateLimiter, str] | None:
        """The limiter that counts this request, and what it counts; None: not counted."""
        if scope.get("type") != "http" or scope.get("method") != "POST":
            return None
        path = scope.get("path", "")
        if any(p in path for p in self.PATHS):  # (before: /call/upload is an event)
            return self.limiter, "requests"
        if path.rstrip("/").endswith("/upload"):
            return self.files, "file uploads"
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        budget = self._budget(scope)
        if budget is not None and budget[0].enabled:
            limiter, what = budget
            host = (scope.get("client") or ("-",))[0]
            wait = limiter.acquire(f"host:{host}")
            if wait > 0:
                message = prompts.TOO_MANY.format(
                    what=what,
                    scope=" from your address",
                    per_minute=limiter.per_minute,
                    wait=math.ceil(wait),
                    again="try again",
                )
                headers = [(b"content-type", b"application/json")]
                headers.append((b"retry-after", str(math.ceil(wait)).encode()))
                await send({"type": "http.response.start", "status": 429, "headers": headers})
                await send(
                    {"type": "http.response.body", "body": json.dumps({"error": message}).encode()}
                )
                return
        await self.app(scope, receive, send)

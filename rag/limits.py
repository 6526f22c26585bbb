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

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .errors import ConfigError, RagError

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

    def check(self, key: str) -> None:
        """Take one token for ``key`` or raise :class:`RateLimitError` with a clear message."""
        wait = self.acquire(key)
        if wait > 0:
            raise RateLimitError(
                f"Too many questions: limit is {self.per_minute:g} per minute; wait a few "
                f"seconds (about {math.ceil(wait)} s) and ask again.",
                wait,
            )

    def __len__(self) -> int:
        return len(self._buckets)

"""When to try again: exponential backoff with jitter, the server's Retry-After, and the service's limit
of 30 new connections a minute. Pure (time and randomness are injectable) so it is tested directly."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable

CONNECTIONS_PER_MINUTE = 30


class ReconnectPolicy:
    def __init__(self, *, base_s: float = 0.5, cap_s: float = 30.0, max_attempts: int = 8,
                 per_minute: int = CONNECTIONS_PER_MINUTE, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.max_attempts = max_attempts
        self.per_minute = per_minute
        self._clock = clock
        self._rng = rng or random.Random()
        self._opened: deque[float] = deque()

    def note_attempt(self) -> None:
        """Record a connection attempt (successful or not) for the per-minute limit."""
        now = self._clock()
        self._opened.append(now)
        while self._opened and now - self._opened[0] > 60.0:
            self._opened.popleft()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt number `attempt` (1 = the first retry)."""
        backoff = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        wait = self._rng.uniform(backoff / 2, backoff)  # "equal jitter": never zero, never in lockstep
        if retry_after is not None:
            wait = max(wait, retry_after)
        return max(wait, self.rate_limit_wait())

    def rate_limit_wait(self) -> float:
        """How long until another connection stays within `per_minute`."""
        now = self._clock()
        recent = [t for t in self._opened if now - t <= 60.0]
        if len(recent) < self.per_minute:
            return 0.0
        return 60.0 - (now - recent[-self.per_minute]) + 0.01

    def exhausted(self, attempt: int) -> bool:
        return attempt > self.max_attempts

"""Sign-in throttling: failed attempts per e-mail and per client address, in a sliding window.

Kept in memory per gateway process: enough to stop online password guessing against one gateway;
a deployment with several gateway processes multiplies the allowance by their number.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class SignInLimiter:
    """``check(keys)`` → seconds to wait (0 when allowed); ``failed(keys)`` records a failure."""

    def __init__(self, attempts: int, window_seconds: float, clock=time.monotonic):  # type: ignore[no-untyped-def]
        self.attempts, self.window = attempts, window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, keys: list[str]) -> int:
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._prune(key, now)
                if len(q) >= self.attempts:
                    wait = max(wait, q[0] + self.window - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, keys: list[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._prune(key, now).append(now)
            if len(self._failures) > 100_000:  # bound memory under a spray of random e-mails
                for key in [k for k, q in self._failures.items() if not q]:
                    del self._failures[key]

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

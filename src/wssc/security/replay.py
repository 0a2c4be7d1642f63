"""Replay detection (WSS 1.1 section 10 and WCF's ``NonceCache``): each signature value is accepted once
while its message is fresh.  The in-memory cache is bounded (``MAX_CACHED_NONCES``) and forgets entries
once their Timestamp (plus clock skew) can no longer pass.
"""

from __future__ import annotations

import heapq
import threading
from datetime import datetime
from typing import Protocol

from wssc.limits import MAX_CACHED_NONCES


class ReplayCache(Protocol):
    def add(self, key: bytes, expires: datetime, now: datetime) -> bool:
        """Record ``key`` until ``expires``; False when it was already there (a replay)."""


class InMemoryReplayCache:
    def __init__(self, capacity: int = MAX_CACHED_NONCES) -> None:
        self._capacity = capacity
        self._entries: dict[bytes, datetime] = {}
        self._expiry: list[tuple[datetime, bytes]] = []
        self._lock = threading.Lock()

    def add(self, key: bytes, expires: datetime, now: datetime) -> bool:
        with self._lock:
            while self._expiry and self._expiry[0][0] < now:
                _, old = heapq.heappop(self._expiry)
                if self._entries.get(old, now) < now:
                    del self._entries[old]
            seen = self._entries.get(key)
            if seen is not None and seen >= now:
                return False
            if len(self._entries) >= self._capacity:
                # Full of live entries: refusing is safer than forgetting (WCF throws the same way).
                return False
            self._entries[key] = expires
            heapq.heappush(self._expiry, (expires, key))
            return True

    def __len__(self) -> int:
        return len(self._entries)

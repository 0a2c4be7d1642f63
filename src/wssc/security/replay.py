"""Replay detection (WSS 1.1 SOAP Message Security section 10 and WCF's ``NonceCache``): each signature value
is accepted once while its message is fresh.

How long "fresh" lasts is the receiver's decision, never the sender's: :meth:`Timestamp.check
<wssc.security.timestamp.Timestamp.check>` refuses a Timestamp created before now - (``REPLAY_WINDOW`` +
skew), so a message first seen at ``t`` (created at most ``skew`` in the future) can pass the freshness
checks until ``t + REPLAY_WINDOW + 2 * skew`` at the latest, and that is how long its entry is kept
(:func:`replay_retention`, WCF's ``ReplayWindow + 2 * MaxClockSkew``), whatever its Expires says.  A far
Expires therefore neither keeps an entry longer nor lets an anonymous sender fill the cache for years.  A
message without a Timestamp (only where the requirements allow one) has no age to check: it is refused as a
replay for that same time and no longer, as in WCF.

Every entry lives the same time from when it was first seen, so insertion order is expiry order: the
in-memory cache is a queue that forgets from its head, O(1) amortised per message, bounded by
``MAX_CACHED_NONCES`` (WCF ``MaxCachedNonces``).  Full of live entries it never forgets one to make room
(that would let the forgotten message be replayed) and never calls a new message a replay (WCF does, which
locks every client out): it refuses the new message with :class:`ReplayCacheFull`, a ``wst:RequestFailed``
Receiver fault ("the service is too busy"), until entries expire.  With entries kept 15 minutes the bound
is 900,000 accepted messages per 15 minutes, about 1,000 a second.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Protocol

from wssc.errors import RequestFailed
from wssc.limits import MAX_CACHED_NONCES, REPLAY_WINDOW

_log = logging.getLogger(__name__)


def replay_retention(max_skew: timedelta, window: timedelta = REPLAY_WINDOW) -> timedelta:
    """How long an entry must be kept so that its message is refused as long as it is otherwise acceptable:
    ``window + 2 * max_skew`` (WCF ``SecurityProtocolFactory``: "the nonce needs to be cached for
    replayWindow + 2*clockSkew to eliminate replays"); ``window`` is the ``max_age`` the Timestamp check used."""
    return window + 2 * max_skew


class ReplayCacheFull(RequestFailed):
    """The replay cache holds its capacity of live entries: the message is refused unprocessed, as a
    server-side condition (``wst:RequestFailed``, a Receiver fault), not as a replay."""


class ReplayCache(Protocol):
    def add(self, key: bytes, expires: datetime, now: datetime) -> bool:
        """Record ``key`` until ``expires``; False when it was already there (a replay).

        ``expires`` is the receiver's bound (``now + replay_retention(skew)``), never a sender's value.
        Raises :class:`ReplayCacheFull` rather than forget a live entry."""


class InMemoryReplayCache:
    """This process's replay cache: a queue in insertion (= expiry) order, at most ``capacity`` entries."""

    def __init__(self, capacity: int = MAX_CACHED_NONCES) -> None:
        if capacity < 1:
            raise ValueError("a replay cache holds at least one entry")
        self._capacity = capacity
        #: (expiry, key), oldest first; expiries never decrease from head to tail
        self._queue: deque[tuple[datetime, bytes]] = deque()
        self._keys: set[bytes] = set()
        self._full = False
        self._lock = threading.Lock()

    def add(self, key: bytes, expires: datetime, now: datetime) -> bool:
        with self._lock:
            queue = self._queue
            while queue and queue[0][0] < now:
                self._keys.discard(queue.popleft()[1])
            # Every entry left is live: the queue is sorted (below), so no expired entry hides behind the head.
            if key in self._keys:
                return False
            if len(queue) >= self._capacity:
                if not self._full:
                    _log.warning("replay cache full (%d live entries): refusing new messages", self._capacity)
                    self._full = True
                raise ReplayCacheFull(f"replay cache holds {self._capacity} live entries")
            self._full = False
            # A shorter lifetime than the tail's (a smaller skew sharing the cache, a clock stepped back) is
            # raised to the tail's: kept a little longer, never forgotten early, and the queue stays sorted.
            if queue and expires < queue[-1][0]:
                expires = queue[-1][0]
            queue.append((expires, key))
            self._keys.add(key)
            return True

    def __len__(self) -> int:
        return len(self._queue)

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

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Protocol, cast

from wssc.errors import InvalidSecurity, RequestFailed
from wssc.limits import MAX_CACHED_NONCES, REPLAY_WINDOW
from wssc.security import compiled

_log = logging.getLogger(__name__)


def replay_retention(max_skew: timedelta, window: timedelta = REPLAY_WINDOW) -> timedelta:
    """How long an entry must be kept so that its message is refused as long as it is otherwise acceptable:
    ``window + 2 * max_skew`` (WCF ``SecurityProtocolFactory``: "the nonce needs to be cached for
    replayWindow + 2*clockSkew to eliminate replays"); ``window`` is the ``max_age`` the Timestamp check used."""
    return window + 2 * max_skew


def replayed() -> InvalidSecurity:
    """The fault of a message whose value was seen before."""
    return InvalidSecurity("replayed message")


class ReplayCacheFull(RequestFailed):
    """The replay cache holds its capacity of live entries: the message is refused unprocessed, as a
    server-side condition (``wst:RequestFailed``, a Receiver fault), not as a replay."""


class ReplayCache(Protocol):
    def add(self, key: bytes, expires: datetime, now: datetime) -> bool:
        """Record ``key`` until ``expires``; False when it was already there (a replay).

        ``expires`` is the receiver's bound (``now + replay_retention(skew)``), never a sender's value.
        Raises :class:`ReplayCacheFull` rather than forget a live entry."""


class InMemoryReplayCache:
    """This process's replay cache: a queue in insertion (= expiry) order, at most ``capacity`` entries.

    Where the compiled core is installed, the entries live in it (``wssc._core.ReplayCache``, the same queue
    written in Rust), so that the core checks a message's value while it verifies, without calling back into
    Python (:meth:`native_check`); the Python queue below is the reference and the store without the core."""

    def __init__(self, capacity: int = MAX_CACHED_NONCES) -> None:
        if capacity < 1:
            raise ValueError("a replay cache holds at least one entry")
        self._capacity = capacity
        core = compiled.core()
        self._native: Any = None if core is None else core.ReplayCache(capacity)
        self._core = core
        #: the last retention native_check was given, in microseconds too
        self._span: tuple[timedelta, int] | None = None
        self._refuse = self._refuse  # type: ignore[method-assign]  # bound once: a ReplayCheck per message holds it
        #: (expiry, key), oldest first; expiries never decrease from head to tail
        self._queue: deque[tuple[datetime, bytes]] = deque()
        self._keys: set[bytes] = set()
        self._full = False
        self._lock = threading.Lock()

    def add(self, key: bytes, expires: datetime, now: datetime) -> bool:
        if self._native is not None:
            return self._found(self._native.add(key, microseconds(expires), microseconds(now)))
        with self._lock:
            queue = self._queue
            while queue and queue[0][0] < now:
                self._keys.discard(queue.popleft()[1])
            # Every entry left is live: the queue is sorted (below), so no expired entry hides behind the head.
            if key in self._keys:
                return False
            if len(queue) >= self._capacity:
                if not self._full:
                    self._full = True
                    self._warn_full()
                raise ReplayCacheFull(f"replay cache holds {self._capacity} live entries")
            self._full = False
            # A shorter lifetime than the tail's (a smaller skew sharing the cache, a clock stepped back) is
            # raised to the tail's: kept a little longer, never forgotten early, and the queue stays sorted.
            if queue and expires < queue[-1][0]:
                expires = queue[-1][0]
            queue.append((expires, key))
            self._keys.add(key)
            return True

    def native_check(self, now: datetime, retention: timedelta) -> Callable[[bytes], None] | None:
        """:func:`replay_check` on this cache as a ``wssc._core.ReplayCheck``, which the core runs itself when
        it verifies (no call back into Python); None without the core."""
        if self._native is None:
            return None
        span = self._span
        if span is None or span[0] is not retention:
            span = self._span = (retention, retention // _MICROSECOND)
        at = microseconds(now)
        check = self._core.ReplayCheck(self._native, at + span[1], at, self._refuse)  # type: ignore[union-attr]
        return cast("Callable[[bytes], None]", check)

    def _refuse(self, found: int) -> None:
        """Raise what a ``wssc._core.ReplayCheck`` found: a replay, or no room."""
        if found == _REPLAYED:
            raise replayed()
        self._found(found)

    def _found(self, found: int) -> bool:
        """What the core's cache found, as :meth:`add` answers it."""
        if found == _ADMITTED:
            return True
        if found == _REPLAYED:
            return False
        if found == _FULL_FIRST:
            self._warn_full()
        raise ReplayCacheFull(f"replay cache holds {self._capacity} live entries")

    def _warn_full(self) -> None:
        _log.warning("replay cache full (%d live entries): refusing new messages", self._capacity)

    def __len__(self) -> int:
        return len(self._queue) if self._native is None else len(self._native)


def replay_check(cache: ReplayCache, now: datetime, retention: timedelta) -> Callable[[bytes], None]:
    """The replay check of one message received at ``now``: called with a value (a signature value, or an
    unsigned message's first cipher value), it remembers the value's SHA-256 in ``cache`` for ``retention``
    (:func:`replay_retention`) and raises :class:`~wssc.errors.InvalidSecurity` when it was seen before
    (:class:`ReplayCacheFull` when there is no room).  A value it admitted passes it again: the Python path
    deciding a message the compiled core declined checks the same value."""
    if type(cache) is InMemoryReplayCache:  # exactly: a subclass's own add() is called below
        native = cache.native_check(now, retention)
        if native is not None:
            return native
    keep_until = now + retention
    admitted: set[bytes] = set()

    def seen_once(value: bytes) -> None:
        if value in admitted:
            return
        if not cache.add(hashlib.sha256(value).digest(), keep_until, now):
            raise replayed()
        admitted.add(value)

    return seen_once


#: what ``wssc._core.ReplayCache.add`` finds: admitted, seen before, no room (the first such since an admission)
_ADMITTED: Final = 0
_REPLAYED: Final = 1
_FULL_FIRST: Final = 3

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND: Final = timedelta(microseconds=1)


def microseconds(moment: datetime) -> int:
    """``moment`` (timezone-aware) in whole microseconds since the Unix epoch, as the core's cache counts."""
    return (moment - _EPOCH) // _MICROSECOND

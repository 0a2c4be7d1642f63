"""Where a service keeps its contexts.

:class:`ContextStore` is the interface: every state change is a compare-and-set on the current Instance,
so a shared store (Redis: WATCH/MULTI or a Lua script) can make Renew, Amend and Cancel atomic across a
farm.  :class:`InMemoryContextStore` is the bounded embedded default.

A new context is *pending* until the service accepts a message under its key (:meth:`ContextStore.mark_used`:
an application message, or Renew, Amend, Cancel or Validate signed with it).  Pending contexts are what
anyone who may Issue can make in bulk, so they live in a bounded pool of their own, as WCF's pending
security sessions do (``LocalServiceSecuritySettings.MaxPendingSessions``, 128, and ``InactivityTimeout``,
2 minutes: :data:`~wssc.limits.MAX_PENDING_CONTEXTS`, :data:`~wssc.limits.INACTIVITY_TIMEOUT`).  A flood of
Issue requests then holds at most that many places, for at most that long, and never displaces a context
in use.
"""

from __future__ import annotations

import contextvars
import heapq
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from wssc.conversation.context import KEY_ROLLOVER_WINDOW, Claim, SecurityContext
from wssc.limits import INACTIVITY_TIMEOUT, MAX_PENDING_CONTEXTS

#: WCF ``LocalServiceSecuritySettings.MaxCachedCookies``: 1,000 contexts held by one service.
MAX_CONTEXTS: Final = 1000
#: How long an expired context is remembered, so that its use gets ``wsc:RenewNeeded`` rather than
#: ``wsc:BadContextToken``; WCF keeps expired session tokens for the key rollover window too.
EXPIRED_RETENTION: Final = KEY_ROLLOVER_WINDOW
#: Stale entries the expiry heap may carry beyond twice the live contexts before it is rebuilt.
_HEAP_SLACK: Final = 64


#: ``remove``'s "whatever instance is stored": NUL cannot occur in an XML string, so in no Instance either
ANY_INSTANCE: Final = "\x00any instance"


class StaleContext(Exception):
    """The context changed (renewed, amended or cancelled) since the caller read it."""


class StoreFull(Exception):
    """Every place in the store holds a context in use; a new one is refused rather than another evicted."""


class ContextStore(Protocol):
    def add(self, context: SecurityContext, now: datetime) -> None:
        """Store a new, pending context; ``KeyError`` when the Identifier exists already, :class:`StoreFull`
        when every place holds a context in use (the oldest pending one makes room otherwise)."""

    def get(self, identifier: str, now: datetime) -> SecurityContext | None:
        """The context, also shortly after it expired; None when unknown, cancelled, long expired, or
        pending (never used) beyond the inactivity timeout."""

    def mark_used(self, identifier: str, now: datetime) -> None:
        """The service accepted a message under the context's key: it leaves the pending pool for good."""

    def replace(self, expected: SecurityContext, new: SecurityContext, now: datetime) -> None:
        """Swap ``expected`` for ``new`` atomically (same Identifier); :class:`StaleContext` when it moved on.
        Renew and Amend are made under the context's key, so the context is in use from then on."""

    def remove(self, identifier: str, expected_instance: str | None = ANY_INSTANCE) -> bool:
        """Cancel: remove atomically; False when there was nothing (or another instance) to remove.

        ``expected_instance`` (None for a context never renewed) is compared and set, as ``replace`` does;
        :data:`ANY_INSTANCE` removes whatever instance is stored."""


class InMemoryContextStore:
    """Thread-safe and bounded; forgets long-expired contexts; no operation scans the live contexts.

    ``capacity`` (WCF ``MaxCachedCookies``) bounds pending and used contexts together.  Pending ones are
    kept in issue order, at most ``max_pending`` of them and none older than ``inactivity_timeout``; a new
    context beyond either bound, or at capacity, drops the oldest *pending* context.  That departs from WCF,
    which refuses newcomers once ``MaxPendingSessions`` are pending (``QuotaExceededException``): refusing
    would let anyone who can Issue (anonymously, say) lock every newcomer out with a trickle of about one
    request a second, whereas a legitimate client uses its context right away and keeps it unless every
    pending place (at most 128) is taken by newer contexts within its first round trip.

    A context in use is never dropped to make room: when every place holds one, a new context is refused
    (:class:`StoreFull`), as WCF's token cache does by default.  ``evict_live_contexts_when_full`` (WCF's
    ``removeOldestTokensOnCacheFull``) drops the least recently used one instead, trading that isolation
    for availability to newcomers.

    Used contexts sit in a heap by the time they are forgotten (expiry plus ``expired_retention``) and
    pending ones in issue order, so purging costs O(log n) per context purged, refusing or admitting a
    context O(1) and putting it in use O(log n), whatever the store holds (``benchmarks/store_admission.py``).
    Entries that renewal, Cancel or eviction left behind in the heap are skipped when due, and the heap is
    rebuilt once they outnumber the contexts in use (amortised O(1) per entry).
    """

    def __init__(
        self,
        capacity: int = MAX_CONTEXTS,
        expired_retention: timedelta = EXPIRED_RETENTION,
        *,
        evict_live_contexts_when_full: bool = False,
        max_pending: int = MAX_PENDING_CONTEXTS,
        inactivity_timeout: timedelta = INACTIVITY_TIMEOUT,
    ) -> None:
        if capacity < 1 or max_pending < 1:
            raise ValueError("capacity and max_pending must be at least 1")
        self._capacity = capacity
        self._retention = expired_retention
        self._evict = evict_live_contexts_when_full
        self._max_pending = max_pending
        self._inactivity = inactivity_timeout
        self._items: dict[str, SecurityContext] = {}
        #: pending Identifiers -> issue time, oldest first
        self._pending: OrderedDict[str, datetime] = OrderedDict()
        #: used Identifiers, least recently used first
        self._used: OrderedDict[str, None] = OrderedDict()
        #: (forget-at, Identifier) of used contexts; entries outdated by renewal or removal are skipped
        self._expiry: list[tuple[datetime, str]] = []
        self._lock = threading.Lock()

    def _forget_at(self, context: SecurityContext) -> datetime:
        return context.expires + self._retention

    def _drop(self, identifier: str) -> None:
        self._items.pop(identifier, None)
        self._pending.pop(identifier, None)
        self._used.pop(identifier, None)

    def _drop_oldest_pending(self) -> None:
        identifier, _ = self._pending.popitem(last=False)
        del self._items[identifier]

    def _schedule(self, context: SecurityContext) -> None:
        heapq.heappush(self._expiry, (self._forget_at(context), context.identifier))
        if len(self._expiry) > 2 * len(self._used) + _HEAP_SLACK:  # amortised: after n outdated entries
            self._expiry = [(self._forget_at(self._items[k]), k) for k in self._used]
            heapq.heapify(self._expiry)

    def _activate(self, identifier: str) -> None:
        if self._pending.pop(identifier, None) is not None:
            self._used[identifier] = None
            self._schedule(self._items[identifier])
        elif identifier in self._used:
            self._used.move_to_end(identifier)

    def _purge(self, now: datetime) -> None:
        """Forget what is due, at O(log n) per context forgotten: long-expired used contexts, then pending
        ones unused for the inactivity timeout (a pending one is also forgotten when read after that)."""
        while self._expiry and self._expiry[0][0] <= now:
            _, identifier = heapq.heappop(self._expiry)
            context = self._items.get(identifier)
            if context is not None and identifier in self._used and self._forget_at(context) <= now:
                self._drop(identifier)
        cutoff = now - self._inactivity
        while self._pending and next(iter(self._pending.values())) <= cutoff:
            self._drop_oldest_pending()

    def add(self, context: SecurityContext, now: datetime) -> None:
        with self._lock:
            self._purge(now)
            if context.identifier in self._items:
                raise KeyError(context.identifier)
            if len(self._pending) >= self._max_pending:
                self._drop_oldest_pending()
            if len(self._items) >= self._capacity:
                if self._pending:
                    self._drop_oldest_pending()
                elif self._evict:
                    self._drop(next(iter(self._used)))
                else:
                    raise StoreFull(f"{len(self._items)} contexts in use")
            self._items[context.identifier] = context
            self._pending[context.identifier] = now

    def get(self, identifier: str, now: datetime) -> SecurityContext | None:
        with self._lock:
            context = self._items.get(identifier)
            if context is None:
                return None
            issued = self._pending.get(identifier)
            if now >= self._forget_at(context) or (issued is not None and now - issued >= self._inactivity):
                self._drop(identifier)
                return None
            if issued is None:
                self._used.move_to_end(identifier)
            return context

    def mark_used(self, identifier: str, now: datetime) -> None:
        with self._lock:
            issued = self._pending.get(identifier)
            if issued is not None and now - issued >= self._inactivity:
                self._drop(identifier)  # too late: it stays forgotten
            elif identifier in self._items:
                self._activate(identifier)

    def replace(self, expected: SecurityContext, new: SecurityContext, now: datetime) -> None:
        """Renew and Amend are made under the context's key: the context is in use from then on."""
        if expected.identifier != new.identifier:
            raise ValueError("a context keeps its Identifier")
        with self._lock:
            current = self._items.get(expected.identifier)
            if current is None or current.instance != expected.instance or current.claims != expected.claims:
                raise StaleContext(expected.identifier)
            self._items[new.identifier] = new
            if new.identifier in self._pending:
                self._activate(new.identifier)
            elif self._forget_at(new) != self._forget_at(current):
                self._schedule(new)

    def remove(self, identifier: str, expected_instance: str | None = ANY_INSTANCE) -> bool:
        with self._lock:
            current = self._items.get(identifier)
            if current is None:
                return False
            shown = current.instance if expected_instance == ANY_INSTANCE else expected_instance
            if current.instance != shown:
                return False
            self._drop(identifier)
            return True

    def __len__(self) -> int:
        return len(self._items)


def amend(store: ContextStore, identifier: str, claims: tuple[Claim, ...], now: datetime) -> SecurityContext:
    """Add claims with compare-and-set; retried once when a concurrent change won."""
    for _ in range(2):
        current = store.get(identifier, now)
        if current is None:
            raise KeyError(identifier)
        new = current.amended(claims)
        try:
            store.replace(current, new, now)
        except StaleContext:
            continue
        return new
    raise StaleContext(identifier)


@dataclass
class _Request:
    reads: dict[str, SecurityContext | None]
    #: Identifiers of the contexts the request brought with it (stateless cookies): never written to the store
    carried: frozenset[str]


_REQUEST: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("wssc_store_request", default=None)


class RequestScopedStore:
    """Reads each context once per request (a context variable scopes it, thread- and task-safe): a shared
    store such as Redis is asked once, not by the key resolver and again by the token service.  Every
    write goes to ``base`` and drops the entry read before.

    Contexts a request carries itself (stateless cookies, :mod:`wssc.conversation.stateless`) are read from
    the request and never written to ``base``: replacing one only changes what the rest of the request sees."""

    def __init__(self, base: ContextStore) -> None:
        self.base = base

    @contextmanager
    def request(self, carried: Mapping[str, SecurityContext] | None = None) -> Iterator[None]:
        carried = carried or {}
        token = _REQUEST.set(_Request(dict(carried), frozenset(carried)))
        try:
            yield
        finally:
            _REQUEST.reset(token)

    def _carried(self, identifier: str) -> bool:
        request = _REQUEST.get()
        return request is not None and identifier in request.carried

    def _forget(self, identifier: str) -> None:
        request = _REQUEST.get()
        if request is not None:
            request.reads.pop(identifier, None)

    def add(self, context: SecurityContext, now: datetime) -> None:
        self._forget(context.identifier)
        self.base.add(context, now)

    def get(self, identifier: str, now: datetime) -> SecurityContext | None:
        request = _REQUEST.get()
        if request is None:
            return self.base.get(identifier, now)
        if identifier not in request.reads:
            request.reads[identifier] = self.base.get(identifier, now)
        return request.reads[identifier]

    def replace(self, expected: SecurityContext, new: SecurityContext, now: datetime) -> None:
        request = _REQUEST.get()
        if request is not None and expected.identifier in request.carried:
            request.reads[expected.identifier] = new
            return
        self._forget(expected.identifier)
        self.base.replace(expected, new, now)

    def mark_used(self, identifier: str, now: datetime) -> None:
        if not self._carried(identifier):  # a stateless context is stored nowhere, hence never pending
            self.base.mark_used(identifier, now)

    def remove(self, identifier: str, expected_instance: str | None = ANY_INSTANCE) -> bool:
        if self._carried(identifier):
            return False  # nothing stored to remove (a stateless Cancel is refused before it gets here)
        self._forget(identifier)
        return self.base.remove(identifier, expected_instance)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

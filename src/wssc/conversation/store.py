"""Where a service keeps its contexts.

:class:`ContextStore` is the interface: every state change is a compare-and-set on the current Instance,
so a shared store (Redis: WATCH/MULTI or a Lua script) can make Renew, Amend and Cancel atomic across a
farm.  :class:`InMemoryContextStore` is the bounded embedded default.
"""

from __future__ import annotations

import contextvars
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from wssc.conversation.context import KEY_ROLLOVER_WINDOW, Claim, SecurityContext

#: WCF ``LocalServiceSecuritySettings.MaxCachedCookies``: 1,000 contexts held by one service.
MAX_CONTEXTS: Final = 1000
#: How long an expired context is remembered, so that its use gets ``wsc:RenewNeeded`` rather than
#: ``wsc:BadContextToken``; WCF keeps expired session tokens for the key rollover window too.
EXPIRED_RETENTION: Final = KEY_ROLLOVER_WINDOW


class StaleContext(Exception):
    """The context changed (renewed, amended or cancelled) since the caller read it."""


class StoreFull(Exception):
    """The store holds as many live contexts as it may; a new one is refused rather than another evicted."""


class ContextStore(Protocol):
    def add(self, context: SecurityContext, now: datetime) -> None:
        """Store a new context; ``KeyError`` when the Identifier exists already, :class:`StoreFull` at capacity."""

    def get(self, identifier: str, now: datetime) -> SecurityContext | None:
        """The context, also shortly after it expired; None when unknown, cancelled or long expired."""

    def replace(self, expected: SecurityContext, new: SecurityContext, now: datetime) -> None:
        """Swap ``expected`` for ``new`` atomically (same Identifier); :class:`StaleContext` when it moved on."""

    def remove(self, identifier: str, expected_instance: str | None = None) -> bool:
        """Cancel: remove atomically; False when there was nothing (or another instance) to remove."""


class InMemoryContextStore:
    """Thread-safe and bounded; forgets long-expired contexts.

    At capacity a new context is refused (:class:`StoreFull`), as WCF's token cache does by default: a
    client that can establish contexts (anonymously, say) must not be able to push other clients' live
    contexts out.  ``evict_live_contexts_when_full`` (WCF's ``removeOldestTokensOnCacheFull``) drops the
    least recently used one instead, trading that isolation for availability to newcomers.
    """

    def __init__(
        self,
        capacity: int = MAX_CONTEXTS,
        expired_retention: timedelta = EXPIRED_RETENTION,
        *,
        evict_live_contexts_when_full: bool = False,
    ) -> None:
        self._capacity = capacity
        self._retention = expired_retention
        self._evict = evict_live_contexts_when_full
        self._items: OrderedDict[str, SecurityContext] = OrderedDict()
        self._lock = threading.Lock()

    def _purge(self, now: datetime) -> None:
        dead = [k for k, c in self._items.items() if now >= c.expires + self._retention]
        for key in dead:
            del self._items[key]

    def add(self, context: SecurityContext, now: datetime) -> None:
        with self._lock:
            if context.identifier in self._items:
                raise KeyError(context.identifier)
            if len(self._items) >= self._capacity:
                self._purge(now)
            if len(self._items) >= self._capacity and not self._evict:
                raise StoreFull(f"{len(self._items)} contexts")
            while len(self._items) >= self._capacity:
                self._items.popitem(last=False)
            self._items[context.identifier] = context

    def get(self, identifier: str, now: datetime) -> SecurityContext | None:
        with self._lock:
            context = self._items.get(identifier)
            if context is None:
                return None
            if now >= context.expires + self._retention:
                del self._items[identifier]
                return None
            self._items.move_to_end(identifier)
            return context

    def replace(self, expected: SecurityContext, new: SecurityContext, now: datetime) -> None:
        if expected.identifier != new.identifier:
            raise ValueError("a context keeps its Identifier")
        with self._lock:
            current = self._items.get(expected.identifier)
            if current is None or current.instance != expected.instance or current.claims != expected.claims:
                raise StaleContext(expected.identifier)
            self._items[new.identifier] = new

    def remove(self, identifier: str, expected_instance: str | None = None) -> bool:
        with self._lock:
            current = self._items.get(identifier)
            if current is None:
                return False
            if expected_instance is not None and current.instance != expected_instance:
                return False
            del self._items[identifier]
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

    def remove(self, identifier: str, expected_instance: str | None = None) -> bool:
        if self._carried(identifier):
            return False  # nothing stored to remove (a stateless Cancel is refused before it gets here)
        self._forget(identifier)
        return self.base.remove(identifier, expected_instance)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

"""What admitting and refusing a context costs as the in-memory store grows (issue 7, finding 8).

A store holding 1,000 and one holding 1,000,000 contexts in use, in the same run:

- *refusal*: every place holds a context in use, so a new one is refused (``StoreFull``), as an anonymous
  Issue flood meets it; this once scanned the whole store (12 ms at 100,000 contexts, 150 ms at 1,000,000);
- *admission*: a new context is added and used (``add`` then ``mark_used``) while there is room;
- *flood admission*: the store is full and the pending pool too, so a new context displaces the oldest
  pending one;
- *eviction*: ``evict_live_contexts_when_full`` and every place in use: the least recently used goes.

With ``--redis URL`` (a scratch Redis: its namespace ``wssc-bench`` is cleared) the same refusal and flood
admission are timed against :class:`~wssc.adapters.redis_store.RedisContextStore`, whose index is filled
directly (sorted-set members; the records themselves play no part in admission).

Each figure is the best of 15 rounds of the mean over 1,000 operations (the best, as the machine may be
shared).  The target is a ratio within 3x between the two sizes.

    PYTHONPATH=src python benchmarks/store_admission.py [--large 1000000] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import redis

from wssc.adapters.redis_store import RedisContextStore
from wssc.conversation.context import SecurityContext
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.store import ContextStore, InMemoryContextStore, StoreFull

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
#: when the timed operations happen (and their contexts are issued): a minute after the store was filled
NOW = T0 + timedelta(minutes=1)
LIFETIME = timedelta(hours=15)
KEY = os.urandom(32)
ROUNDS = 15
OPERATIONS = 1000


class _Fresh:
    """Contexts made ahead of time, so that only the store's work is timed."""

    def __init__(self) -> None:
        self.serial = 0

    def batch(self, count: int, created: datetime = NOW) -> list[SecurityContext]:
        start, self.serial = self.serial, self.serial + count
        expires = created + LIFETIME
        return [SecurityContext(f"urn:uuid:bench-{i}", KEY, created, expires) for i in range(start, self.serial)]


def _filled(size: int, fresh: _Fresh, *, capacity: int, evict: bool = False) -> InMemoryContextStore:
    store = InMemoryContextStore(capacity=capacity, evict_live_contexts_when_full=evict)
    for context in fresh.batch(size, T0):
        store.add(context, T0)
        store.mark_used(context.identifier, T0)
    return store


def _best(operation: Callable[[list[SecurityContext]], None], fresh: _Fresh) -> float:
    """Best mean seconds per operation over ``ROUNDS`` rounds of ``OPERATIONS`` operations."""
    best = float("inf")
    for _ in range(ROUNDS):
        contexts = fresh.batch(OPERATIONS)
        started = time.perf_counter()
        operation(contexts)
        best = min(best, (time.perf_counter() - started) / OPERATIONS)
    return best


Operation = Callable[[list[SecurityContext]], None]


def _refuse(store: ContextStore) -> Operation:
    def refuse(contexts: list[SecurityContext]) -> None:
        for context in contexts:
            try:
                store.add(context, NOW)
            except StoreFull:
                continue
            raise AssertionError("a full store admitted a context")

    return refuse


def _admit(store: ContextStore, *, use: bool) -> Operation:
    def admit(contexts: list[SecurityContext]) -> None:
        for context in contexts:
            store.add(context, NOW)
            if use:
                store.mark_used(context.identifier, NOW)

    return admit


def _sized(store: ContextStore, operation: Operation, fresh: _Fresh, size: int) -> float:
    """``_best`` of an operation that leaves the store at ``size`` contexts (it displaced as many as it added)."""
    seconds = _best(operation, fresh)
    assert len(store) == size  # type: ignore[arg-type]
    return seconds


def refusal(size: int) -> float:
    fresh = _Fresh()
    return _best(_refuse(_filled(size, fresh, capacity=size)), fresh)


def admission(size: int) -> float:
    fresh = _Fresh()
    return _best(_admit(_filled(size, fresh, capacity=size + ROUNDS * OPERATIONS), use=True), fresh)


def flood_admission(size: int) -> float:
    fresh = _Fresh()
    store = _filled(size - 128, fresh, capacity=size)
    for context in fresh.batch(128, T0):
        store.add(context, T0)  # the pending pool is full too
    return _sized(store, _admit(store, use=False), fresh, size)


def eviction(size: int) -> float:
    fresh = _Fresh()
    store = _filled(size, fresh, capacity=size, evict=True)
    return _sized(store, _admit(store, use=True), fresh, size)


def _redis_store(url: str, used: int, pending: int) -> RedisContextStore:
    """A Redis store whose index holds ``used`` contexts in use and ``pending`` pending ones, at capacity."""
    client: redis.Redis = redis.Redis.from_url(url)
    for key in client.scan_iter("{wssc-bench}:*", count=10_000):
        client.delete(key)
    forget_at = int((T0 + LIFETIME).timestamp() * 1000)
    issued = int(T0.timestamp() * 1000)
    for start in range(0, used + pending, 10_000):
        members = range(start, min(start + 10_000, used + pending))
        client.zadd("{wssc-bench}:ctx-index", {f"m{i}": forget_at for i in members})
        pending_members = {f"m{i}": issued for i in members if i >= used}
        if pending_members:
            client.zadd("{wssc-bench}:ctx-pending", pending_members)
    return RedisContextStore(client, ContextSeal(KEY), namespace="wssc-bench", capacity=used + pending)


def redis_refusal(url: str) -> Callable[[int], float]:
    return lambda size: _best(_refuse(_redis_store(url, size, 0)), _Fresh())


def redis_flood_admission(url: str) -> Callable[[int], float]:
    def measure(size: int) -> float:
        store = _redis_store(url, size - 128, 128)
        return _sized(store, _admit(store, use=False), _Fresh(), size)

    return measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--redis", metavar="URL", help="also time RedisContextStore against this scratch Redis")
    args = parser.parse_args()
    print(f"{'operation':<18}{args.small:>12,} ctx{args.large:>14,} ctx{'ratio':>9}")
    worst = 0.0
    cases: list[tuple[str, Callable[[int], float]]] = [
        ("refusal", refusal),
        ("admission", admission),
        ("flood admission", flood_admission),
        ("eviction", eviction),
    ]
    if args.redis:
        cases += [("redis refusal", redis_refusal(args.redis)), ("redis flood adm.", redis_flood_admission(args.redis))]
    for name, measure in cases:
        small, large = measure(args.small), measure(args.large)
        ratio = large / small
        worst = max(worst, ratio)
        print(f"{name:<18}{small * 1e6:>12.2f} us{large * 1e6:>14.2f} us{ratio:>8.2f}x", flush=True)
    print(f"worst ratio {worst:.2f}x (target: within 3x)")


if __name__ == "__main__":
    main()

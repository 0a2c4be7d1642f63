"""What admitting and refusing a context costs as the in-memory store grows (issue 7, finding 8).

A store holding 1,000 and one holding 1,000,000 contexts in use, in the same run:

- *refusal*: every place holds a context in use, so a new one is refused (``StoreFull``), as an anonymous
  Issue flood meets it; this once scanned the whole store (12 ms at 100,000 contexts, 150 ms at 1,000,000);
- *admission*: a new context is added and used (``add`` then ``mark_used``) while there is room;
- *flood admission*: the store is full and the pending pool too, so a new context displaces the oldest
  pending one;
- *eviction*: ``evict_live_contexts_when_full`` and every place in use: the least recently used goes.

Each figure is the best of 15 rounds of the mean over 1,000 operations (the best, as the machine may be
shared).  The target is a ratio within 3x between the two sizes.

    PYTHONPATH=src python benchmarks/store_admission.py [--large 1000000]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from wssc.conversation.context import SecurityContext
from wssc.conversation.store import InMemoryContextStore, StoreFull

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
LIFETIME = timedelta(hours=15)
KEY = os.urandom(32)
ROUNDS = 15
OPERATIONS = 1000


class _Fresh:
    """Contexts made ahead of time, so that only the store's work is timed."""

    def __init__(self) -> None:
        self.serial = 0

    def batch(self, count: int) -> list[SecurityContext]:
        start, self.serial = self.serial, self.serial + count
        return [SecurityContext(f"urn:uuid:bench-{i}", KEY, T0, T0 + LIFETIME) for i in range(start, self.serial)]


def _filled(size: int, fresh: _Fresh, *, capacity: int, evict: bool = False) -> InMemoryContextStore:
    store = InMemoryContextStore(capacity=capacity, evict_live_contexts_when_full=evict)
    for context in fresh.batch(size):
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


def refusal(size: int) -> float:
    fresh = _Fresh()
    store = _filled(size, fresh, capacity=size)
    now = T0 + timedelta(minutes=1)

    def refuse(contexts: list[SecurityContext]) -> None:
        for context in contexts:
            try:
                store.add(context, now)
            except StoreFull:
                continue
            raise AssertionError("a full store admitted a context")

    return _best(refuse, fresh)


def admission(size: int) -> float:
    fresh = _Fresh()
    store = _filled(size, fresh, capacity=size + ROUNDS * OPERATIONS)
    now = T0 + timedelta(minutes=1)

    def admit(contexts: list[SecurityContext]) -> None:
        for context in contexts:
            store.add(context, now)
            store.mark_used(context.identifier, now)

    return _best(admit, fresh)


def flood_admission(size: int) -> float:
    fresh = _Fresh()
    store = _filled(size - 128, fresh, capacity=size)
    for context in fresh.batch(128):
        store.add(context, T0)  # the pending pool is full too
    now = T0 + timedelta(minutes=1)

    def flood(contexts: list[SecurityContext]) -> None:
        for context in contexts:
            store.add(context, now)

    seconds = _best(flood, fresh)
    assert len(store) == size
    return seconds


def eviction(size: int) -> float:
    fresh = _Fresh()
    store = _filled(size, fresh, capacity=size, evict=True)
    now = T0 + timedelta(minutes=1)

    def evict(contexts: list[SecurityContext]) -> None:
        for context in contexts:
            store.add(context, now)
            store.mark_used(context.identifier, now)

    seconds = _best(evict, fresh)
    assert len(store) == size
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"{'operation':<18}{args.small:>12,} ctx{args.large:>14,} ctx{'ratio':>9}")
    worst = 0.0
    for name, measure in (
        ("refusal", refusal),
        ("admission", admission),
        ("flood admission", flood_admission),
        ("eviction", eviction),
    ):
        small, large = measure(args.small), measure(args.large)
        ratio = large / small
        worst = max(worst, ratio)
        print(f"{name:<18}{small * 1e6:>12.2f} us{large * 1e6:>14.2f} us{ratio:>8.2f}x", flush=True)
    print(f"worst ratio {worst:.2f}x (target: within 3x)")


if __name__ == "__main__":
    main()

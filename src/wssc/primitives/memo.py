"""A bounded memory of values made once per key: what the per-message path remembers between messages (the
objects built for a context, a policy, a shape of message) without letting a peer that sends ever new keys
grow it.  At its bound the memory is emptied at once, not pruned: the keys still in use are made again once,
and no bookkeeping runs on the common path, a hit."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def remembered(memory: dict[K, V], key: K, make: Callable[[], V], bound: int) -> V:
    """``memory[key]``, made by ``make()`` and remembered when absent; ``memory`` is emptied first when it holds
    ``bound`` values already."""
    known = memory.get(key)
    if known is None:
        if len(memory) >= bound:
            memory.clear()
        known = memory[key] = make()
    return known

"""What ``wssc._core`` decided on the core side of the differential harness, counted and never changed.

:func:`install_counters` puts a stand-in for ``wssc._core.Incoming`` in the module (the glue looks it up there
at each call): the same calls with the same results, each acceptance (``verify`` returned) and each
``Declined`` (``parse`` or ``verify``) noted in the events of the current :func:`traced` block.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from wssc.security import compiled

_TRACE = threading.local()


def _note(what: str) -> None:
    trace = getattr(_TRACE, "events", None)
    if trace is not None:
        trace.append(what)


class _CountingIncoming:
    """Stands in for ``wssc._core.Incoming``: the same calls, the same results, each one noted."""

    def __init__(self, real: Any, declined: type[BaseException]) -> None:
        self._real, self._declined = real, declined

    def parse(self, data: bytes, limits: Any) -> Any:
        try:
            return _CountingInstance(self._real.parse(data, limits), self._declined)
        except self._declined:
            _note("declined")
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _CountingInstance:
    def __init__(self, real: Any, declined: type[BaseException]) -> None:
        self._real, self._declined = real, declined

    def verify(self, keys: Any, policy: Any, *rest: Any) -> Any:
        try:
            record = self._real.verify(keys, policy, *rest)
        except self._declined:
            _note("declined")
            raise
        _note("accepted")
        return record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def install_counters() -> bool:
    """Count the core's decisions when ``wssc._core`` has an ``Incoming``; False when there is nothing to count."""
    core = compiled.core()
    if core is None or not hasattr(core, "Incoming") or not hasattr(core, "Declined"):
        return False
    if not isinstance(core.Incoming, _CountingIncoming):
        core.Incoming = _CountingIncoming(core.Incoming, core.Declined)
    return True


@contextlib.contextmanager
def traced() -> Iterator[list[str]]:
    _TRACE.events = events = []
    try:
        yield events
    finally:
        _TRACE.events = None

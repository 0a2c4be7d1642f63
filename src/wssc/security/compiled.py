"""Choosing the compiled core (``wssc._core``, docs/core.md) or the Python path for the per-message work.

The core is used when it was built (``pip install .`` where cargo exists) and ``WSSC_PURE_PYTHON`` is not
set to a true value; the Python path is the reference implementation and the fallback, and decides every
message the core declines.  :func:`forced_python` forces the Python path in the current thread (tests,
the differential harness).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Final

#: set to 1 (or true, yes, on) to force the Python path, whether the core is installed or not
PURE_PYTHON_ENV: Final = "WSSC_PURE_PYTHON"

_FORCED = threading.local()
#: how many forced_python() blocks are open, in every thread
_FORCING = [0]
_FORCING_LOCK = threading.Lock()


def _load() -> ModuleType | None:
    try:
        module = importlib.import_module("wssc._core")
    except ImportError:
        return None
    # a core built from older sources (a stale in-place build) lacks the message functions: not used
    needed = ("Incoming", "protect", "ProtectOptions", "Declined", "ReplayCache", "ReplayCheck", "contains_any")
    return module if all(hasattr(module, name) for name in needed) else None


_CORE: Final = _load()


def _env_forces_python() -> bool:
    return os.environ.get(PURE_PYTHON_ENV, "").strip().lower() in ("1", "true", "yes", "on")


#: read once (the environment is the process's configuration; reading it costs a microsecond per message)
_ENV_FORCES_PYTHON = _env_forces_python()


def reread_environment() -> None:
    """Read ``WSSC_PURE_PYTHON`` again (it is read once at import; tests change it at run time)."""
    global _ENV_FORCES_PYTHON  # noqa: PLW0603
    _ENV_FORCES_PYTHON = _env_forces_python()


def installed() -> bool:
    """Whether the compiled core was built and imports."""
    return _CORE is not None


def installed_core() -> ModuleType | None:
    """The compiled core whether or not this call may use it (None when not installed): for checking what it
    produced, such as the record of a message it verified, wherever and whenever that is read."""
    return _CORE


def core() -> ModuleType | None:
    """The compiled core when it is to be used for this call, else None (the Python path)."""
    if _CORE is None or _ENV_FORCES_PYTHON:
        return None
    # the thread's own setting is read only while some thread forces the Python path (a request reads this
    # several times, and a thread-local lookup costs more than the rest of the test)
    if _FORCING[0] and getattr(_FORCED, "python", False):
        return None
    return _CORE


def contains_any(data: bytes, needles: tuple[bytes, ...]) -> bool:
    """Whether ``data`` holds one of ``needles`` as a substring: the core's SIMD search where it is used (a
    Python ``in`` takes microseconds to step through a request of a few kilobytes)."""
    found = core()
    if found is not None:
        return bool(found.contains_any(data, needles))
    return any(needle in data for needle in needles)


def active() -> str:
    """``"rust"`` when the core does the per-message work in this thread, else ``"python"``."""
    return "rust" if core() is not None else "python"


@contextmanager
def forced_python() -> Iterator[None]:
    """Force the Python path in this thread for the duration of the block."""
    before = getattr(_FORCED, "python", False)
    with _FORCING_LOCK:
        _FORCING[0] += 1
    _FORCED.python = True
    try:
        yield
    finally:
        _FORCED.python = before
        with _FORCING_LOCK:
            _FORCING[0] -= 1

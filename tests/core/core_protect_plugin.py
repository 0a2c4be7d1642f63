"""pytest plugin: every ``protect`` the tests and wssc's conversation layer call goes through the compiled
one where it can (the glue's choice: no endorsing or supporting tokens, no asymmetric signer, bytes in), so
that the peers (WSS4J) receive the core's output.  Use: ``python3 -m pytest -p core_protect_plugin
tests/interop/...`` with ``tests/core`` on ``PYTHONPATH``.  The summary counts core calls and declines."""

from __future__ import annotations

import sys
from collections import Counter

import pytest
from core_protect import core_protect, load_core

from wssc.security.protect import ProtectedMessage
from wssc.security.protect import protect as python_protect

CORE = load_core()
COUNTS: Counter[str] = Counter()


def compiled_protect(envelope, token, policy=None, **kwargs):  # type: ignore[no-untyped-def]
    """``protect.protect`` through the core when it is in the core's subset, else the Python path."""
    if (
        CORE is None
        or not isinstance(envelope, bytes)
        or kwargs.get("endorsing")
        or kwargs.get("supporting_tokens")
        or kwargs.get("signer") is not None
    ):
        COUNTS["python (outside the subset)"] += 1
        return python_protect(envelope, token, policy, **kwargs)
    known = {k: v for k, v in kwargs.items() if k in ("version", "now", "signature_confirmations")}
    try:
        result: ProtectedMessage = core_protect(envelope, token, policy, **known)
    except CORE.Declined as declined:
        COUNTS[f"declined: {declined.args[0]}"] += 1
        return python_protect(envelope, token, policy, **kwargs)
    COUNTS["core"] += 1
    return result


def pytest_collection_finish(session: pytest.Session) -> None:
    for module in list(sys.modules.values()):
        if getattr(module, "protect", None) is python_protect and module.__name__ != "wssc.security.protect":
            module.protect = compiled_protect  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for what, n in sorted(COUNTS.items()):
        terminalreporter.write_line(f"protect calls, {what}: {n}")

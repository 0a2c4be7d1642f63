"""The compiled core against the Python path (issue 11, "Differential"; :mod:`differential` says how): 5,000
cases, 4,800 from the seeded plain-random generator and 200 from hypothesis, each received on both sides;
no crash, no disagreement on accept or refuse, the fault or the verified view.  ``scripts/differential-core``
runs a million.

Where the core is not installed both sides run the Python path, and the test then checks the harness itself
(the Python path must agree with itself, so nothing in a case depends on chance or on shared state).  The
checks are shown to work: a planted difference in the view, in the fault and a crash on one side are each
caught.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, ClassVar

import differential
import pytest
from diff_messages import Drawn
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from wssc.errors import InvalidSecurity, MessageExpired
from wssc.security import compiled
from wssc.security.unprotect import Receiver

#: (seed, cases): 4,800 plain-random cases, in four runs so a failure names a smaller one
PLAIN_RUNS = [(seed, 1200) for seed in range(4)]
HYPOTHESIS_EXAMPLES = 200


def _failures(results: list[differential.Result]) -> str:
    failed = [r for r in results if r.failed]
    shown = "\n\n".join(differential.explain(r) for r in failed[:3])
    return f"{len(failed)} failing cases of {len(results)}; the first:\n{shown}"


@pytest.mark.parametrize(("seed", "count"), PLAIN_RUNS)
def test_plain_random_cases_agree(seed: int, count: int) -> None:
    differential.install_counters()
    tally = differential.Tally()
    results = []
    for index in range(count):
        result = differential.case(seed, index)
        tally.add(result)
        if result.failed:
            results.append(result)
    assert not results, _failures(results)
    # the cases reach the accepting paths and the controls pass, or the test would prove little
    assert tally.python_accepted > count // 10, tally
    assert tally.controls > count // 40 and tally.control_failures == 0, tally


@settings(
    max_examples=HYPOTHESIS_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(st.data())
def test_hypothesis_cases_agree(data: st.DataObject) -> None:
    differential.install_counters()
    receipt = differential.generate(Drawn(data))
    mismatch = next((line for line in receipt.story if line.startswith("protect: ")), None)
    result = differential.run(receipt, protect_mismatch=mismatch)
    note(differential.explain(result))
    assert not result.failed


# --- the harness can fail ----------------------------------------------------------------------------------


def _on_the_core_side(monkeypatch: pytest.MonkeyPatch, change: Callable[[Any], Any]) -> None:
    """Make ``Receiver.unprotect`` behave differently where the Python path is not forced."""
    real = Receiver.unprotect

    def unprotect(self: Receiver, data: Any, **kwargs: Any) -> Any:
        with compiled.forced_python():  # the real work on the Python path in both cases
            result = real(self, data, **kwargs)
        return result if getattr(compiled._FORCED, "python", False) else change(result)

    monkeypatch.setattr(Receiver, "unprotect", unprotect)


def _planted(monkeypatch: pytest.MonkeyPatch, change: Callable[[Any], Any]) -> differential.Tally:
    _on_the_core_side(monkeypatch, change)
    tally = differential.Tally()
    for index in range(60):
        tally.add(differential.case(99, index))
    return tally


def test_a_different_view_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    import copy

    def change(vm: Any) -> Any:
        changed = copy.copy(vm)
        changed.signature_confirmations = (b"x",)
        return changed

    tally = _planted(monkeypatch, change)
    assert tally.disagreements == tally.python_accepted > 0 and tally.crashes == 0, tally


def test_a_different_fault_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def change(vm: Any) -> Any:
        raise MessageExpired("planted")

    tally = _planted(monkeypatch, change)
    assert tally.disagreements == tally.python_accepted > 0, tally
    tally = _planted(monkeypatch, lambda vm: (_ for _ in ()).throw(InvalidSecurity("planted")))
    assert tally.disagreements == tally.python_accepted > 0, tally


def test_a_crash_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def change(vm: Any) -> Any:
        raise KeyError("planted")

    tally = _planted(monkeypatch, change)
    assert tally.crashes == tally.python_accepted > 0 and tally.disagreements == 0, tally


def test_core_decisions_are_counted_without_changing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counters stand in for ``wssc._core.Incoming`` (a stand-in core here: the real one may not be built)."""

    class Declined(Exception):
        pass

    class Incoming:
        @staticmethod
        def parse(data: bytes, limits: dict[str, int]) -> Incoming:
            if data == b"decline":
                raise Declined("outside the subset")
            return Incoming()

        contexts: ClassVar = [("urn:x", None, None)]

        def verify(self, keys: list[bytes], policy: dict[str, Any]) -> dict[str, Any]:
            if keys == [b"decline"]:
                raise Declined("refused")
            return {"output": b"<x/>"}

    fake = types.SimpleNamespace(Incoming=Incoming, Declined=Declined)
    monkeypatch.setattr(compiled, "_CORE", fake)
    monkeypatch.setattr(compiled, "_ENV_FORCES_PYTHON", False)  # also when the suite runs with WSSC_PURE_PYTHON
    assert differential.install_counters()
    assert differential.install_counters()  # twice: still one wrapper
    with differential.traced() as events:
        incoming = fake.Incoming.parse(b"<x/>", {})
        assert incoming.contexts == [("urn:x", None, None)]
        assert incoming.verify([b"k"], {}) == {"output": b"<x/>"}
        with pytest.raises(Declined):
            incoming.verify([b"decline"], {})
        with pytest.raises(Declined):
            fake.Incoming.parse(b"decline", {})
    assert events == ["accepted", "declined", "declined"]


def test_a_protect_crash_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = differential.protect

    def protect(*args: Any, **kwargs: Any) -> Any:
        if not getattr(compiled._FORCED, "python", False):
            raise KeyError("planted")
        return real(*args, **kwargs)

    monkeypatch.setattr(differential, "protect", protect)
    results = [differential.case(98, index) for index in range(40)]
    core_protected = [r for r in results if "protected on the core side" in "\n".join(r.receipt.story)]
    assert core_protected and all(r.crash and r.failed for r in core_protected)
    # a case protected on the Python side fails only when protect refused it there and the core side (asked the
    # same, to compare the refusals) crashed
    for result in results:
        if result not in core_protected:
            assert result.failed == (result.receipt.protect_crash is not None), differential.explain(result)

"""``wssc bench``: protect and unprotect against the XML floor, measured in one run.

The floor is the XML work a round trip cannot avoid for the same two messages: lxml parse, exclusive
c14n and serialisation of the plain envelope and of the protected envelope.  ``ratio`` is
(protect + unprotect) / floor for the default policy (Basic256, sign + encrypt with derived keys,
encrypted signature, signed Timestamp, Body and WS-Addressing headers).  ``core`` says which path did the
per-message work: ``"rust"`` (the compiled core, ``wssc._core``) or ``"python"`` (not installed, or forced by
``WSSC_PURE_PYTHON``); without the core the figures are the Python path's, and the table says so once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from lxml import etree

from wssc.security import compiled
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken, new_identifier

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def sample_envelope(body_bytes: int) -> bytes:
    """A SOAP 1.2 + WS-Addressing request whose Body payload is about ``body_bytes`` long."""
    item = b"<ns:item><ns:name>widget</ns:name><ns:qty>3</ns:qty></ns:item>"
    items = item * max(1, body_bytes // len(item))
    return (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">'
        b'<s:Header><a:Action s:mustUnderstand="1">urn:example:order</a:Action>'
        b"<a:MessageID>urn:uuid:9d8c1e9e-6f0b-4a55-8f1f-3f2e8c1d7a10</a:MessageID>"
        b'<a:To s:mustUnderstand="1">http://localhost/order</a:To></s:Header>'
        b'<s:Body><ns:order xmlns:ns="urn:example">' + items + b"</ns:order></s:Body></s:Envelope>"
    )


def _time(fn: Callable[[int], object], seconds: float) -> float:
    """Microseconds per call: best of three timed batches after a warm-up."""
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / 4:
        fn(n)
        n += 1
    batch = max(n, 10)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(batch):
            fn(i)
        best = min(best, (time.perf_counter() - t0) / batch)
    return best * 1e6


def _floor(message: bytes) -> None:
    root = etree.fromstring(message, _PARSER)
    etree.tostring(root, method="c14n", exclusive=True)
    etree.tostring(root)


def measure(body_bytes: int, seconds: float, envelope: bytes | None = None) -> dict[str, Any]:
    """Time the default policy (Basic256, sign + encrypt, derived keys, encrypted signature) on one envelope."""
    plain = envelope if envelope is not None else sample_envelope(body_bytes)
    key = os.urandom(32)
    sct = SecurityContextToken(new_identifier(), wsu_id="SCT-1")
    token = ContextProtection(sct, key)
    receiver = Receiver(StaticKeys({sct.identifier: key}))
    pool = [protect(plain, token).data]
    protect_us = _time(lambda _i: protect(plain, token), seconds)
    # Every unprotect gets a distinct message, so replay detection stays on; protecting them is not timed.
    fresh = [protect(plain, token).data for _ in range(max(200, min(int(seconds * 8000), 20000)))]
    unprotect_us = _time_distinct(receiver, fresh)
    protected = pool[0]

    def floor(_i: int) -> None:
        _floor(plain)
        _floor(protected)

    floor_us = _time(floor, seconds)
    return {
        "body_bytes": len(plain),
        "protected_bytes": len(pool[0]),
        "protect_us": round(protect_us, 1),
        "unprotect_us": round(unprotect_us, 1),
        "floor_us": round(floor_us, 1),
        "ratio": round((protect_us + unprotect_us) / floor_us, 2),
        "messages_per_second": round(1e6 / (protect_us + unprotect_us)),
    }


def _time_distinct(receiver: Receiver, messages: list[bytes]) -> float:
    """Unprotect distinct messages (so replay detection stays on); best of three batches."""
    batch = max(10, len(messages) // 4)
    best = float("inf")
    for round_ in range(3):
        chunk = messages[round_ * batch : (round_ + 1) * batch]
        t0 = time.perf_counter()
        for message in chunk:
            receiver.unprotect(message).to_bytes()  # bytes in, bytes out, as the WSS4J driver measures
        best = min(best, (time.perf_counter() - t0) / len(chunk))
    return best * 1e6


def run(seconds: float = 2.0) -> dict[str, Any]:
    small = measure(1024, seconds)
    large = measure(10 * 1024, seconds)
    return {**small, "10k": large, "core": compiled.active()}


#: what ``render`` says when the compiled core is not installed (once, after the table)
CORE_ABSENT = (
    "The compiled core (wssc._core) is not installed: these figures are the Python path's, which is slower. "
    "To get the core, reinstall with a Rust toolchain (cargo) on PATH: pip install ."
)


def core_note(core: str) -> str:
    """One line on the path measured: the core, the Python path because the core is absent, or forced."""
    if core == "rust":
        return "core: rust (wssc._core, the compiled core)"
    if not compiled.installed():
        return CORE_ABSENT
    return f"core: python (the compiled core is installed; {compiled.PURE_PYTHON_ENV} forces the Python path)"


def render(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="wssc bench (Basic256, sign + encrypt, derived keys, encrypted signature)")
    for column in ("body", "protected", "protect µs", "unprotect µs", "XML floor µs", "ratio", "msg/s"):
        table.add_column(column, justify="right")
    for row in (results, results["10k"]):
        table.add_row(
            str(row["body_bytes"]),
            str(row["protected_bytes"]),
            str(row["protect_us"]),
            str(row["unprotect_us"]),
            str(row["floor_us"]),
            str(row["ratio"]),
            str(row["messages_per_second"]),
        )
    console = Console()
    console.print(table)
    console.print("floor = lxml parse + exclusive c14n + serialise of the plain and the protected envelope")
    console.print(core_note(str(results.get("core", compiled.active()))), soft_wrap=True, markup=False)

"""Where an unprotect's time goes, on the messages of ``benchmarks/wss4j_bench.py`` (1 KB and 10 KB Bodies, the
default ``ProtectionPolicy``, one context): the compiled core alone (``wssc._core.Incoming.parse`` +
``verify``), ``Receiver.unprotect`` through the core without and with replay detection (the glue, then the
replay check), and the Python path's ``Receiver.unprotect``.  Every message is distinct (replay detection
stays on where it is measured); each figure is the best of five batches, in microseconds a message::

    python3 benchmarks/bench_unprotect.py
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wss4j_bench import make_envelope

from wssc.security import compiled, compiled_unprotect
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken


def _best(messages: list[bytes], batches: int, work: Callable[[bytes], object]) -> float:
    """Microseconds a message, best of ``batches`` batches, each of messages not seen before."""
    size = len(messages) // batches
    best = float("inf")
    for n in range(batches):
        batch = messages[n * size : (n + 1) * size]
        started = time.perf_counter()
        for message in batch:
            work(message)
        best = min(best, (time.perf_counter() - started) / len(batch))
    return best * 1e6


def main() -> None:
    core = compiled.core()
    if core is None:
        sys.exit("the compiled core (wssc._core) is not installed, or WSSC_PURE_PYTHON is set")
    sct = SecurityContextToken("urn:uuid:bench", wsu_id="SCT-1")
    key = os.urandom(32)
    keys = StaticKeys({sct.identifier: key})
    now = datetime.now(timezone.utc)
    settings = compiled_unprotect.Prepared(core, Receiver(keys).limits, Requirements()).settings

    def core_alone(message: bytes) -> object:
        return core.Incoming.parse(message, settings).verify([key], settings, lambda _value: None)

    without_replay = Receiver(keys, Requirements(detect_replays=False))
    with_replay = Receiver(keys)
    python_path = Receiver(keys)
    for size, count in ((1024, 1000), (10240, 500)):
        plain = make_envelope(size)
        messages = [protect(plain, ContextProtection(sct, key)).data for _ in range(count * 16)]
        parts = [messages[n * count * 5 : (n + 1) * count * 5] for n in range(3)]
        core_us = _best(parts[0], 5, core_alone)
        glue_us = _best(parts[1], 5, lambda m: without_replay.unprotect(m, now=now).to_bytes())
        replay_us = _best(parts[2], 5, lambda m: with_replay.unprotect(m, now=now).to_bytes())
        with compiled.forced_python():
            python_us = _best(messages[count * 15 :], 1, lambda m: python_path.unprotect(m, now=now).to_bytes())
        print(
            f"Body {size} B (message {len(messages[0])} B): core alone {core_us:.1f} us | Receiver, no replay "
            f"detection {glue_us:.1f} us (glue {glue_us - core_us:.1f}) | with replay detection {replay_us:.1f} us "
            f"(replay check {replay_us - glue_us:.1f}) | Python path {python_us:.0f} us"
        )


if __name__ == "__main__":
    main()

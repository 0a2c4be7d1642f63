"""CPU time of the compiled unprotect (``wssc._core.Incoming.parse`` + ``verify``) against the Python path's
``Receiver.unprotect``, on the messages of ``benchmarks/wss4j_bench.py`` (1 KB and 10 KB Bodies, the default
``ProtectionPolicy``, the bench's context and key).  Process CPU time, best of five rounds, so that other
load on the machine inflates the figures less than wall time would::

    PYTHONPATH=$PWD/src python3 rust/tests_py/bench_unprotect.py
"""

import dataclasses
import datetime as dt
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.wss4j_bench import BENCH_KEY, CONTEXT_ID, make_envelope

from wssc import _core
from wssc.limits import DEFAULT_LIMITS
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken


def _limits() -> dict[str, float]:
    out = {}
    for f in dataclasses.fields(DEFAULT_LIMITS):
        value = getattr(DEFAULT_LIMITS, f.name)
        out[f.name] = value.total_seconds() if isinstance(value, dt.timedelta) else value
    return out


def main() -> None:
    sct = SecurityContextToken(CONTEXT_ID, wsu_id="SCT-1")
    limits = _limits()
    policy = {"signature_methods": None, "digests": None, "ciphers": None, "encrypted_signature": True}
    receiver = Receiver(StaticKeys({CONTEXT_ID: BENCH_KEY}), Requirements(detect_replays=False))
    for size, n in ((1024, 20000), (10240, 5000)):
        msg = protect(make_envelope(size), ContextProtection(sct, BENCH_KEY)).data

        def core_unprotect(msg: bytes = msg) -> dict:
            return _core.Incoming.parse(msg, limits).verify([BENCH_KEY], policy)

        core_unprotect()
        timer = time.process_time
        core_us = min(timeit.repeat(core_unprotect, number=n, repeat=5, timer=timer)) / n * 1e6
        parse_us = (
            min(timeit.repeat(lambda msg=msg: _core.Incoming.parse(msg, limits), number=n, repeat=5, timer=timer)) / n
        )
        python_us = min(timeit.repeat(lambda msg=msg: receiver.unprotect(msg), number=300, repeat=5, timer=timer)) / 300
        print(
            f"Body {size} B (message {len(msg)} B): core parse + verify {core_us:.1f} us "
            f"(parse {parse_us * 1e6:.1f} us); Python Receiver.unprotect {python_us * 1e6:.0f} us"
        )


if __name__ == "__main__":
    main()

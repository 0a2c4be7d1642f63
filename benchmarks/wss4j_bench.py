"""Apache WSS4J 1.6 reference timings for WS-SecureConversation messages.

Builds the interop driver (``tests/interop/java/WssDriver.java``), starts one
JVM and lets it time, single-threaded and after JIT warm-up, WSS4J's
protect / unprotect / protect+unprotect of a SOAP 1.1 envelope (Timestamp,
SCT, two P_SHA1 DKTs, HMAC-SHA1 signature over Timestamp+Body, AES-CBC
encryption of Body content and of the signature).  Timings are taken inside
the JVM with ``System.nanoTime`` and cover bytes in -> bytes out (XML parsing
and serialization included).

    python benchmarks/wss4j_bench.py            # 1 KB and 10 KB bodies, JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
INTEROP_DIR = REPO_ROOT / "tests" / "interop"
BUILD_DIR = INTEROP_DIR / ".build"

if str(INTEROP_DIR) not in sys.path:
    sys.path.insert(0, str(INTEROP_DIR))

from wss4j import WSS4J, build_driver  # noqa: E402

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
CONTEXT_ID = "urn:uuid:00000000-0000-4000-8000-000000000001"
#: fixed 32-byte SCT secret -> Basic256 (24-byte signature DKT, AES-256)
BENCH_KEY = bytes(range(32))


def make_body(body_size: int) -> str:
    """Deterministic Body content of exactly *body_size* UTF-8 bytes."""
    head = '<ns:echo xmlns:ns="urn:example">'
    tail = "</ns:echo>"
    room = body_size - len(head) - len(tail)
    if room < 0:
        raise ValueError(f"body_size must be >= {len(head) + len(tail)}")
    items: list[str] = []
    used = 0
    i = 0
    while True:
        item = f'<ns:item n="{i}">lorem ipsum dolor sit amet {i:06d}</ns:item>'
        if used + len(item) > room:
            break
        items.append(item)
        used += len(item)
        i += 1
    items.append("x" * (room - used))
    body = head + "".join(items) + tail
    assert len(body.encode()) == body_size
    return body


def make_envelope(body_size: int, soap_ns: str = SOAP11) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{soap_ns}"><soap:Header/>'
        f"<soap:Body>{make_body(body_size)}</soap:Body></soap:Envelope>"
    ).encode()


def run_wss4j_bench(
    body_size: int,
    *,
    warmup: int = 5000,
    iterations: int = 2000,
    max_warmup_seconds: float = 90.0,
    mode: str = "both",
    wss4j: WSS4J | None = None,
) -> dict[str, Any]:
    """WSS4J timings (microseconds per message) for a *body_size*-byte Body.

    Returns the driver's result: ``protect_us``, ``unprotect_us``,
    ``roundtrip_us`` (medians of 5 rounds; ``*_min`` are the best rounds)
    plus the parameters used.  Pass a running ``wss4j``
    to reuse one JVM across calls.
    """
    own = wss4j is None
    driver = wss4j if wss4j is not None else WSS4J(build_driver(BUILD_DIR))
    try:
        result = driver.bench(
            make_envelope(body_size),
            key=BENCH_KEY,
            context_id=CONTEXT_ID,
            warmup=warmup,
            iterations=iterations,
            max_warmup_seconds=max_warmup_seconds,
            mode=mode,  # type: ignore[arg-type]
        )
    finally:
        if own:
            driver.close()
    result = {k: v for k, v in result.items() if k not in ("ok", "error", "id")}
    result["body_size"] = body_size
    result["implementation"] = "wss4j"
    return result


def main() -> None:
    with WSS4J(build_driver(BUILD_DIR)) as driver:
        results = [run_wss4j_bench(size, wss4j=driver) for size in (1024, 10 * 1024)]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

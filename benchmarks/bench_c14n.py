"""Time exclusive c14n per element: the Rust core against lxml, for 1 KB and 10 KB protected envelopes.

    python benchmarks/bench_c14n.py          (wssc installed with its core: pip install . where cargo exists)

Messages: the benchmark's SOAP 1.1 envelopes (benchmarks/wss4j_bench.make_envelope), protected under a
context (Basic256), sign-only (the signed parts are in the clear, as the receiver sees them once decrypted)
and sign + encrypt (the wire message).  For every element with an Id, three figures, in microseconds per
element canonicalized:

- ``lxml tree``: ``etree.tostring(el, method="c14n", exclusive=True)`` on a tree already parsed;
- ``lxml parse+c14n``: parsing the message once and canonicalizing every element with an Id, divided by the
  number of such elements;
- ``rust``: ``wssc._core.exc_c14n(message, id)``, which tokenizes the whole message for each element;
- ``rust one pass``: ``wssc._core.exc_c14n_many(message, [(id, None), ...])``, every element with an Id in
  one pass over the message (as a verifier would canonicalize a SignedInfo's references), divided by their
  number.

Figures only: medians of several rounds, on this machine, in this run.
"""

from __future__ import annotations

import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from wss4j_bench import make_envelope  # noqa: E402

import helpers as h  # noqa: E402 - the test suite's message helpers
from wssc import _core as core  # noqa: E402
from wssc.security.policy import ProtectionPolicy  # noqa: E402

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
COLUMNS = ("lxml tree", "lxml parse+c14n", "rust", "rust one pass")


def per_call_us(fn: Callable[[], object], number: int, rounds: int = 7) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=rounds)) / number * 1e6


def ids(root: etree._Element) -> list[tuple[str, etree._Element]]:
    found = []
    for el in root.iter(etree.Element):
        value = el.get(f"{{{WSU}}}Id") or el.get("Id")
        if value:
            found.append((value, el))
    return found


def timings(data: bytes, number: int) -> tuple[int, list[float]]:
    """Elements with an Id in ``data``, and the four figures (us per element) of the module's docstring."""
    targets = ids(etree.fromstring(data))
    for value, el in targets:  # the two agree before they are timed
        assert core.exc_c14n(data, value, None) == etree.tostring(el, method="c14n", exclusive=True)
    requests = [(value, None) for value, _ in targets]

    def lxml_tree() -> None:
        for _, el in targets:
            etree.tostring(el, method="c14n", exclusive=True)

    def lxml_parse() -> None:
        for _, el in ids(etree.fromstring(data)):
            etree.tostring(el, method="c14n", exclusive=True)

    def rust() -> None:
        for value, _ in targets:
            core.exc_c14n(data, value, None)

    def rust_one_pass() -> None:
        core.exc_c14n_many(data, requests)

    n = len(targets)
    return n, [per_call_us(fn, number) / n for fn in (lxml_tree, lxml_parse, rust, rust_one_pass)]


def main() -> None:
    print(f"{'message':34} {'bytes':>6} {'ids':>4} " + " ".join(f"{c:>16}" for c in COLUMNS) + "  (us per element)")
    for size in (1024, 10 * 1024):
        envelope = make_envelope(size)
        for label, policy in (("sign-only", ProtectionPolicy(encrypt=False)), ("sign+encrypt", ProtectionPolicy())):
            data = h.protect_msg(h.new_context(), policy, soap="1.1", env=envelope)
            n, figures = timings(data, 2000 if size == 1024 else 300)
            name = f"{label} {size // 1024} KB body"
            print(f"{name:34} {len(data):6} {n:4} " + " ".join(f"{f:16.2f}" for f in figures))


if __name__ == "__main__":
    main()

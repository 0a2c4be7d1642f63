"""Time exclusive c14n per element: the Rust core against lxml, for 1 KB and 10 KB protected envelopes.

    PYTHONPATH=/work/main/benchmarks:/work/main/tests python rust/tests_py/bench_c14n.py

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
import timeit

from lxml import etree

import helpers as h
from wssc import _core as core
from wss4j_bench import make_envelope
from wssc.security.policy import ProtectionPolicy

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


def per_call_us(fn, number: int, rounds: int = 7) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=rounds)) / number * 1e6


def ids(root: etree._Element) -> list[tuple[str, etree._Element]]:
    found = []
    for el in root.iter(etree.Element):
        value = el.get(f"{{{WSU}}}Id") or el.get("Id")
        if value:
            found.append((value, el))
    return found


def main() -> None:
    print(f"{'message':34} {'bytes':>6} {'ids':>4} {'lxml tree':>10} {'lxml parse+c14n':>16} {'rust':>8} {'rust one pass':>14}  (us per element)")
    for size in (1024, 10 * 1024):
        envelope = make_envelope(size)
        for label, policy in (("sign-only", ProtectionPolicy(encrypt=False)), ("sign+encrypt", ProtectionPolicy())):
            ctx = h.new_context()
            data = h.protect_msg(ctx, policy, soap="1.1", env=envelope)
            root = etree.fromstring(data)
            targets = ids(root)
            for value, el in targets:  # the two agree before they are timed
                assert core.exc_c14n(data, value, None) == etree.tostring(el, method="c14n", exclusive=True)
            n = len(targets)

            def lxml_tree() -> None:
                for _, el in targets:
                    etree.tostring(el, method="c14n", exclusive=True)

            def lxml_parse() -> None:
                tree = etree.fromstring(data)
                for _, el in ids(tree):
                    etree.tostring(el, method="c14n", exclusive=True)

            def rust() -> None:
                for value, _ in targets:
                    core.exc_c14n(data, value, None)

            requests = [(value, None) for value, _ in targets]

            def rust_one_pass() -> None:
                core.exc_c14n_many(data, requests)

            number = 2000 if size == 1024 else 300
            a = per_call_us(lxml_tree, number) / n
            b = per_call_us(lxml_parse, number) / n
            c = per_call_us(rust, number) / n
            d = per_call_us(rust_one_pass, number) / n
            print(f"{label + ' ' + str(size // 1024) + ' KB body':34} {len(data):6} {n:4} {a:10.2f} {b:16.2f} {c:8.2f} {d:14.2f}")


if __name__ == "__main__":
    main()

"""Mutated context-protected messages through the compiled unprotect and the Python path (docs/core.md).

Usage (from the repository root, the extension built into src/wssc)::

    PYTHONPATH=$PWD/src python3 rust/tests_py/mutate_unprotect.py CASES [SEED]

Each case is a message of ``tests/core/test_core_unprotect.py``'s option matrix, mutated once or twice
(a byte, an element removed, duplicated, moved, swapped or wrapped, an attribute or text changed, a PI or
comment added, namespace and id games, Security children duplicated or reordered), then given to both.
Printed: every message the core accepts and the Python path refuses (other than for what the glue checks:
the Timestamp's times, a message neither signed nor encrypted), every accepted message whose Body differs,
every exception other than ``Declined``; then the counts, and why the core declined what Python accepted.
"""

import contextlib
import copy
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "core")]

import test_core_unprotect as T  # noqa: E402
from lxml import etree  # noqa: E402

from wssc import namespaces as ns  # noqa: E402
from wssc.primitives.xml import c14n  # noqa: E402

core = T.core
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)  # noqa: S311 (reproducible mutations)


def mutate(data: bytes) -> bytes:
    op = rng.randrange(12)
    if op == 0:  # byte change
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.choice(b"AZaz09+/= <>\"'&;:#xX_-")]) + data[i + 1 :]
    root = etree.fromstring(data)
    els = [e for e in root.iter() if isinstance(e.tag, str) and e is not root]
    el = rng.choice(els)
    parent = el.getparent()
    if op == 1:
        parent.remove(el)
    elif op == 2:
        parent.insert(parent.index(el), copy.deepcopy(el))
    elif op == 3:  # move to another parent
        target = rng.choice(els)
        if el in list(target.iterancestors()) or target is el:
            return data
        parent.remove(el)
        target.append(el)
    elif op == 4:  # swap with sibling
        sibs = [c for c in parent if isinstance(c.tag, str)]
        if len(sibs) < 2:
            return data
        other = rng.choice(sibs)
        i, j = parent.index(el), parent.index(other)
        parent.remove(el)
        parent.insert(j, el)
    elif op == 5:  # attribute change
        if el.attrib:
            k = rng.choice(list(el.attrib))
            v = el.get(k)
            choice = rng.randrange(3)
            if choice == 0:
                del el.attrib[k]
            elif choice == 1:
                el.set(k, v + "x")
            else:
                other = rng.choice(els)
                for a in ("Id", ns.WSU_ID):
                    if other.get(a):
                        el.set(k, other.get(a))
                        break
    elif op == 6:  # text change
        if el.text:
            t = el.text
            i = rng.randrange(len(t))
            el.text = t[:i] + rng.choice("ABxyz0 \n") + t[i + 1 :]
    elif op == 7:  # wrap in another element
        w = etree.Element("{urn:x}w")
        parent.replace(el, w)
        w.append(el)
    elif op == 8:  # processing instruction or comment next to it
        el.addprevious(etree.PI("pi", "x") if rng.random() < 0.5 else etree.Comment("c"))
    elif op == 9:  # byte-level games on the serialisation
        out = etree.tostring(root)
        games = [
            (b"<s:Body", b'<s:Body xmlns="urn:d"'),
            (b"<s:Header>", b"<s:Header><?p x?>"),
            (b"xmlns:wsse=", b'xmlns:wsse2="urn:x" xmlns:wsse='),
            (b'URI="#', b'URI="#x'),
            (b'Id="', b'Id="x'),
            (b"<xenc:CipherValue>", b"<xenc:CipherValue><![CDATA["),
        ]
        a, b = rng.choice(games)
        return out.replace(a, b, 1)
    elif op == 10:  # duplicate a Security child
        sec = root.find(f".//{{{ns.WSSE}}}Security")
        if sec is not None and len(sec):
            c = rng.choice(list(sec))
            sec.insert(rng.randrange(len(sec) + 1), copy.deepcopy(c))
    elif op == 11:  # move a Security child elsewhere in the Security header
        sec = root.find(f".//{{{ns.WSSE}}}Security")
        if sec is not None and len(sec) > 1:
            c = rng.choice(list(sec))
            sec.remove(c)
            sec.insert(rng.randrange(len(sec) + 1), c)
    return etree.tostring(root)


glue_words = ("time value", "Timestamp", "neither signed nor encrypted", "replay")
stats = dict(both=0, core_declined=0, py_refused_core_declined=0, skip=0)
N = int(sys.argv[1])
reasons = {}
for n in range(N):
    case = rng.choice(T.CASES)
    data, sct, key = T.make_case(case)
    for _ in range(rng.randrange(1, 3)):
        with contextlib.suppress(Exception):  # a mutation that does not apply leaves the message as it is
            data = mutate(data)
    try:
        vm = T.python_view(data, sct, key, case)
        perr = None
    except Exception as e:
        vm = None
        perr = e
    try:
        inc, rec = T.core_record(data, sct, key, case.policy.suite)
        cerr = None
    except core.Declined as e:
        rec = None
        cerr = e
    except Exception as e:
        print("CORE CRASH", type(e), e)
        rec = None
        cerr = e
    if rec is None:
        stats["core_declined" if perr is None else "py_refused_core_declined"] += 1
        if perr is None:
            reasons[str(cerr)] = reasons.get(str(cerr), 0) + 1
        continue
    if perr is not None:
        if any(w in str(perr) for w in glue_words) or (rec["signature"] is None and not rec["decryption"]):
            stats["skip"] += 1
            continue
        print("CORE ACCEPTS, PYTHON REFUSES:", type(perr).__name__, perr, case)
        Path(f"mutant-accepted-{n}.xml").write_bytes(data)
        continue
    stats["both"] += 1
    out = etree.fromstring(rec["output"])
    if c14n(out[-1]) != c14n(vm.body):
        print("BODY DIFFERS", case)
        Path(f"mutant-body-{n}.xml").write_bytes(data)
print(stats)
print(reasons)

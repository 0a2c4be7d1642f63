"""The differential harness that holds the compiled core (docs/core.md) to the Python path.

A case is a random SOAP envelope (:mod:`diff_messages`) protected by :func:`wssc.security.protect.protect`
under a random :class:`ProtectionPolicy`, WS-SC version, SCT form (in the header by ``#id`` or by
Identifier, or external) and signature confirmations -- on the core side or the Python side, chosen per
case, so that both protects are exercised -- then often mutated (:mod:`diff_mutations`), and received by
``Receiver(StaticKeys(...), Requirements(...))`` twice over the same bytes and the same ``now``: once under
:func:`wssc.security.compiled.forced_python` and once as the library chooses (the core when it is
installed), each with a fresh Receiver, so a fresh replay cache.  The two outcomes must be equal:

- a fault: the exception class and its fault code (``wssc.errors``);
- an acceptance: the verified view, :func:`view`, every field of the VerifiedMessage made comparable
  (canonical forms of envelope, header, body, payload and every signed element; names; algorithms;
  context; timestamp; signature value and key; confirmations; header contexts; username tokens; the header
  blocks, payload names and payload Canonical XML the core hands over without a tree);
- anything else out of either side (an exception that is not a WsscError) is a crash, never a pass.

Only public functions are called; the harness does not know whether the core is installed, except to count,
when it is, how often ``wssc._core`` accepted a message itself and how often it declined it (its coverage:
of the messages the Python path accepts, the fraction the core decided alone).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import diff_messages as gen
import diff_mutations
from cryptography.hazmat.primitives import hashes
from diff_core_counts import install_counters, traced
from lxml import etree

from wssc.errors import InvalidSecurity, WsscError
from wssc.primitives.xml import c14n
from wssc.security import compiled
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.result import VerifiedMessage
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken
from wssc.versions import VERSIONS

BASE_TIME = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


@dataclass
class Receipt:
    """Everything a receiving side needs: the bytes, the keys, the requirements and the clock (picklable,
    so a disagreeing case can be saved and replayed)."""

    data: bytes
    contexts: dict[str, bytes]
    instances: dict[tuple[str, str | None], bytes]
    requirements: Requirements
    now: datetime
    #: how the case was made, for a human reading a failure
    story: list[str] = field(default_factory=list)
    #: a control: protected, unchanged, the right keys, requirements that match the policy, received at once;
    #: the Python path must accept it (else the protect that made it, or the generator, is wrong)
    control: bool = False
    #: the envelope before protection, and the policy it was protected under
    envelope: bytes = b""
    policy: ProtectionPolicy | None = None
    #: the traceback of a protect that raised something else than a WsscError or a ValueError (a crash)
    protect_crash: str | None = None

    def receiver(self) -> Receiver:
        return Receiver(StaticKeys(self.contexts, instances=self.instances), self.requirements)


Outcome = tuple[Any, ...]


@dataclass
class Result:
    receipt: Receipt
    python: Outcome
    core: Outcome
    #: what wssc._core did on the core side: "accepted", "declined", or "" (not installed / not reached)
    core_path: str = ""
    #: a protect that raised on the chosen side and differently on the other
    protect_mismatch: str | None = None

    @property
    def crash(self) -> bool:
        return self.python[0] == "crash" or self.core[0] == "crash" or self.receipt.protect_crash is not None

    @property
    def control_failed(self) -> bool:
        """A control case (:attr:`Receipt.control`) the Python path refused."""
        return self.receipt.control and self.python[0] != "ok"

    @property
    def failed(self) -> bool:
        return self.crash or self.disagreement or self.control_failed

    @property
    def disagreement(self) -> bool:
        return _compared(self.python) != _compared(self.core) or self.protect_mismatch is not None


def _compared(out: Outcome) -> Outcome:
    """What must be equal: a fault's class and codes (not its detail text), or the whole verified view."""
    return out[:4] if out[0] == "fault" else out


def _side(name: str) -> contextlib.AbstractContextManager[None]:
    return compiled.forced_python() if name == "python" else contextlib.nullcontext()


def _id_values(data: bytes) -> list[str]:
    """The values of the ``Id`` attributes (any prefix) of ``data`` as a parser reads them: two raw values can
    be one value (``"a&amp;b"`` and ``'a&#38;b'``, quotes escaped or not)."""
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError:  # not XML: compared as written
        return [(dq or sq).decode() for dq, sq in re.findall(rb"""[\s:]Id=(?:"([^"]*)"|'([^']*)')""", data)]
    return [
        value
        for el in root.iter()
        if isinstance(el.tag, str)
        for name, value in el.attrib.items()
        if name.rpartition("}")[2] == "Id"
    ]


def generate(r: gen.Source) -> Receipt:
    """One random case, protected and perhaps mutated."""
    spec = gen.envelope(gen.seeded(r))
    version = r.choice(VERSIONS)
    style = r.choice(("local", "local", "identifier", "external"))
    identifier = r.choice(("urn:uuid:", "uuid:", "http://example.org/ctx/")) + r.randbytes(6).hex()
    instance = r.choice((None, None, "1", "urn:instance:" + r.randbytes(2).hex()))
    wsu_id = None if style != "local" and r.random() < 0.3 else "SCT-" + r.randbytes(3).hex()
    sct = SecurityContextToken(identifier, instance, wsu_id, version)
    policy = gen.policy(r, spec.headers)
    # A key used directly must fit the cipher (a wrong length is protect's refusal, so rarely); derived keys
    # come from a secret of any length.
    fits = policy.encrypt and not policy.derived_keys and r.random() < 0.95
    key = r.randbytes(policy.suite.encryption_key_length if fits else r.choice((16, 24, 32, 32, 64)))
    confirmations = tuple(
        None if r.random() < 0.3 else r.randbytes(r.choice((20, 32))) for _ in range(r.choice((0, 0, 0, 1, 2)))
    )
    side = r.choice(("python", "core"))
    protect_now = BASE_TIME + timedelta(seconds=r.randint(0, 10_000_000))
    story = [f"soap {spec.soap}, {version.name}, SCT {style} (instance {instance!r}, id {wsu_id!r}), key {len(key)}"]
    story.append(f"{policy}")
    story.append(f"confirmations {len(confirmations)}, protected on the {side} side")
    data = spec.data
    mismatch = None
    refused = False
    crash = None
    try:
        with _side(side):
            data = protect(
                spec.data, ContextProtection(sct, key, style), policy, version=version, now=protect_now,  # type: ignore[arg-type]
                signature_confirmations=confirmations,
            ).data  # fmt: skip
    except Exception as exc:
        refused = True
        story.append(f"protect refused: {type(exc).__name__}: {exc}")
        if not isinstance(exc, (WsscError, ValueError)):  # protect's own refusals; anything else is a crash
            crash = traceback.format_exc()
        other = "core" if side == "python" else "python"
        try:
            with _side(other):
                protect(
                    spec.data, ContextProtection(sct, key, style), policy, version=version, now=protect_now,  # type: ignore[arg-type]
                    signature_confirmations=confirmations,
                )  # fmt: skip
            mismatch = f"protect: {type(exc).__name__} on the {side} side, accepted on the {other}"
        except Exception as exc2:
            if not isinstance(exc2, (WsscError, ValueError)):
                crash = traceback.format_exc()
            if type(exc2) is not type(exc):
                mismatch = f"protect: {type(exc).__name__} on the {side} side, {type(exc2).__name__} on the {other}"
    # drawn from a seed: the protected bytes (ids, IVs) differ from run to run, and hypothesis must see the same
    # number of draws when it replays a case
    data, mutations = diff_mutations.mutate(data, gen.seeded(r))
    story.extend(mutations)
    contexts, instances, right_keys = _keys(r, identifier, instance, key, story)
    requirements, matching = gen.requirements(r, policy, spec.headers, identifier)
    story.append(f"{requirements}")
    ttl = policy.timestamp_ttl
    offset = r.choice(
        (timedelta(0), timedelta(0), timedelta(0), timedelta(seconds=1), timedelta(seconds=1),
         ttl + requirements.max_clock_skew + timedelta(seconds=1), -requirements.max_clock_skew - timedelta(seconds=1),
         timedelta(hours=2), ttl)
    )  # fmt: skip
    # (a policy that signs and finds nothing to sign makes a SignedInfo without references, which the Python
    # path refuses: no control)
    signs_something = not policy.sign or policy.include_timestamp or policy.sign_body
    # (two elements with one wsu:Id or Id: the Python path refuses that, rightly: no control)
    ids = _id_values(spec.data)
    control = (
        matching
        and right_keys
        and not mutations
        and offset == timedelta(0)
        and not refused
        and signs_something
        and len(ids) == len(set(ids))
    )
    receipt = Receipt(
        data, contexts, instances, requirements, protect_now + offset, story, control, spec.data, policy, crash
    )
    receipt.story.append(f"received {offset} after protection")
    if mismatch is not None:
        receipt.story.append(mismatch)
    return receipt


def _keys(
    r: gen.Source, identifier: str, instance: str | None, key: bytes, story: list[str]
) -> tuple[dict[str, bytes], dict[tuple[str, str | None], bytes], bool]:
    mode = r.choice(("right",) * 6 + ("instance", "wrong-key", "unknown", "wrong-instance"))
    story.append(f"receiver keys: {mode}")
    if mode == "instance":
        return {}, {(identifier, instance): key}, True
    if mode == "wrong-key":
        return {identifier: bytes(b ^ 1 for b in key)}, {}, False
    if mode == "unknown":
        return {identifier + "x": key}, {}, False
    if mode == "wrong-instance":
        return {}, {(identifier, "other"): key}, instance == "other"
    return {identifier: key}, {}, True


# --- the verified view -------------------------------------------------------------------------------------


def _c14n(element: etree._Element | None) -> bytes | str | None:
    """The canonical form, or a marker where c14n refuses the element (a relative namespace URI in an unsigned
    part: the Python path accepts such a message, and the core must show the same)."""
    if element is None:
        return None
    try:
        return c14n(element)
    except InvalidSecurity:
        return "<c14n refused>"


def _reparsed(data: bytes) -> bytes | str | None:
    """What a parser reading ``VerifiedMessage.to_bytes()`` sees, canonical (docs/core.md: the application
    reads only bytes the core wrote)."""
    try:
        return _c14n(etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True)))
    except etree.XMLSyntaxError as exc:
        return f"<not well-formed: {exc}>"


def _context(ref: Any) -> tuple[Any, ...] | None:
    return None if ref is None else (ref.identifier, ref.instance, None if ref.version is None else ref.version.name)


def _key(origin: Any) -> tuple[Any, ...] | None:
    if origin is None:
        return None
    secret = None if origin.base_secret is None else hashlib.sha256(origin.base_secret).hexdigest()
    cert = None if origin.certificate is None else origin.certificate.fingerprint(hashes.SHA256()).hex()
    return (origin.kind, _context(origin.context), origin.derived, secret, origin.encrypted_key_sha1, cert)


def view(vm: VerifiedMessage) -> dict[str, Any]:
    """Every field of a VerifiedMessage, as comparable values."""
    sig = vm.signature
    ts = vm.timestamp
    return {
        "soap": vm.soap.name,
        "envelope": _c14n(vm.envelope),
        "header": _c14n(vm.header),
        "body": _c14n(vm.body),
        "payload": [_c14n(e) for e in vm.payload()],
        # read without a tree where the core verified (its record), from the view on the Python path
        "header_blocks": list(vm.header_blocks()),
        "payload_tags": list(vm.payload_tags()),
        "payload_xml": list(vm.payload_xml()),
        "bytes": _reparsed(vm.to_bytes()),
        "signed": [(etree.QName(e).text, _c14n(e)) for e in vm.signed],
        "signed_names": vm.signed_names,
        "encrypted": [(etree.QName(e).text, _c14n(e)) for e in vm.encrypted],
        "encrypted_names": vm.encrypted_names,
        "algorithms": dict(vm.algorithms),
        "context": _context(vm.context),
        "timestamp": None if ts is None else (ts.created.isoformat(), ts.expires and ts.expires.isoformat(), ts.wsu_id),
        "signature_value": vm.signature_value,
        "signature": None
        if sig is None
        else (sig.method, sig.digest, [uri for uri, _ in sig.references], repr(sig.key_reference)),
        "signature_key": _key(vm.signature_key),
        "endorsing": [(s.method, s.value, _key(k)) for s, k in vm.endorsing],
        "signature_confirmations": list(vm.signature_confirmations),
        "header_contexts": sorted(vm.header_contexts.items()),
        "username_tokens": [(repr(t.token), t.token.password, t.signed, t.encrypted) for t in vm.username_tokens],
    }


def outcome(call: Callable[[], VerifiedMessage]) -> Outcome:
    try:
        vm = call()
    except WsscError as exc:
        # the detail (index 4) is for the human reading a failure; it is not compared
        return ("fault", type(exc).__name__, f"{exc.code_kind}:{exc.code}", exc.fault_code, exc.detail)
    except Exception:
        return ("crash", traceback.format_exc())
    try:
        return ("ok", view(vm))
    except Exception:
        return ("crash", "computing the view: " + traceback.format_exc())


def run(receipt: Receipt, *, protect_mismatch: str | None = None) -> Result:
    """Receive ``receipt`` on both sides and return both outcomes."""
    with compiled.forced_python():
        python = outcome(lambda: receipt.receiver().unprotect(receipt.data, now=receipt.now))
    with traced() as events:
        core = outcome(lambda: receipt.receiver().unprotect(receipt.data, now=receipt.now))
    path = "accepted" if "accepted" in events and "declined" not in events else ("declined" if events else "")
    return Result(receipt, python, core, path, protect_mismatch)


def case(seed: int, index: int) -> Result:
    """Case ``index`` of the plain-random run ``seed`` (its draws are a function of both alone; protect's own
    ids, nonces and IVs are not, so the bytes differ from run to run)."""
    receipt = generate(random.Random(f"{seed}:{index}"))
    mismatch = next((line for line in receipt.story if line.startswith("protect: ")), None)
    return run(receipt, protect_mismatch=mismatch)


@dataclass
class Tally:
    cases: int = 0
    disagreements: int = 0
    crashes: int = 0
    control_failures: int = 0
    controls: int = 0
    python_accepted: int = 0
    core_accepted: int = 0
    core_declined: int = 0
    #: of the messages the Python path accepted, how many the core accepted itself
    core_accepted_of_python_accepted: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def add(self, result: Result) -> None:
        self.cases += 1
        self.crashes += result.crash
        self.disagreements += result.disagreement and not result.crash
        self.controls += result.receipt.control
        self.control_failures += result.control_failed
        python_ok = result.python[0] == "ok"
        self.python_accepted += python_ok
        self.core_accepted += result.core_path == "accepted"
        self.core_declined += result.core_path == "declined"
        self.core_accepted_of_python_accepted += python_ok and result.core_path == "accepted"
        key = "ok" if python_ok else str(result.python[1])
        self.faults[key] = self.faults.get(key, 0) + 1

    def merge(self, other: Tally) -> None:
        for name in ("cases", "disagreements", "crashes", "control_failures", "controls", "python_accepted",
                     "core_accepted", "core_declined", "core_accepted_of_python_accepted"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, n in other.faults.items():
            self.faults[key] = self.faults.get(key, 0) + n


def explain(result: Result) -> str:
    """A failing case for a human: how it was made, and both outcomes where they differ."""
    lines = ["\n".join(result.receipt.story)]
    if result.control_failed:
        lines.append("a control case (should be accepted) was refused by the Python path")
    if result.protect_mismatch:
        lines.append(result.protect_mismatch)
    if result.receipt.protect_crash:
        lines.append("protect crashed: " + result.receipt.protect_crash)
    for name, out in (("python", result.python), ("core", result.core)):
        if out[0] == "ok":
            other = result.core if name == "python" else result.python
            diff = {k: v for k, v in out[1].items() if other[0] != "ok" or other[1].get(k) != v}
            lines.append(f"{name}: accepted; fields differing: {diff if other[0] == 'ok' else '(other refused)'}")
        else:
            lines.append(f"{name}: {out if out[0] == 'fault' else out[1]}")
    lines.append(f"core path: {result.core_path or '-'}")
    return "\n".join(lines)


@dataclass
class Failure:
    index: int
    receipt: Receipt
    explanation: str


def run_chunk(seed: int, start: int, stop: int, keep: int) -> tuple[Tally, list[Failure]]:
    """Cases ``start`` to ``stop`` of run ``seed`` (a worker of ``scripts/differential-core``): the tally and at
    most ``keep`` failing cases."""
    install_counters()
    tally = Tally()
    failures: list[Failure] = []
    for index in range(start, stop):
        result = case(seed, index)
        tally.add(result)
        if result.failed and len(failures) < keep:
            failures.append(Failure(index, result.receipt, explain(result)))
    return tally, failures

"""The compiled unprotect (``wssc._core.Incoming``, docs/core.md) against the Python path.

For messages the Python ``protect`` makes under a context, over the options of ``ProtectionPolicy``, the
suites, both SOAP versions, both WS-SC versions and the three ways of naming the context, the core accepts
and its record says what ``Receiver.unprotect`` says (what was signed and encrypted, the algorithms, the
Timestamp, the signature value, the context, the confirmations); the Body it writes is the Body the Python
path verified; every digest it reports is the digest of the part lxml reads from its output.  Tampered
messages (a bit of a CipherValue, a DigestValue, a SignatureValue; a wrong key) are declined.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import itertools
import os
import random
from typing import Any

import pytest
from lxml import etree

from helpers import CUSTOM_HEADER, CUSTOM_TAG, envelope
from wssc import namespaces as ns
from wssc.limits import DEFAULT_LIMITS, Limits
from wssc.primitives import algorithms as alg
from wssc.primitives.psha1 import derive_key
from wssc.primitives.xml import c14n
from wssc.primitives.xsdtime import parse_time
from wssc.security import compiled, compiled_unprotect, dsig
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionOrder, ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken, new_identifier
from wssc.versions import DEFAULT_LABEL, SC_1_3, SC_2005_02, SCVersion

core = pytest.importorskip("wssc._core")
if not hasattr(core, "Incoming"):
    pytest.skip("this wssc._core has no Incoming", allow_module_level=True)

SUITES = (alg.BASIC128, alg.BASIC256, alg.BASIC256_SHA256, alg.BASIC128_SHA256, alg.SUITES["Basic192"])
PERMISSIVE = Requirements(
    signature=False,
    signed_body=False,
    protected_body=False,
    timestamp=False,
    signed_timestamp=False,
    signed_addressing_headers=False,
    detect_replays=False,
)
_DIGESTS = {alg.SHA1: hashlib.sha1, alg.SHA256: hashlib.sha256}


def parse_settings(limits: Limits = DEFAULT_LIMITS) -> Any:
    """The core's settings with ``limits`` (what ``Incoming.parse`` reads of them)."""
    return core.Settings(compiled_unprotect.core_limits(limits), compiled_unprotect.core_policy(Requirements()))


def verify_settings(suite: alg.AlgorithmSuite | None, encrypted_signature: bool = False) -> Any:
    """The core's settings with the policy of ``suite`` (what ``Incoming.verify`` reads of them)."""
    req = Requirements(suite=suite, encrypted_signature=encrypted_signature)
    return core.Settings(compiled_unprotect.core_limits(DEFAULT_LIMITS), compiled_unprotect.core_policy(req))


@dataclasses.dataclass(frozen=True)
class Case:
    policy: ProtectionPolicy
    soap: str
    version: SCVersion
    style: str
    confirmations: tuple[bytes | None, ...]
    custom_header: bool


def make_case(case: Case) -> tuple[bytes, SecurityContextToken, bytes]:
    sct = SecurityContextToken(new_identifier(), wsu_id="SCT-" + os.urandom(4).hex(), version=case.version)
    key = os.urandom(case.policy.suite.encryption_key_length)  # the context key itself may encrypt
    env = envelope(case.soap, extra_headers=CUSTOM_HEADER if case.custom_header else b"")
    token = ContextProtection(sct, key, case.style)  # type: ignore[arg-type]
    with compiled.forced_python():  # messages as the Python path writes them (the core's own: test_core_protect)
        data = protect(env, token, case.policy, version=case.version, signature_confirmations=case.confirmations).data
    return data, sct, key


def _policies() -> list[ProtectionPolicy]:
    """Every option at least once in both states, the layouts in all their combinations, then a sample."""
    out = []
    for sign, encrypt in ((True, True), (True, False), (False, True)):
        for order, enc_sig, derived in itertools.product(ProtectionOrder, (True, False), (True, False)):
            out.append(
                ProtectionPolicy(
                    sign=sign, encrypt=encrypt, order=order, encrypt_signature=enc_sig, derived_keys=derived
                )
            )
    rng = random.Random(11)
    for _ in range(120):
        sign, encrypt = rng.choice(((True, True), (True, False), (False, True)))
        out.append(
            ProtectionPolicy(
                suite=rng.choice(SUITES),
                sign=sign,
                encrypt=encrypt,
                derived_keys=rng.random() < 0.7,
                encrypt_signature=rng.random() < 0.5,
                order=rng.choice(list(ProtectionOrder)),
                include_timestamp=rng.random() < 0.8,
                sign_body=rng.random() < 0.8,
                sign_addressing_headers=rng.random() < 0.7,
                signed_headers=(CUSTOM_TAG,) if rng.random() < 0.3 else (),
                encrypted_headers=(CUSTOM_TAG,) if rng.random() < 0.4 else (),
                protect_tokens=rng.random() < 0.3,
                use_gcm=rng.random() < 0.4,
            )
        )
    return out


def _cases() -> list[Case]:
    rng = random.Random(12)
    cases = []
    for policy in _policies():
        style = rng.choice(("local", "identifier", "external"))
        if policy.protect_tokens and style == "external":
            style = "local"
        confirmations: tuple[bytes | None, ...] = rng.choice(((), (os.urandom(20),), (None,)))
        cases.append(
            Case(policy, rng.choice(("1.1", "1.2")), rng.choice((SC_1_3, SC_2005_02)), style, confirmations, True)
        )
    return cases


CASES = _cases()


def python_view(data: bytes, sct: SecurityContextToken, key: bytes, case: Case) -> Any:
    req = dataclasses.replace(PERMISSIVE, suite=case.policy.suite, encrypted_signature=False)
    with compiled.forced_python():  # the reference: Receiver goes through the core where it is installed
        return Receiver(StaticKeys({sct.identifier: key}), req).unprotect(data)


def core_record(
    data: bytes, sct: SecurityContextToken, key: bytes, suite: alg.AlgorithmSuite | None
) -> tuple[Any, dict[str, Any]]:
    incoming = core.Incoming.parse(data, parse_settings())
    keys = [key if identifier == sct.identifier else os.urandom(32) for identifier, _, _ in incoming.contexts]
    return incoming, incoming.verify(keys, verify_settings(suite), lambda value: None)


def _names(elements: Any) -> list[str]:
    return sorted(el.tag for el in elements if isinstance(el.tag, str))


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_core_agrees_with_the_python_path(case: Case) -> None:
    data, sct, key = make_case(case)
    vm = python_view(data, sct, key, case)
    incoming, record = core_record(data, sct, key, case.policy.suite)

    # the parts signed and encrypted, by name (a decrypted signature, and EncryptedData signed before their
    # decryption, are not parts of the output)
    core_signed = [name for name, signed, _ in record["headers"] if signed] + [
        name for name, _ in record["security_parts"]
    ]
    if record["body"][0]:
        core_signed.append(vm.body.tag)
    python_signed = [t for t in _names(vm.signed) if t != ns.qn(ns.XENC, "EncryptedData")]
    assert sorted(core_signed) == python_signed
    core_encrypted = [name for name, _, encrypted in record["headers"] if encrypted]
    if record["body"][1]:
        core_encrypted.append(vm.body.tag)
    assert sorted(core_encrypted) == [t for t in _names(vm.encrypted) if t != ns.qn(ns.DS, "Signature")]
    assert record["soap"] == vm.soap.namespace

    # algorithms, signature, context, key origins
    algorithms = vm.algorithms
    if vm.signature is None:
        assert record["signature"] is None and record["signature_key"] is None
    else:
        method, digest, value = record["signature"]
        signature_xml = record["signature_xml"]
        assert (method, digest, value) == (algorithms["signature"], algorithms["digest"], vm.signature.value)
        assert etree.fromstring(signature_xml).tag == ns.qn(ns.DS, "Signature")
        index, derived = record["signature_key"]
        assert incoming.contexts[index][0] == vm.signature_key.context.identifier
        assert derived == vm.signature_key.derived
    assert [d[3] for d in record["decryption"]][:1] == (
        [algorithms["encryption"]] if "encryption" in algorithms else []
    )
    if "derivation" in algorithms:
        assert record["derivation"] + "/dk/p_sha1" == algorithms["derivation"]
    assert vm.context is not None and [c[0] for c in incoming.contexts] == [vm.context.identifier]
    assert incoming.contexts[0][2] in (None, vm.context.version.sc if vm.context.version else None)
    assert record["sct_ids"] == dict(vm.header_contexts)
    confirmed = tuple(value for value, signed in record["confirmations"] if signed)
    assert confirmed == vm.signature_confirmations

    # the glue's one-call item is the items above, field for field
    decryption = record["decryption"]
    assert record["accepted"] == (
        record["soap"],
        record["headers"],
        record["body"],
        record["timestamp_signed"],
        record["signature"],
        record["signature_key"],
        tuple((index, derived) for _part, index, derived, _alg in decryption),
        decryption[0][3] if decryption else None,
        record["first_cipher_value"],
        record["derivation"],
        confirmed,
        record["sct_ids"],
        record["output"],
    )

    # the Timestamp
    if vm.timestamp is None:
        assert incoming.timestamp is None
    else:
        created, expires, stamp_id = incoming.timestamp
        assert stamp_id == vm.timestamp.wsu_id
        assert parse_time(created) == vm.timestamp.created
        assert (None if expires is None else parse_time(expires)) == vm.timestamp.expires

    # the output: the Body the Python path verified, and every reported digest is lxml's over the output
    out = etree.fromstring(record["output"])
    body = out[-1]
    assert c14n(body) == c14n(vm.body)
    assert not out.findall(".//" + ns.qn(ns.WSSE, "Security"))
    headers = [h for h in out[0] if isinstance(h.tag, str)] if len(out) == 2 else []
    assert [h.tag for h in headers] == [name for name, _, _ in record["headers"]]
    parts = {("body",): body} | {("header", i): h for i, h in enumerate(headers)}
    assert (
        [wsu_id for _, wsu_id, _, _, _ in record["digests"]] == [r[0] for r in vm.signature.references]
        if vm.signature
        else True
    )
    for part, _wsu_id, digest_uri, value, prefixes in record["digests"]:
        if part[0] == "security":
            canonical = record["security_parts"][part[1]][1]
            assert c14n(etree.fromstring(canonical), prefixes) == canonical
        else:
            canonical = c14n(parts[part], prefixes)
        assert _DIGESTS[digest_uri](canonical).digest() == value


def _flip_in(data: bytes, tag: bytes) -> bytes:
    """Change one base64 character in the first element whose start tag ends with ``tag``."""
    start = data.index(tag + b">") + len(tag) + 1
    ch = data[start + 2 : start + 3]
    return data[: start + 2] + (b"B" if ch != b"B" else b"C") + data[start + 3 :]


TAMPERED_POLICIES = (
    ProtectionPolicy(),
    ProtectionPolicy(encrypt_signature=False),
    ProtectionPolicy(encrypt=False),
    ProtectionPolicy(sign=False),
    ProtectionPolicy(order=ProtectionOrder.ENCRYPT_BEFORE_SIGN, use_gcm=True),
)


@pytest.mark.parametrize("policy", TAMPERED_POLICIES, ids=[str(i) for i in range(len(TAMPERED_POLICIES))])
@pytest.mark.parametrize("where", [b"CipherValue", b"DigestValue", b"SignatureValue", b"key"])
def test_core_declines_tampered_messages(policy: ProtectionPolicy, where: bytes) -> None:
    case = Case(policy, "1.2", SC_1_3, "local", (), False)
    data, sct, key = make_case(case)
    if where == b"key":
        key = os.urandom(len(key))
    elif where not in data:
        pytest.skip("this layout has no such element in clear")
    else:
        data = _flip_in(data, where)
    with pytest.raises(Exception):  # the Python path refuses it  # noqa: B017
        python_view(data, sct, key, case)
    with pytest.raises(core.Declined):
        core_record(data, sct, key, policy.suite)


def test_core_declines_what_lies_outside_the_subset() -> None:
    case = Case(ProtectionPolicy(encrypt=False), "1.1", SC_1_3, "local", (), False)
    data, sct, key = make_case(case)
    core_record(data, sct, key, None)  # accepted as it is
    security = b"<wsse:Security "
    actor = data.replace(security, security + b'soapenv:actor="urn:elsewhere" ', 1)
    second = data.replace(b"</s:Header>", b'<wsse:Security xmlns:wsse="' + ns.WSSE.encode() + b'"/></s:Header>', 1)
    default_ns = data.replace(b"<s:Envelope ", b'<s:Envelope xmlns="urn:default" ', 1)
    rsa = data.replace(alg.HMAC_SHA1.encode(), alg.RSA_SHA1.encode(), 1)
    for variant in (actor, second, default_ns, rsa):
        assert variant != data
        with pytest.raises(core.Declined):
            core_record(variant, sct, key, None)


def test_core_applies_the_suite_and_the_encrypted_signature_requirement() -> None:
    case = Case(ProtectionPolicy(suite=alg.BASIC128, encrypt_signature=False), "1.2", SC_1_3, "local", (), False)
    data, _, key = make_case(case)
    incoming = core.Incoming.parse(data, parse_settings())
    with pytest.raises(core.Declined):
        incoming.verify([key], verify_settings(alg.BASIC256_SHA256), lambda value: None)
    with pytest.raises(core.Declined):
        core.Incoming.parse(data, parse_settings()).verify(
            [key], verify_settings(alg.BASIC128, encrypted_signature=True), lambda value: None
        )
    incoming = core.Incoming.parse(data, parse_settings())
    record = incoming.verify([key], verify_settings(alg.BASIC128), lambda value: None)
    assert record["signature"][0] == alg.HMAC_SHA1
    with pytest.raises(core.Declined):
        incoming.verify([key], verify_settings(alg.BASIC128), lambda value: None)  # once only


def test_core_output_reads_as_what_was_verified() -> None:
    """The Body of the output, as lxml reads it, canonicalises to the digest the core verified."""
    case = Case(ProtectionPolicy(), "1.1", SC_2005_02, "external", (), True)
    data, sct, key = make_case(case)
    _, record = core_record(data, sct, key, None)
    body_value = next(value for part, _, _, value, _ in record["digests"] if part == ("body",))
    assert hashlib.sha1(c14n(etree.fromstring(record["output"])[-1])).digest() == body_value
    assert base64.b64encode(body_value) in record["signature_xml"]


def test_core_output_keeps_declarations_that_only_content_uses() -> None:
    """Exclusive c14n drops a declaration only QName-valued content uses (a fault code in a detail); the output
    is written with the declarations the message has, so the application can still resolve the QName."""
    key = os.urandom(32)
    sct = SecurityContextToken("urn:uuid:qname-content", wsu_id="sct-1")
    envelope = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/>'
        b'<s:Body xmlns:f="urn:faults"><code>f:OutOfStock</code></s:Body></s:Envelope>'
    )
    with compiled.forced_python():
        data = protect(envelope, ContextProtection(sct, key)).data
    incoming = core.Incoming.parse(data, parse_settings())
    record = incoming.verify([key] * len(incoming.contexts), verify_settings(None), lambda value: None)
    body = etree.fromstring(record["output"])[-1]
    assert body.nsmap.get("f") == "urn:faults"


@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
@pytest.mark.parametrize("length", [None, 24])
def test_core_accepts_an_implied_derived_key(version: SCVersion, length: int | None) -> None:
    """An STR with wsc:Nonce (and wsc:Length) implies P_SHA1(context key, label || nonce) (WS-SC 1.3 7.3)."""
    case = Case(ProtectionPolicy(encrypt=False, derived_keys=False), "1.2", version, "local", (), False)
    data, sct, key = make_case(case)
    root = etree.fromstring(data)
    sig = root.find(f".//{{{ns.DS}}}Signature")
    str_el = sig.find(f"{{{ns.DS}}}KeyInfo/{{{ns.WSSE}}}SecurityTokenReference")
    nonce = os.urandom(16)
    str_el.set(version.sc_qname("Nonce"), base64.b64encode(nonce).decode())
    if length is not None:
        str_el.set(version.sc_qname("Length"), str(length))
    derived = derive_key(key, DEFAULT_LABEL.encode(), nonce, length or 32)
    signed_info = sig.find(f"{{{ns.DS}}}SignedInfo")
    value = dsig.hmac_value(alg.HMAC_SHA1, derived, c14n(signed_info))
    sig.find(f"{{{ns.DS}}}SignatureValue").text = base64.b64encode(value).decode()
    data = etree.tostring(root)
    vm = python_view(data, sct, key, case)
    _, record = core_record(data, sct, key, None)
    assert record["signature_key"] == (0, True) and vm.signature_key.derived
    assert record["derivation"] == version.sc
    # the same key under another nonce is refused by both
    str_el.set(version.sc_qname("Nonce"), base64.b64encode(os.urandom(16)).decode())
    with pytest.raises(Exception):  # noqa: B017
        python_view(etree.tostring(root), sct, key, case)
    with pytest.raises(core.Declined):
        core_record(etree.tostring(root), sct, key, None)


def test_core_declines_a_key_derived_from_a_derived_key() -> None:
    """WS-SC 1.3 section 7: the Python path refuses a DerivedKeyToken whose STR names another one."""
    case = Case(ProtectionPolicy(encrypt=False), "1.2", SC_1_3, "local", (), False)
    data, sct, key = make_case(case)
    root = etree.fromstring(data)
    dkt = root.find(f".//{{{SC_1_3.sc}}}DerivedKeyToken")
    second = copy.deepcopy(dkt)
    second.set(ns.WSU_ID, "DK-second")
    ref = second.find(f"{{{ns.WSSE}}}SecurityTokenReference/{{{ns.WSSE}}}Reference")
    ref.set("URI", "#" + dkt.get(ns.WSU_ID))
    dkt.addnext(second)
    sig = root.find(f".//{{{ns.DS}}}Signature")
    sig.find(f"{{{ns.DS}}}KeyInfo/{{{ns.WSSE}}}SecurityTokenReference/{{{ns.WSSE}}}Reference").set("URI", "#DK-second")
    data = etree.tostring(root)
    with pytest.raises(Exception):  # noqa: B017
        python_view(data, sct, key, case)
    with pytest.raises(core.Declined):
        core_record(data, sct, key, None)

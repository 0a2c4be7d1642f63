"""Library-level tests of symmetric message protection: protect -> Receiver.unprotect round trips, what
VerifiedMessage reports, Requirements enforcement, SignatureConfirmation, EncryptedKey protection and
SOAP faults."""

from __future__ import annotations

import base64
import datetime as dt
import os

import pytest
from lxml import etree

from helpers import (
    CUSTOM_HEADER,
    CUSTOM_TAG,
    ENCRYPT_ONLY,
    SIGN_ONLY,
    Context,
    body,
    by_id,
    drop_reference,
    envelope,
    new_context,
    one,
    parse,
    plain_payload_c14n,
    protect_msg,
    resign,
    rsa_identity,
    security,
    signature,
    tostring,
    xp,
)
from wssc import errors
from wssc import namespaces as ns
from wssc.primitives import algorithms as alg
from wssc.primitives.psha1 import derive_key
from wssc.primitives.xml import c14n
from wssc.security import dsig
from wssc.security.faults import fault_envelope, read_fault
from wssc.security.keys import EncryptedKeyProtection, StaticKeys
from wssc.security.policy import ProtectionOrder, ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP11, SOAP12
from wssc.security.unprotect import Receiver, unprotect
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.x509 import X509Token
from wssc.versions import DEFAULT_LABEL, SC_1_3, SC_2005_02, VERSIONS

NOW = dt.datetime.now(dt.timezone.utc)
WSA_NAMES = ["Action", "MessageID", "To"]

# --- round-trip matrix --------------------------------------------------------------------------------------

POLICIES = {
    "default": ProtectionPolicy(),
    "sign-only": SIGN_ONLY,
    "encrypt-only": ENCRYPT_ONLY,
    "encrypt-before-sign": ProtectionPolicy(order=ProtectionOrder.ENCRYPT_BEFORE_SIGN),
    "encrypt-only-ebs": ProtectionPolicy(sign=False, order=ProtectionOrder.ENCRYPT_BEFORE_SIGN),
    "clear-signature": ProtectionPolicy(encrypt_signature=False),
    "gcm": ProtectionPolicy(use_gcm=True),
    "gcm-basic128": ProtectionPolicy(use_gcm=True, suite=alg.BASIC128),
    "no-derived-keys": ProtectionPolicy(derived_keys=False),
    "protect-tokens": ProtectionPolicy(protect_tokens=True),
    "encrypted-headers": ProtectionPolicy(
        encrypted_headers=(CUSTOM_TAG, ns.qn(ns.WSA10, "MessageID")), signed_headers=(CUSTOM_TAG,)
    ),
    "no-timestamp": ProtectionPolicy(include_timestamp=False),
    "Basic128": ProtectionPolicy(suite=alg.BASIC128),
    "Basic256Sha256": ProtectionPolicy(suite=alg.BASIC256_SHA256),
    "Basic128Sha256-sign-only": ProtectionPolicy(suite=alg.BASIC128_SHA256, encrypt=False),
    "Basic192": ProtectionPolicy(suite=alg.suite("Basic192")),
    "TripleDes": ProtectionPolicy(suite=alg.suite("TripleDes")),
}


def requirements_for(policy: ProtectionPolicy, ctx: Context | None = None) -> Requirements:
    """The strictest Requirements the policy's messages should satisfy."""
    return Requirements(
        signature=policy.sign,
        signed_body=policy.sign,
        timestamp=policy.include_timestamp,
        signed_timestamp=policy.sign,
        signed_addressing_headers=policy.sign,
        encrypted_body=policy.encrypt,
        derived_keys=policy.derived_keys,
        suite=policy.suite,
        signed_headers=policy.signed_headers,
        context_identifier=None if ctx is None else ctx.identifier,
    )


def expected_encrypted(policy: ProtectionPolicy) -> list[str]:
    if not policy.encrypt:
        return []
    headers = [etree.QName(t).localname for t in policy.encrypted_headers]
    out = [*headers, "Body"]
    if policy.sign and policy.encrypt_signature and policy.order is ProtectionOrder.SIGN_BEFORE_ENCRYPT:
        out.append("Signature")
    return out


@pytest.mark.parametrize("style", ["local", "identifier", "external"])
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
@pytest.mark.parametrize("soap", ["1.1", "1.2"])
@pytest.mark.parametrize("policy_name", list(POLICIES))
def test_round_trip(policy_name: str, soap: str, version, style: str) -> None:
    policy = POLICIES[policy_name]
    ctx = new_context(version)
    plain = envelope(soap, extra_headers=CUSTOM_HEADER)
    data = protect_msg(ctx, policy, style=style, env=plain)
    root = parse(data)

    # the wire form
    sec = security(root)
    soap_ns = ns.SOAP11 if soap == "1.1" else ns.SOAP12
    assert sec.get(ns.qn(soap_ns, "mustUnderstand")) == ("1" if soap == "1.1" else "true")
    scts = xp(sec, "sc13:SecurityContextToken | sc05:SecurityContextToken")
    assert len(scts) == (0 if style == "external" else 1)
    for sct in scts:
        assert etree.QName(sct).namespace == version.sc
    if policy.encrypt:
        assert xp(body(root), "*") == xp(body(root), "xenc:EncryptedData")
        assert b"hello" not in data
    if (
        policy.sign
        and policy.encrypt
        and policy.encrypt_signature
        and policy.order is ProtectionOrder.SIGN_BEFORE_ENCRYPT
    ):
        assert not xp(root, "//ds:Signature")
    for header in policy.encrypted_headers:
        assert next(root.iter(header), None) is None

    result = ctx.receiver(requirements_for(policy, ctx)).unprotect(data, now=NOW)

    assert isinstance(result, VerifiedMessage)
    assert result.soap is (SOAP11 if soap == "1.1" else SOAP12)
    assert result.context is not None
    assert result.context.identifier == ctx.identifier
    assert result.context.version == version
    assert plain_payload_c14n(plain) == [c14n(e) for e in result.payload()]
    assert sorted(result.encrypted_names) == sorted(expected_encrypted(policy))
    if policy.sign:
        expected_signed = {"Body", *WSA_NAMES}
        if policy.include_timestamp:
            expected_signed.add("Timestamp")
        if policy.protect_tokens and style != "external":
            expected_signed.add("SecurityContextToken")
        if policy.signed_headers:
            expected_signed.add("Custom")
        assert set(result.signed_names) == expected_signed
        assert result.is_signed(result.body)
        assert result.signature_key is not None
        assert result.signature_key.kind == "context"
        assert result.signature_key.derived is policy.derived_keys
        assert result.algorithms["signature"] == policy.suite.symmetric_signature
        assert result.algorithms["digest"] == policy.suite.digest
        assert result.signature_value is not None
    else:
        assert result.signed == ()
        assert result.signature is None
        assert "signature" not in result.algorithms
    if policy.encrypt:
        cipher = policy.suite.encryption
        if policy.use_gcm:
            cipher = cipher.replace(ns.XENC, ns.XENC11).replace("-cbc", "-gcm")
        assert result.algorithms["encryption"] == cipher
        assert result.is_encrypted(result.body)
    if policy.derived_keys:
        assert result.algorithms["derivation"] == version.p_sha1
    else:
        assert "derivation" not in result.algorithms
    assert (result.timestamp is not None) is policy.include_timestamp

    # the plain envelope handed to the application
    out = parse(result.to_bytes())
    assert not xp(out, "//wsse:Security")
    assert not xp(out, "//xenc:EncryptedData")
    assert etree.QName(out).namespace == (ns.SOAP11 if soap == "1.1" else ns.SOAP12)
    assert [etree.QName(h).localname for h in xp(out, "/*/*[1]/*")] == [*WSA_NAMES, "Custom"]
    assert one(out, "//x:Custom").text == "custom"
    assert plain_payload_c14n(plain) == [c14n(e) for e in body(out) if isinstance(e.tag, str)]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_wire_structure_per_version(version) -> None:
    ctx = new_context(version)
    root = parse(protect_msg(ctx, ProtectionPolicy(encrypt_signature=False)))
    sec = security(root)
    children = [etree.QName(c).localname for c in sec]
    # sp:Strict: Timestamp, token, derived keys, then ReferenceList and Signature
    assert children == [
        "Timestamp",
        "SecurityContextToken",
        "DerivedKeyToken",
        "DerivedKeyToken",
        "ReferenceList",
        "Signature",
    ]
    sct = sec[1]
    assert sct.tag == version.sc_qname("SecurityContextToken")
    assert sct.findtext(version.sc_qname("Identifier")) == ctx.identifier
    sig_dk, enc_dk = sec[2], sec[3]
    for dk in (sig_dk, enc_dk):
        assert dk.tag == version.sc_qname("DerivedKeyToken")
        assert dk.get("Algorithm") in (None, version.p_sha1)
        ref = one(dk, "wsse:SecurityTokenReference/wsse:Reference")
        assert ref.get("URI") == "#" + (sct.get(ns.WSU_ID) or "")
        assert len(base64.b64decode(dk.findtext(version.sc_qname("Nonce")) or "")) == 16
        assert dk.findtext(version.sc_qname("Offset")) == "0"
    assert sig_dk.findtext(version.sc_qname("Length")) == "24"
    assert enc_dk.findtext(version.sc_qname("Length")) == "32"
    sig = signature(root)
    assert one(sig, "ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference").get("URI") == "#" + sig_dk.get(ns.WSU_ID)
    ed = one(body(root), "xenc:EncryptedData")
    assert ed.get("Type") == ns.XENC_CONTENT
    assert one(ed, "ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference").get("URI") == "#" + enc_dk.get(ns.WSU_ID)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_external_reference_form(version) -> None:
    ctx = new_context(version)
    root = parse(protect_msg(ctx, style="external"))
    for dk in xp(root, "//wsse:Security/*[local-name()='DerivedKeyToken']"):
        ref = one(dk, "wsse:SecurityTokenReference/wsse:Reference")
        assert ref.get("URI") == ctx.identifier
        assert ref.get("ValueType") == version.sct_token_type


def test_derived_keys_follow_p_sha1() -> None:
    """The signature DKT's key is P_SHA1(context key, default label || nonce)[0:24]."""
    ctx = new_context()
    root = parse(protect_msg(ctx, SIGN_ONLY))
    sig = signature(root)
    dk = by_id(root, one(sig, "ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference").get("URI")[1:])
    nonce = base64.b64decode(dk.findtext(SC_1_3.sc_qname("Nonce")))
    key = derive_key(ctx.key, DEFAULT_LABEL.encode(), nonce, 24)
    expected = dsig.hmac_value(alg.HMAC_SHA1, key, c14n(one(sig, "ds:SignedInfo")))
    assert base64.b64decode(one(sig, "ds:SignatureValue").text) == expected


def test_module_level_unprotect_and_element_input() -> None:
    ctx = new_context()
    data = protect_msg(ctx)
    result = unprotect(parse(data), ctx.resolver(), now=NOW)
    assert result.context is not None and result.context.identifier == ctx.identifier


def test_protect_accepts_element_and_keeps_existing_ids() -> None:
    ctx = new_context()
    plain = envelope(payload=b'<m:echo xmlns:m="urn:example:m"/>').replace(
        b"<s:Body>", b'<s:Body xmlns:wsu="' + ns.WSU.encode() + b'" wsu:Id="my-body">'
    )
    data = protect(parse(plain), ctx.token(), SIGN_ONLY).data
    root = parse(data)
    assert body(root).get(ns.WSU_ID) == "my-body"
    refs = [r.get("URI") for r in xp(signature(root), "ds:SignedInfo/ds:Reference")]
    assert "#my-body" in refs
    result = ctx.receiver().unprotect(data, now=NOW)
    assert result.is_signed(result.body)
    assert result.body.get(ns.WSU_ID) == "my-body"


def test_body_with_text_and_mixed_content_round_trips() -> None:
    ctx = new_context()
    payload = b'text &amp; more <m:a xmlns:m="urn:example:m">x</m:a> tail <m:b xmlns:m="urn:example:m"/>'
    plain = envelope(payload=payload)
    original = body(parse(plain))
    for policy in (ProtectionPolicy(), ProtectionPolicy(order=ProtectionOrder.ENCRYPT_BEFORE_SIGN), ENCRYPT_ONLY):
        result = ctx.receiver(requirements_for(policy)).unprotect(protect_msg(ctx, policy, env=plain), now=NOW)
        assert result.body.text == original.text == "text & more "
        assert [c14n(c) for c in result.body] == [c14n(c) for c in original]
        assert [c.tail or "" for c in result.body] == [c.tail or "" for c in original]


def test_envelope_without_header_gets_one() -> None:
    ctx = new_context()
    plain = envelope(header=False)
    result = ctx.receiver().unprotect(protect_msg(ctx, env=plain), now=NOW)
    assert result.header is not None
    assert set(result.signed_names) == {"Timestamp", "Body"}


@pytest.mark.parametrize("wsa", [ns.WSA10, ns.WSA200408], ids=["wsa10", "wsa200408"])
def test_addressing_headers_signed_and_reported(wsa: str) -> None:
    ctx = new_context()
    plain = envelope(wsa_ns=wsa)
    result = ctx.receiver().unprotect(protect_msg(ctx, env=plain), now=NOW)
    headers = [h for h in result.header if etree.QName(h).namespace == wsa]
    assert [etree.QName(h).localname for h in headers] == WSA_NAMES
    assert all(result.is_signed(h) for h in headers)
    assert result.signed_names == ["Timestamp", "Body", *WSA_NAMES]


# --- Requirements enforcement -------------------------------------------------------------------------------


def _without_reference(ctx: Context, which: str) -> bytes:
    """A sign-only message whose signature does not cover ``which`` ("Body" or "Timestamp")."""
    root = parse(protect_msg(ctx, SIGN_ONLY))
    target = body(root) if which == "Body" else one(root, "//wsu:Timestamp")
    drop_reference(root, target)
    return tostring(resign(root, ctx.key))


def test_requirement_signature() -> None:
    ctx = new_context()
    data = protect_msg(ctx, ENCRYPT_ONLY)
    with pytest.raises(errors.InvalidSecurity):
        ctx.receiver(Requirements()).unprotect(data, now=NOW)
    result = ctx.receiver(Requirements(signature=False)).unprotect(data, now=NOW)
    assert result.signature is None and result.encrypted_names == ["Body"]


def test_requirement_signed_body() -> None:
    ctx = new_context()
    data = _without_reference(ctx, "Body")
    with pytest.raises(errors.InvalidSecurity, match="Body is not signed"):
        ctx.receiver(Requirements()).unprotect(data, now=NOW)
    # signed_body off: the Body must still be protected somehow
    with pytest.raises(errors.InvalidSecurity, match="neither signed nor encrypted"):
        ctx.receiver(Requirements(signed_body=False)).unprotect(data, now=NOW)
    result = ctx.receiver(Requirements(signed_body=False, protected_body=False)).unprotect(data, now=NOW)
    assert not result.is_signed(result.body)


def test_requirement_protected_body() -> None:
    ctx = new_context()
    data = _without_reference(ctx, "Body")
    req = Requirements(signature=False, signed_body=False)
    with pytest.raises(errors.InvalidSecurity):
        ctx.receiver(req).unprotect(data, now=NOW)
    relaxed = Requirements(signature=False, signed_body=False, protected_body=False)
    assert ctx.receiver(relaxed).unprotect(data, now=NOW).signature is not None


def test_requirement_timestamp() -> None:
    ctx = new_context()
    data = protect_msg(ctx, ProtectionPolicy(include_timestamp=False))
    with pytest.raises(errors.InvalidSecurity, match="Timestamp"):
        ctx.receiver(Requirements()).unprotect(data, now=NOW)
    assert ctx.receiver(Requirements(timestamp=False)).unprotect(data, now=NOW).timestamp is None


def test_requirement_signed_timestamp() -> None:
    ctx = new_context()
    data = _without_reference(ctx, "Timestamp")
    with pytest.raises(errors.InvalidSecurity, match="Timestamp is not signed"):
        ctx.receiver(Requirements()).unprotect(data, now=NOW)
    result = ctx.receiver(Requirements(signed_timestamp=False)).unprotect(data, now=NOW)
    assert result.timestamp is not None and "Timestamp" not in result.signed_names


def test_requirement_signed_addressing_headers() -> None:
    ctx = new_context()
    data = protect_msg(ctx, ProtectionPolicy(sign_addressing_headers=False))
    with pytest.raises(errors.InvalidSecurity, match="not signed"):
        ctx.receiver(Requirements()).unprotect(data, now=NOW)
    result = ctx.receiver(Requirements(signed_addressing_headers=False)).unprotect(data, now=NOW)
    assert result.signed_names == ["Timestamp", "Body"]


def test_requirement_encrypted_body() -> None:
    ctx = new_context()
    data = protect_msg(ctx, SIGN_ONLY)
    with pytest.raises(errors.InvalidSecurity, match="not encrypted"):
        ctx.receiver(Requirements(encrypted_body=True)).unprotect(data, now=NOW)
    assert ctx.receiver(Requirements()).unprotect(data, now=NOW).encrypted == ()


def test_requirement_signed_headers() -> None:
    ctx = new_context()
    req = Requirements(signed_headers=(CUSTOM_TAG,))
    plain = envelope(extra_headers=CUSTOM_HEADER)
    unsigned = protect_msg(ctx, env=plain)
    with pytest.raises(errors.InvalidSecurity, match="not signed"):
        ctx.receiver(req).unprotect(unsigned, now=NOW)
    missing = protect_msg(ctx, ProtectionPolicy(signed_headers=(CUSTOM_TAG,)))
    with pytest.raises(errors.InvalidSecurity, match="missing"):
        ctx.receiver(req).unprotect(missing, now=NOW)
    signed = protect_msg(ctx, ProtectionPolicy(signed_headers=(CUSTOM_TAG,)), env=plain)
    result = ctx.receiver(req).unprotect(signed, now=NOW)
    assert "Custom" in result.signed_names


def test_requirement_derived_keys() -> None:
    ctx = new_context()
    data = protect_msg(ctx, ProtectionPolicy(derived_keys=False))
    with pytest.raises(errors.InvalidSecurity, match="derived"):
        ctx.receiver(Requirements(derived_keys=True)).unprotect(data, now=NOW)
    assert ctx.receiver(Requirements(derived_keys=False)).unprotect(data, now=NOW).signature_key.derived is False
    assert ctx.receiver(Requirements(derived_keys=True)).unprotect(protect_msg(ctx), now=NOW).context is not None


def test_requirement_clock_skew() -> None:
    ctx = new_context()
    data = protect_msg(ctx, now=NOW - dt.timedelta(minutes=10))  # expired 5 minutes ago
    with pytest.raises(errors.MessageExpired):
        ctx.receiver(Requirements(max_clock_skew=dt.timedelta(minutes=1))).unprotect(data, now=NOW)
    assert ctx.receiver(Requirements(max_clock_skew=dt.timedelta(minutes=6))).unprotect(data, now=NOW)
    future = protect_msg(ctx, now=NOW + dt.timedelta(minutes=2))
    with pytest.raises(errors.InvalidSecurity, match="future"):
        ctx.receiver(Requirements(max_clock_skew=dt.timedelta(minutes=1))).unprotect(future, now=NOW)
    assert ctx.receiver(Requirements(max_clock_skew=dt.timedelta(minutes=3))).unprotect(future, now=NOW)


_SUITE_MISMATCHES = [
    # (mode, sent, required): only pairs whose algorithms differ in what the message shows
    *[
        ("both", a, b)
        for a, b in [
            ("Basic128", "Basic256"),
            ("Basic256", "Basic128"),
            ("Basic256Sha256", "Basic256"),
            ("Basic256", "Basic256Sha256"),
        ]
    ],
    ("sign", "Basic256Sha256", "Basic256"),
    ("sign", "Basic128", "Basic128Sha256"),
    ("encrypt", "Basic128", "Basic256"),
    ("encrypt", "Basic256Sha256", "Basic128Sha256"),
]


@pytest.mark.parametrize(("mode", "sent", "required"), _SUITE_MISMATCHES)
def test_requirement_suite(mode: str, sent: str, required: str) -> None:
    ctx = new_context()
    policy = ProtectionPolicy(suite=alg.suite(sent), sign=mode != "encrypt", encrypt=mode != "sign")
    data = protect_msg(ctx, policy)
    with pytest.raises(errors.UnsupportedAlgorithm):
        ctx.receiver(Requirements(suite=alg.suite(required), signature=policy.sign)).unprotect(data, now=NOW)
    same = Requirements(suite=alg.suite(sent), signature=policy.sign)
    assert ctx.receiver(same).unprotect(data, now=NOW).body is not None


def test_requirement_detect_replays() -> None:
    ctx = new_context()
    data = protect_msg(ctx)
    receiver = ctx.receiver(Requirements())
    receiver.unprotect(data, now=NOW)
    with pytest.raises(errors.InvalidSecurity, match="replay"):
        receiver.unprotect(data, now=NOW)
    relaxed = ctx.receiver(Requirements(detect_replays=False))
    relaxed.unprotect(data, now=NOW)
    relaxed.unprotect(data, now=NOW)


def test_requirement_context_identifier() -> None:
    ctx, other = new_context(), new_context()
    resolver = StaticKeys({ctx.identifier: ctx.key, other.identifier: other.key})
    for style in ("local", "identifier", "external"):
        data = protect_msg(other, style=style)
        with pytest.raises(errors.BadContextToken):
            Receiver(resolver, Requirements(context_identifier=ctx.identifier)).unprotect(data, now=NOW)
        result = Receiver(resolver, Requirements(context_identifier=other.identifier)).unprotect(data, now=NOW)
        assert result.context.identifier == other.identifier


def test_unknown_context_is_bad_context_token() -> None:
    ctx = new_context()
    for style in ("local", "identifier", "external"):
        with pytest.raises(errors.BadContextToken):
            Receiver(StaticKeys({})).unprotect(protect_msg(ctx, style=style), now=NOW)


def test_instance_keys() -> None:
    """A context key per wsc:Instance (renewed contexts keep the Identifier, change the Instance)."""
    ctx = new_context()
    renewed = Context(
        type(ctx.sct)(ctx.identifier, instance="2", wsu_id="SCT-2", version=ctx.sct.version), os.urandom(32)
    )
    resolver = StaticKeys({ctx.identifier: ctx.key}, instances={(ctx.identifier, "2"): renewed.key})
    for style in ("local", "external"):
        result = Receiver(resolver).unprotect(protect_msg(renewed, style=style), now=NOW)
        assert result.context.instance == "2"
        assert Receiver(resolver).unprotect(protect_msg(ctx, style=style), now=NOW).context.instance is None


# --- SignatureConfirmation ----------------------------------------------------------------------------------


def test_signature_confirmation_round_trip() -> None:
    ctx = new_context()
    request = protect(envelope(), ctx.token())
    server = ctx.receiver().unprotect(request.data, now=NOW)
    assert server.signature_value == request.signature_value is not None

    response = protect(
        envelope(), ctx.token("external"), signature_confirmations=(server.signature_value, None), now=NOW
    )
    root = parse(response.data)
    confirmations = xp(root, "//wsse:Security/wsse11:SignatureConfirmation")
    assert [c.get("Value") for c in confirmations] == [base64.b64encode(request.signature_value).decode(), None]
    client = ctx.receiver().unprotect(response.data, now=NOW)
    assert client.signature_confirmations == (request.signature_value, None)
    assert client.signed_names.count("SignatureConfirmation") == 2


def test_signature_confirmation_in_sign_only_message_is_visible_and_signed() -> None:
    ctx = new_context()
    data = protect_msg(ctx, SIGN_ONLY, signature_confirmations=(b"\x01\x02",))
    result = ctx.receiver().unprotect(data, now=NOW)
    assert result.signature_confirmations == (b"\x01\x02",)
    assert "SignatureConfirmation" in result.signed_names


# --- EncryptedKey protection --------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["thumbprint", "issuer-serial", "ski"])
@pytest.mark.parametrize("transport", [alg.RSA_OAEP_MGF1P, alg.RSA_1_5], ids=["oaep", "rsa15"])
@pytest.mark.parametrize("derived", [True, False], ids=["derived", "direct"])
def test_encrypted_key_request_and_response(reference: str, transport: str, derived: bool) -> None:
    cert, private = rsa_identity()
    ek, secret = EncryptedKey.create(cert, X509Token(cert).reference(reference), algorithm=transport)
    policy = ProtectionPolicy(derived_keys=derived)

    request = protect(envelope(), EncryptedKeyProtection(ek, secret), policy)
    root = parse(request.data)
    assert len(xp(root, "//wsse:Security/xenc:EncryptedKey")) == 1
    server = Receiver(StaticKeys(key_pairs=[(cert, private)])).unprotect(request.data, now=NOW)
    assert server.context is None
    assert server.signature_key is not None
    assert server.signature_key.kind == "encrypted-key"
    assert server.signature_key.derived is derived
    assert server.signature_key.base_secret == secret
    assert server.signature_key.encrypted_key_sha1 == ek.sha1
    # the encrypted signature is opened first: the Body waits until the signature authenticated the sender
    assert server.encrypted_names == ["Signature", "Body"]

    # The response refers to the same key by EncryptedKeySHA1 and does not carry the EncryptedKey.
    response = protect(
        envelope(),
        EncryptedKeyProtection(ek, server.signature_key.base_secret, include=False),
        policy,
        signature_confirmations=(server.signature_value,),
    )
    rroot = parse(response.data)
    assert not xp(rroot, "//xenc:EncryptedKey")
    identifiers = xp(rroot, "//wsse:KeyIdentifier")
    assert identifiers
    for ki in identifiers:
        assert ki.get("ValueType") == ns.ENCRYPTED_KEY_SHA1
        assert base64.b64decode(ki.text) == ek.sha1
    client = Receiver(StaticKeys(encrypted_keys={ek.sha1: secret})).unprotect(response.data, now=NOW)
    assert client.signature_key.kind == "encrypted-key"
    assert client.signature_key.encrypted_key_sha1 == ek.sha1
    assert client.signature_confirmations == (request.signature_value,)

    # A party that never sent that key cannot resolve the reference.
    expected = errors.UnknownDerivationSource if derived else errors.SecurityTokenUnavailable
    with pytest.raises(expected):
        Receiver(StaticKeys(encrypted_keys={b"\0" * 20: secret})).unprotect(response.data, now=NOW)


def test_encrypted_key_for_another_certificate() -> None:
    cert, _ = rsa_identity()
    other_cert, other_key = rsa_identity("other")
    ek, secret = EncryptedKey.create(cert, X509Token(cert).reference())
    data = protect(envelope(), EncryptedKeyProtection(ek, secret)).data
    with pytest.raises(errors.SecurityTokenUnavailable):
        Receiver(StaticKeys(key_pairs=[(other_cert, other_key)])).unprotect(data, now=NOW)


def test_encrypted_key_sha1_matches_cipher_value() -> None:
    cert, _ = rsa_identity()
    ek, _ = EncryptedKey.create(cert, X509Token(cert).reference())
    parsed = EncryptedKey.from_element(ek.to_element())
    cipher_value = base64.b64decode(one(ek.to_element(), "xenc:CipherData/xenc:CipherValue").text)
    assert parsed.sha1 == ek.sha1
    import hashlib

    assert ek.sha1 == hashlib.sha1(cipher_value).digest()


# --- faults -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
@pytest.mark.parametrize("soap", [SOAP11, SOAP12], ids=["soap11", "soap12"])
@pytest.mark.parametrize("error", errors.ALL_ERRORS, ids=lambda e: e.__name__)
def test_fault_envelope_round_trip(error: type[errors.WsscError], soap, version) -> None:
    secret_detail = "internal detail: padding byte 0x42 was wrong"
    data = fault_envelope(error(secret_detail), soap, version)
    assert secret_detail.encode() not in data
    root = parse(data)
    assert root.tag == soap.qname("Envelope")
    fault = one(root, "/*/*[local-name()='Body']/*[local-name()='Fault']")
    assert fault.tag == soap.qname("Fault")
    expected_ns = {"wsse": ns.WSSE, "wsc": version.sc, "wst": version.trust, "soap": soap.namespace, "dnse": ns.DNSE}[
        error.code_kind
    ]
    if error.code_kind == "soap" and soap is SOAP12:
        # a SOAP-defined code (MustUnderstand) is the top-level Code itself, without a Subcode
        top = fault.find(f"{soap.qname('Code')}/{soap.qname('Value')}")
        prefix, _, local = top.text.partition(":")
        assert (top.nsmap[prefix], local) == (ns.SOAP12, error.code)
        assert fault.find(f"{soap.qname('Code')}/{soap.qname('Subcode')}") is None
    elif soap is SOAP11:
        code_el = fault.find("faultcode")
        assert code_el is not None
        prefix, _, local = code_el.text.partition(":")
        assert local == error.code
        assert code_el.nsmap[prefix] == expected_ns
        assert fault.findtext("faultstring") == error.reason
    else:
        top = fault.find(f"{soap.qname('Code')}/{soap.qname('Value')}")
        prefix, _, local = top.text.partition(":")
        assert top.nsmap[prefix] == ns.SOAP12
        assert local == ("Sender" if error.sender_fault else "Receiver")
        sub = fault.find(f"{soap.qname('Code')}/{soap.qname('Subcode')}/{soap.qname('Value')}")
        prefix, _, local = sub.text.partition(":")
        assert (sub.nsmap[prefix], local) == (expected_ns, error.code)
        text = fault.find(f"{soap.qname('Reason')}/{soap.qname('Text')}")
        assert text.text == error.reason
        assert text.get(ns.qn(ns.XML, "lang")) == "en"

    read = read_fault(root)
    assert read is not None
    assert read.code == ns.qn(expected_ns, error.code)
    assert read.reason == error.reason
    assert read.error is error
    with pytest.raises(error):
        read.raise_error()


def test_read_fault_without_fault_and_unknown_code() -> None:
    assert read_fault(parse(envelope())) is None
    unknown = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:q="urn:other"><s:Body>'
        b"<s:Fault><faultcode>q:Oops</faultcode><faultstring>no</faultstring></s:Fault></s:Body></s:Envelope>"
    )
    fault = read_fault(parse(unknown))
    assert fault is not None
    assert (fault.code, fault.reason, fault.error) == ("{urn:other}Oops", "no", None)
    with pytest.raises(errors.InvalidSecurity):
        fault.raise_error()


def test_error_codes() -> None:
    assert errors.BadContextToken().prefixed_code == "wsc:BadContextToken"
    assert errors.FailedCheck().prefixed_code == "wsse:FailedCheck"
    assert errors.InvalidRequest().prefixed_code == "wst:InvalidRequest"
    assert errors.FailedCheck("detail").detail == "detail"
    assert str(errors.FailedCheck()) == errors.FailedCheck.reason
    assert errors.BadContextToken().code_namespace(SC_2005_02.sc, SC_2005_02.trust) == SC_2005_02.sc


# --- regressions and known bugs -----------------------------------------------------------------------------


def test_implied_derived_key_is_accepted() -> None:
    """An STR with wsc:Nonce derives P_SHA1(base, default label || nonce)[0:32] from the token it names."""
    ctx = new_context()
    root = parse(protect_msg(ctx, ProtectionPolicy(encrypt=False, derived_keys=False)))
    sig = signature(root)
    str_el = one(sig, "ds:KeyInfo/wsse:SecurityTokenReference")
    nonce = os.urandom(16)
    str_el.set(SC_1_3.sc_qname("Nonce"), base64.b64encode(nonce).decode())
    key = derive_key(ctx.key, DEFAULT_LABEL.encode(), nonce, 32)
    value = dsig.hmac_value(alg.HMAC_SHA1, key, c14n(one(sig, "ds:SignedInfo")))
    one(sig, "ds:SignatureValue").text = base64.b64encode(value).decode()
    result = ctx.receiver().unprotect(tostring(root), now=NOW)
    assert result.signature_key is not None and result.signature_key.derived


@pytest.mark.parametrize("header", [CUSTOM_TAG, ns.qn(ns.WSA10, "MessageID")], ids=["custom", "wsa-messageid"])
def test_encrypt_before_sign_with_encrypted_signed_header(header: str) -> None:
    ctx = new_context()
    policy = ProtectionPolicy(
        order=ProtectionOrder.ENCRYPT_BEFORE_SIGN, encrypted_headers=(header,), signed_headers=(CUSTOM_TAG,)
    )
    data = protect_msg(ctx, policy, env=envelope(extra_headers=CUSTOM_HEADER))
    result = ctx.receiver().unprotect(data, now=NOW)
    assert etree.QName(header).localname in result.encrypted_names
    assert result.is_signed(result.body)
    assert next(result.header.iter(header)) is not None

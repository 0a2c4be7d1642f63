"""The compiled protect (``wssc._core.protect``) against the Python path's ``protect``: for every option
combination the Python Receiver accepts the core's output and verifies the same message as from the Python
output, and both outputs are the same document once their random values (ids, nonces, digests, signature
and cipher values) are masked."""

from __future__ import annotations

import base64
import datetime as dt
import re
import sys
from pathlib import Path

import pytest
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core_protect import core_protect, load_core

from helpers import CUSTOM_HEADER, CUSTOM_TAG, envelope, new_context
from wssc import namespaces as ns
from wssc.primitives import algorithms as alg
from wssc.primitives import ciphers
from wssc.security.compiled import forced_python
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.security.protect import _with_wsu_declared, protect
from wssc.security.unprotect import Receiver
from wssc.security.xmlenc import content_bytes
from wssc.versions import SC_1_3, SC_2005_02

CORE = load_core()
pytestmark = pytest.mark.skipif(CORE is None, reason="wssc._core (with protect) is not built")

NOW = dt.datetime.now(dt.timezone.utc)
EBS = ProtectionOrder.ENCRYPT_BEFORE_SIGN
MESSAGE_ID = ns.qn(ns.WSA10, "MessageID")
POLICIES = {
    "default": ProtectionPolicy(),
    "sign-only": ProtectionPolicy(encrypt=False),
    "encrypt-only": ProtectionPolicy(sign=False),
    "encrypt-only-ebs": ProtectionPolicy(sign=False, order=EBS),
    "encrypt-before-sign": ProtectionPolicy(order=EBS),
    "ebs-clear-signature": ProtectionPolicy(order=EBS, encrypt_signature=False),
    "clear-signature": ProtectionPolicy(encrypt_signature=False),
    "gcm": ProtectionPolicy(use_gcm=True),
    "gcm-basic128-ebs": ProtectionPolicy(use_gcm=True, suite=alg.BASIC128, order=EBS),
    "no-derived-keys": ProtectionPolicy(derived_keys=False),
    "no-derived-keys-ebs": ProtectionPolicy(derived_keys=False, order=EBS),
    "protect-tokens": ProtectionPolicy(protect_tokens=True),
    "encrypted-headers": ProtectionPolicy(encrypted_headers=(CUSTOM_TAG, MESSAGE_ID), signed_headers=(CUSTOM_TAG,)),
    "encrypted-headers-ebs": ProtectionPolicy(
        encrypted_headers=(CUSTOM_TAG, MESSAGE_ID), signed_headers=(CUSTOM_TAG,), order=EBS
    ),
    "no-timestamp": ProtectionPolicy(include_timestamp=False),
    "no-body-no-addressing": ProtectionPolicy(encrypt=False, sign_body=False, sign_addressing_headers=False),
    "Basic128": ProtectionPolicy(suite=alg.BASIC128),
    "Basic192": ProtectionPolicy(suite=alg.suite("Basic192")),
    "Basic256Sha256": ProtectionPolicy(suite=alg.BASIC256_SHA256),
    "Basic128Sha256-sign-only": ProtectionPolicy(suite=alg.BASIC128_SHA256, encrypt=False),
}
_RANDOM_ID = re.compile(rb"_[0-9a-f]{8}-")
_RANDOM_TEXT = {ns.qn(v.sc, "Nonce") for v in (SC_1_3, SC_2005_02)} | {
    ns.qn(ns.DS, "DigestValue"),
    ns.qn(ns.DS, "SignatureValue"),
    ns.qn(ns.XENC, "CipherValue"),
}


def masked(data: bytes) -> bytes:
    """The document with its random values masked, in canonical form (Canonical XML 1.0: attribute order,
    escaping and redundant namespace declarations do not show)."""
    root = etree.fromstring(_RANDOM_ID.sub(b"_ID-", data))
    for el in root.iter():
        if el.tag in _RANDOM_TEXT:
            el.text = "X"
    return etree.tostring(root, method="c14n")


def view(data: bytes, ctx, requirements=None):  # type: ignore[no-untyped-def]
    """What the Python Receiver verifies in ``data``: the parts a differential comparison needs."""
    with forced_python():
        msg = Receiver(ctx.resolver(), requirements).unprotect(data, now=NOW)

    def canonical(el: etree._Element) -> bytes:
        return _RANDOM_ID.sub(b"_ID-", etree.tostring(el, method="c14n", exclusive=True))

    return {
        "body": canonical(msg.body),
        "headers": [canonical(h) for h in (msg.header if msg.header is not None else [])],
        "signed": msg.signed_names,
        "encrypted": msg.encrypted_names,
        "algorithms": dict(msg.algorithms),
        "confirmations": msg.signature_confirmations,
        "context": msg.context,
        "timestamp": msg.timestamp is not None,
        "derived": None if msg.signature_key is None else msg.signature_key.derived,
    }


def both(env: bytes, ctx, policy: ProtectionPolicy, style: str = "local", confirmations=()):  # type: ignore[no-untyped-def]
    version = ctx.sct.version
    ours = core_protect(env, ctx.token(style), policy, version=version, now=NOW, signature_confirmations=confirmations)
    with forced_python():  # the reference: protect() itself goes through the core where it is installed
        reference = protect(
            env, ctx.token(style), policy, version=version, now=NOW, signature_confirmations=confirmations
        )
    return ours, reference


def _requirements(policy: ProtectionPolicy):  # type: ignore[no-untyped-def]
    from wssc.security.policy import Requirements

    return Requirements(
        signature=policy.sign,
        signed_body=policy.sign and policy.sign_body,
        protected_body=policy.encrypt or (policy.sign and policy.sign_body),
        timestamp=policy.include_timestamp,
        signed_timestamp=policy.sign and policy.include_timestamp,
        signed_addressing_headers=policy.sign and policy.sign_addressing_headers,
        detect_replays=False,
    )


def check(env: bytes, ctx, policy: ProtectionPolicy, style: str = "local", confirmations=()) -> None:  # type: ignore[no-untyped-def]
    ours, reference = both(env, ctx, policy, style, confirmations)
    assert (ours.signature_value is None) == (reference.signature_value is None)
    requirements = _requirements(policy)
    assert view(ours.data, ctx, requirements) == view(reference.data, ctx, requirements)
    assert masked(ours.data) == masked(reference.data)


def headers_envelope(soap: str) -> bytes:
    return envelope(soap, extra_headers=CUSTOM_HEADER)


@pytest.mark.parametrize("soap", ["1.1", "1.2"])
@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
@pytest.mark.parametrize("name", list(POLICIES))
def test_policies(name: str, version, soap: str) -> None:  # type: ignore[no-untyped-def]
    check(headers_envelope(soap), new_context(version), POLICIES[name])


@pytest.mark.parametrize("style", ["local", "identifier", "external"])
@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
@pytest.mark.parametrize("name", ["default", "no-derived-keys", "no-derived-keys-ebs", "protect-tokens"])
def test_token_reference_styles(name: str, version, style: str) -> None:  # type: ignore[no-untyped-def]
    check(headers_envelope("1.2"), new_context(version), POLICIES[name], style)


@pytest.mark.parametrize("name", ["default", "sign-only", "encrypt-before-sign"])
def test_signature_confirmations(name: str) -> None:
    check(envelope("1.1"), new_context(), POLICIES[name], confirmations=(b"\x01" * 20, None))


# Envelopes whose namespaces, ids and text exercise the writer.
ENVELOPES = {
    "no-header": envelope("1.1", header=False),
    "pretty": (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">\n  <soap:Header>\n'
        b'    <a:To xmlns:a="http://www.w3.org/2005/08/addressing">http://x/</a:To>\n  </soap:Header>\n'
        b'  <soap:Body>\n    <m:op xmlns:m="urn:m">a &amp; b &lt; c\r\n<?pi data?>'
        b'<q:x xmlns:q="urn:q" m:at="1"/></m:op>\n'
        b"  tail &#13; text</soap:Body>\n</soap:Envelope>"
    ),
    "wsu-on-envelope": (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:wsu="'
        + ns.WSU.encode()
        + b'" xmlns:m="urn:m"><e:Header><x:Custom xmlns:x="urn:example:x">c</x:Custom></e:Header>'
        b'<e:Body wsu:Id="mine"><m:op>1</m:op><op2 xmlns="urn:d"><in/></op2></e:Body></e:Envelope>'
    ),
    "body-default-namespace": (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:p="urn:p" p:a="v">'
        b'<s:Body xmlns="urn:default" Id="plain-id"><op><p:x/><y xmlns=""/></op></s:Body></s:Envelope>'
    ),
    "redundant-declarations": (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:m">'
        b'<s:Header xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><x:Custom xmlns:x="urn:example:x" '
        b'xmlns:m="urn:m" m:a="&quot;q&quot;">c</x:Custom></s:Header>'
        b'<s:Body><m:op xmlns:m="urn:m"><m:in/></m:op></s:Body></s:Envelope>'
    ),
    "attributes-and-text": (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" soap:encodingStyle="urn:e">'
        b'<soap:Header>\n<x:Custom xmlns:x="urn:example:x" soap:mustUnderstand="1" soap:actor="urn:a" '
        b'xml:lang="en" v="&#9;&#10;&lt;&amp;&quot;&gt;">]]&gt; &amp; &#13;</x:Custom>\n'
        b'<w:To xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://x/</w:To></soap:Header>'
        b'<soap:Body><m:op xmlns:m="urn:m" xml:lang="fr"><![CDATA[<raw> & ]]></m:op>tail</soap:Body>'
        b"</soap:Envelope>"
    ),
    # one namespace under two prefixes, and a header binding the utility namespace to wsu where protect
    # declares u on the Envelope: written as they are on both paths (protect.py's _with_wsu_declared parses)
    "second-prefix-for-a-namespace": (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        b'<a:x xmlns:a="urn:a"><b:y xmlns:b="urn:a"/></a:x></s:Body></s:Envelope>'
    ),
    "header-declaring-wsu": (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><x:C xmlns:x="urn:x" xmlns:wsu="'
        + ns.WSU.encode()
        + b'" wsu:Id="c"/></s:Header><s:Body/></s:Envelope>'
    ),
    "unprefixed-body-child": (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>'
        b'<a:Action xmlns:a="http://www.w3.org/2005/08/addressing">urn:x</a:Action>'
        b'<x:Custom xmlns:x="urn:example:x">c</x:Custom></s:Header>'
        b'<s:Body><op xmlns="urn:d"/></s:Body></s:Envelope>'
    ),
}


@pytest.mark.parametrize(
    "name", ["default", "sign-only", "encrypt-before-sign", "encrypted-headers", "encrypted-headers-ebs"]
)
@pytest.mark.parametrize("env", list(ENVELOPES))
def test_envelopes(env: str, name: str) -> None:
    check(ENVELOPES[env], new_context(), POLICIES[name])


def _security_shape(data: bytes) -> list[tuple[str | None, str, list[str]]]:
    root = etree.fromstring(data)
    security = root.find(f".//{{{ns.WSSE}}}Security")
    assert security is not None
    return [(el.prefix, el.tag, sorted(el.attrib)) for el in security.iter()]


@pytest.mark.parametrize("name", list(POLICIES))
def test_security_header_layout(name: str) -> None:
    ours, reference = both(headers_envelope("1.2"), new_context(), POLICIES[name])
    assert _security_shape(ours.data) == _security_shape(reference.data)


@pytest.mark.parametrize("env", list(ENVELOPES))
def test_body_plaintext_reads_the_same_anywhere(env: str) -> None:
    """The encrypted Body content declares every prefix it uses, as lxml's serialisation does: parsed on its
    own (not in the Body's context) it reads as the Python path's plaintext does."""
    ctx = new_context()
    policy = ProtectionPolicy(derived_keys=False, sign=False)
    ours = core_protect(ENVELOPES[env], ctx.token(), policy, now=NOW)
    body = etree.fromstring(ours.data).find(f"{{{ns.SOAP11}}}Body")
    if body is None:
        body = etree.fromstring(ours.data).find(f"{{{ns.SOAP12}}}Body")
    assert body is not None
    cipher_value = body.find(f".//{{{ns.XENC}}}CipherValue")
    assert cipher_value is not None and cipher_value.text
    plaintext = ciphers.decrypt(alg.AES256_CBC, ctx.key, base64.b64decode(cipher_value.text))
    source = _with_wsu_declared(etree.fromstring(ENVELOPES[env]))
    source_body = next(c for c in source if c.tag.endswith("}Body"))
    expected = content_bytes(source_body)

    def standalone(data: bytes) -> bytes:
        return etree.tostring(etree.fromstring(b"<w>" + data + b"</w>"), method="c14n")

    assert standalone(plaintext) == standalone(expected)


DECLINED = {
    "not-soap": (b'<x:Envelope xmlns:x="urn:not-soap"><x:Body/></x:Envelope>', POLICIES["default"]),
    "default-namespace-on-envelope": (
        b'<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body/></Envelope>',
        POLICIES["default"],
    ),
    "u-bound-elsewhere": (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:u="urn:u"><s:Body/></s:Envelope>',
        POLICIES["default"],
    ),
    "triple-des": (envelope("1.2"), ProtectionPolicy(suite=alg.suite("TripleDes"))),
    "entity-declaration-in-a-comment": (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
        b"<s:Body><!-- <!ENTITY --></s:Body></s:Envelope>",
        POLICIES["default"],
    ),
}


@pytest.mark.parametrize("case", list(DECLINED))
def test_declined(case: str) -> None:
    env, policy = DECLINED[case]
    assert CORE is not None
    with pytest.raises(CORE.Declined) as raised:
        core_protect(env, new_context().token(), policy, now=NOW)
    assert raised.value.args and isinstance(raised.value.args[0], str)


def test_options_are_checked() -> None:
    assert CORE is not None
    from core_protect import options

    ctx = new_context()
    token = ctx.token()
    args = dict(
        token_xml=None,
        reference_xml=token.reference(SC_1_3).to_xml(),
        sc_namespace=SC_1_3.sc,
        label=None,
        created="2026-01-01T00:00:00Z",
        expires=None,
        confirmations=[],
    )
    with pytest.raises(ValueError, match="unknown protect option"):
        CORE.protect(envelope(), ctx.key, options={**options(ProtectionPolicy()), "sgin": True}, **args)
    incomplete = options(ProtectionPolicy())
    del incomplete["digest"]
    with pytest.raises(KeyError):
        CORE.protect(envelope(), ctx.key, options=incomplete, **args)


@pytest.mark.parametrize("name", list(POLICIES))
def test_the_compiled_unprotect_accepts_it(name: str) -> None:
    """The two compiled halves agree: the core's unprotect (``Incoming``) accepts what its protect wrote,
    with the context's key, and finds the Body the Python Receiver finds."""
    assert CORE is not None
    if not hasattr(CORE, "Incoming"):
        pytest.skip("the compiled unprotect is not built")
    ctx = new_context()
    ours = core_protect(headers_envelope("1.2"), ctx.token(), POLICIES[name], now=NOW)
    incoming = CORE.Incoming.parse(ours.data, CORE.Settings({}, {}))
    assert [c[0] for c in incoming.contexts] == [ctx.identifier]
    record = incoming.verify([ctx.key], CORE.Settings({}, {}), lambda value: None)
    body = etree.fromstring(record["output"]).find(f"{{{ns.SOAP12}}}Body")
    assert body is not None
    expected = view(ours.data, ctx, _requirements(POLICIES[name]))["body"]
    assert _RANDOM_ID.sub(b"_ID-", etree.tostring(body, method="c14n", exclusive=True)) == expected


def test_prepared_options_protect_as_the_dict_does() -> None:
    """``ProtectOptions`` (the dict converted once per policy, as the glue passes it) and the dict itself give
    the core the same options: the same protected bytes for the same inputs, and the same refusals."""
    from core_protect import options

    if CORE is None:
        pytest.skip("the compiled core is not installed")
    ctx = new_context()
    args = {
        "token_xml": None,
        "reference_xml": ctx.token().reference(SC_1_3).to_xml(),
        "sc_namespace": SC_1_3.sc,
        "label": None,
        "created": "2026-01-01T00:00:00.000Z",
        "expires": "2026-01-01T00:05:00.000Z",
        "confirmations": [],
    }
    for policy in (ProtectionPolicy(), ProtectionPolicy(encrypt=False), ProtectionPolicy(derived_keys=False)):
        as_dict, as_object = options(policy), CORE.ProtectOptions(options(policy))
        with_dict = CORE.protect(envelope(), ctx.key, options=as_dict, **args)
        with_object = CORE.protect(envelope(), ctx.key, options=as_object, **args)
        # the same layout and lengths; the nonces, IVs and ids differ from call to call
        assert len(with_dict[0]) == len(with_object[0]) and (with_dict[1] is None) is (with_object[1] is None)
    with pytest.raises(ValueError, match="sgin"):
        CORE.ProtectOptions({**options(ProtectionPolicy()), "sgin": True})

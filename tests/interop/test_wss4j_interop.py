"""wssc <-> Apache WSS4J 1.6: messages secured by one are accepted by the other, tampering is rejected by both.

Matrix: WS-SC 1.3 and Feb 2005, SCT referenced by local id / by Identifier / externally, 16- and 32-byte
context keys (Basic128 / Basic256 derived-key lengths), SOAP 1.1 and 1.2, sign-only, encrypt-only and both.
"""

from __future__ import annotations

import base64
import itertools
import os
import re

import pytest
from lxml import etree
from wss4j import WSS4J

from wssc import errors
from wssc.primitives.algorithms import BASIC128, BASIC256
from wssc.security.keys import ContextProtection, SCTReferenceStyle, StaticKeys
from wssc.security.policy import ProtectionOrder, ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken
from wssc.versions import by_name

SOAP11 = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/>'
    b'<soap:Body><ns:echo xmlns:ns="urn:example">hello &amp; welcome<ns:n>42</ns:n></ns:echo></soap:Body>'
    b"</soap:Envelope>"
)
SOAP12 = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">'
    b'<s:Header><a:Action s:mustUnderstand="1">urn:example:echo</a:Action>'
    b"<a:MessageID>urn:uuid:0b7e7c52-3a6e-4a0e-9d0f-6a1b1f0e2c11</a:MessageID>"
    b'<a:To s:mustUnderstand="1">http://localhost/echo</a:To></s:Header>'
    b'<s:Body><ns:echo xmlns:ns="urn:example">hello &amp; welcome<ns:n>42</ns:n></ns:echo></s:Body></s:Envelope>'
)
ENVELOPES = {"1.1": SOAP11, "1.2": SOAP12}
CONTEXT = "urn:uuid:5f0c7d3e-2a41-4c55-9b7e-2f1d0e9c8a77"
MODES = ("sign", "encrypt", "both")
MATRIX = list(
    itertools.product(("1.3", "2005-02"), ("local", "identifier", "external"), (16, 32), ("1.1", "1.2"), MODES)
)


def _ids(params: tuple[object, ...]) -> str:
    return "-".join(str(p) for p in params)


def _policy(mode: str, key_len: int, **kw: object) -> ProtectionPolicy:
    suite = BASIC128 if key_len == 16 else BASIC256
    return ProtectionPolicy(suite=suite, sign=mode != "encrypt", encrypt=mode != "sign", **kw)  # type: ignore[arg-type]


def _requirements(mode: str) -> Requirements:
    signed = mode != "encrypt"
    return Requirements(
        signature=signed,
        signed_body=signed,
        signed_timestamp=signed,
        encrypted_body=mode != "sign",
        signed_addressing_headers=False,  # WSS4J signs only Body and Timestamp
        context_identifier=CONTEXT,
    )


def _wssc_protect(envelope: bytes, key: bytes, version: str, style: str, mode: str, **kw: object) -> bytes:
    v = by_name(version)
    sct = SecurityContextToken(CONTEXT, wsu_id="SCT-" + os.urandom(4).hex(), version=v)
    ref_style: SCTReferenceStyle = style  # type: ignore[assignment]
    return protect(envelope, ContextProtection(sct, key, ref_style), _policy(mode, len(key), **kw), version=v).data


def _payload_text(xml: bytes | str) -> str:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    echo = root.find(".//{urn:example}echo")
    assert echo is not None, xml
    return "".join(echo.itertext())


@pytest.mark.parametrize(("version", "style", "key_len", "soap", "mode"), MATRIX, ids=[_ids(p) for p in MATRIX])
def test_wssc_to_wss4j(wss4j: WSS4J, version: str, style: str, key_len: int, soap: str, mode: str) -> None:
    key = os.urandom(key_len)
    message = _wssc_protect(ENVELOPES[soap], key, version, style, mode)
    result = wss4j.unprotect(message, key=key, context_id=CONTEXT, sc_version=version, require=mode)  # type: ignore[arg-type]
    assert result["ok"], result["error"]
    if mode != "encrypt":
        signed = {name.rsplit("}", 1)[-1] for name in result["signed"]}
        assert {"Body", "Timestamp"} <= signed
        if soap == "1.2":
            assert {"Action", "MessageID", "To"} <= signed
    if mode != "sign":
        assert any(name.endswith("}Body") for name in result["encrypted"])
    assert _payload_text(result["body"]) == "hello & welcome42"


@pytest.mark.parametrize(("version", "style", "key_len", "soap", "mode"), MATRIX, ids=[_ids(p) for p in MATRIX])
def test_wss4j_to_wssc(wss4j: WSS4J, version: str, style: str, key_len: int, soap: str, mode: str) -> None:
    key = os.urandom(key_len)
    message = wss4j.protect(
        ENVELOPES[soap],
        key=key,
        context_id=CONTEXT,
        sc_version=version,
        sct_ref=style,
        mode=mode,  # type: ignore[arg-type]
    )
    result = Receiver(StaticKeys({CONTEXT: key}), _requirements(mode)).unprotect(message)
    assert result.context is not None and result.context.identifier == CONTEXT
    assert result.context.version is by_name(version)
    if mode != "encrypt":
        assert result.is_signed(result.body)
        assert "Timestamp" in result.signed_names
    if mode != "sign":
        assert result.is_encrypted(result.body)
    if mode == "both":
        assert "Signature" in result.encrypted_names
    assert _payload_text(result.to_bytes()) == "hello & welcome42"
    assert b"Security" not in result.to_bytes()


@pytest.mark.parametrize("version", ["1.3", "2005-02"])
@pytest.mark.parametrize("encrypt_signature", [True, False])
def test_encrypt_before_sign_both_ways(wss4j: WSS4J, version: str, encrypt_signature: bool) -> None:
    key = os.urandom(32)
    ours = _wssc_protect(SOAP12, key, version, "local", "both", order=ProtectionOrder.ENCRYPT_BEFORE_SIGN)
    result = wss4j.unprotect(ours, key=key, context_id=CONTEXT, sc_version=version, require="both")  # type: ignore[arg-type]
    assert result["ok"], result["error"]
    theirs = wss4j.protect(
        SOAP12,
        key=key,
        context_id=CONTEXT,
        sc_version=version,  # type: ignore[arg-type]
        mode="both",
        protection_order="encrypt-then-sign",
        encrypt_signature=encrypt_signature,
    )
    verified = Receiver(StaticKeys({CONTEXT: key}), _requirements("both")).unprotect(theirs)
    assert verified.is_signed(verified.body) and verified.is_encrypted(verified.body)


# -- tampering ---------------------------------------------------------------------------------------------


def _flip_cipher_value(message: bytes, which: int = -1) -> bytes:
    values = list(re.finditer(rb"<xenc:CipherValue>([^<]+)</xenc:CipherValue>", message))
    match = values[which]
    raw = bytearray(base64.b64decode(match.group(1)))
    raw[len(raw) // 2] ^= 0x01
    return message[: match.start(1)] + base64.b64encode(bytes(raw)) + message[match.end(1) :]


def _tamper(message: bytes, kind: str) -> bytes:
    if kind == "body":
        assert b"hello &amp; welcome" in message
        return message.replace(b"hello &amp; welcome", b"hello &amp; welcomE", 1)
    if kind == "cipher":
        return _flip_cipher_value(message, -1)
    if kind == "timestamp":
        created = re.search(rb"<wsu:Created>(\d{4}-\d\d-\d\dT\d\d:\d\d:)(\d\d)", message)
        assert created is not None
        seconds = (int(created.group(2)) + 1) % 60
        return message[: created.start(2)] + b"%02d" % seconds + message[created.end(2) :]
    if kind == "token":
        assert CONTEXT.encode() in message
        return message.replace(CONTEXT.encode(), b"urn:uuid:00000000-0000-0000-0000-000000000000")
    if kind == "nonce":
        nonce = re.search(rb"Nonce>([^<]+)</", message)
        assert nonce is not None
        raw = bytearray(base64.b64decode(nonce.group(1)))
        raw[0] ^= 0x80
        return message[: nonce.start(1)] + base64.b64encode(bytes(raw)) + message[nonce.end(1) :]
    raise AssertionError(kind)


TAMPER_CASES = [
    ("sign", "body"),
    ("encrypt", "cipher"),
    ("both", "cipher"),
    ("sign", "timestamp"),
    ("both", "timestamp"),
    ("both", "token"),
    ("sign", "nonce"),
    ("both", "nonce"),
]


@pytest.mark.parametrize("version", ["1.3", "2005-02"])
@pytest.mark.parametrize(("mode", "kind"), TAMPER_CASES, ids=[f"{m}-{k}" for m, k in TAMPER_CASES])
def test_wss4j_rejects_tampered_wssc_messages(wss4j: WSS4J, version: str, mode: str, kind: str) -> None:
    key = os.urandom(32)
    style = "identifier" if kind == "token" else "local"
    message = _wssc_protect(SOAP11, key, version, style, mode)
    assert wss4j.unprotect(message, key=key, context_id=CONTEXT, sc_version=version, require=mode)["ok"]  # type: ignore[arg-type]
    result = wss4j.unprotect(_tamper(message, kind), key=key, context_id=CONTEXT, sc_version=version, require=mode)  # type: ignore[arg-type]
    assert not result["ok"]


@pytest.mark.parametrize("version", ["1.3", "2005-02"])
@pytest.mark.parametrize(("mode", "kind"), TAMPER_CASES, ids=[f"{m}-{k}" for m, k in TAMPER_CASES])
def test_wssc_rejects_tampered_wss4j_messages(wss4j: WSS4J, version: str, mode: str, kind: str) -> None:
    key = os.urandom(32)
    style = "identifier" if kind == "token" else "local"
    message = wss4j.protect(SOAP11, key=key, context_id=CONTEXT, sc_version=version, sct_ref=style, mode=mode)  # type: ignore[arg-type]
    Receiver(StaticKeys({CONTEXT: key}), _requirements(mode)).unprotect(message)
    with pytest.raises(errors.WsscError) as info:
        Receiver(StaticKeys({CONTEXT: key}), _requirements(mode)).unprotect(_tamper(message, kind))
    # every failed check under a context key is one fault, wsc:BadContextToken (no state or decryption oracle)
    assert isinstance(info.value, errors.BadContextToken), repr(info.value)


def test_wrong_key_is_rejected_both_ways(wss4j: WSS4J) -> None:
    key, other = os.urandom(32), os.urandom(32)
    ours = _wssc_protect(SOAP12, key, "1.3", "local", "both")
    assert not wss4j.unprotect(ours, key=other, context_id=CONTEXT, require="both")["ok"]
    theirs = wss4j.protect(SOAP12, key=key, context_id=CONTEXT, mode="both")
    with pytest.raises(errors.BadContextToken):  # a failed check under a context key
        Receiver(StaticKeys({CONTEXT: other}), _requirements("both")).unprotect(theirs)

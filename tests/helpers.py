"""Builders shared by the message-security, attack and CLI tests.

Everything here goes through the public API of :mod:`wssc`; the few helpers that rewrite a protected
message (``resign``) recompute digests and the HMAC exactly as a sender holding the context key would,
so that a test can reach the checks that run *after* signature verification.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import os
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from wssc import namespaces as ns
from wssc.primitives import algorithms as alg
from wssc.primitives.xml import c14n
from wssc.security import compiled, dsig
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.result import VerifiedMessage
from wssc.security.unprotect import Receiver
from wssc.tokens.dkt import DerivedKeyToken
from wssc.tokens.sct import SecurityContextToken, new_identifier
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

VERSIONS_BY_NAME = {"1.3": SC_1_3, "2005-02": SC_2005_02}
SUITE_NAMES = ("Basic256", "Basic128", "Basic256Sha256", "Basic128Sha256")

#: prefixes for XPath over protected messages
NSMAP = {
    "s11": ns.SOAP11,
    "s12": ns.SOAP12,
    "wsse": ns.WSSE,
    "wsse11": ns.WSSE11,
    "wsu": ns.WSU,
    "ds": ns.DS,
    "xenc": ns.XENC,
    "sc13": SC_1_3.sc,
    "sc05": SC_2005_02.sc,
    "wsa": ns.WSA10,
    "m": "urn:example:m",
    "x": "urn:example:x",
}

PAYLOAD = (
    b'<m:echo xmlns:m="urn:example:m"><m:text>hello &amp; &lt;world&gt;</m:text><m:n a="1">42</m:n><m:empty/></m:echo>'
)
CUSTOM_HEADER = b'<x:Custom xmlns:x="urn:example:x">custom</x:Custom>'
CUSTOM_TAG = ns.qn("urn:example:x", "Custom")

_SOAP_NS = {"1.1": ns.SOAP11, "1.2": ns.SOAP12}
_ADDRESSING = (
    b"<a:Action>urn:example:echo</a:Action>"
    b"<a:MessageID>urn:uuid:2f1e5c1a-9a51-4bd4-9e57-6c4a1b7d3e01</a:MessageID>"
    b"<a:To>http://localhost/echo</a:To>"
)


def envelope(
    soap: str = "1.2",
    *,
    addressing: bool = True,
    extra_headers: bytes = b"",
    payload: bytes = PAYLOAD,
    header: bool = True,
    wsa_ns: str = ns.WSA10,
) -> bytes:
    """A plain SOAP 1.1 or 1.2 envelope, with WS-Addressing headers unless told otherwise."""
    head = b""
    if header:
        head = b"<s:Header>" + (_ADDRESSING if addressing else b"") + extra_headers + b"</s:Header>"
    return (
        b'<s:Envelope xmlns:s="'
        + _SOAP_NS[soap].encode()
        + b'" xmlns:a="'
        + wsa_ns.encode()
        + b'">'
        + head
        + b"<s:Body>"
        + payload
        + b"</s:Body></s:Envelope>"
    )


@dataclass(frozen=True)
class Context:
    """A security context as both parties know it: the SCT and its key."""

    sct: SecurityContextToken
    key: bytes

    @property
    def identifier(self) -> str:
        return self.sct.identifier

    def token(self, style: str = "local") -> ContextProtection:
        return ContextProtection(self.sct, self.key, style)  # type: ignore[arg-type]

    def resolver(self) -> StaticKeys:
        return StaticKeys({self.identifier: self.key})

    def receiver(self, requirements: Requirements | None = None, **kwargs: object) -> Receiver:
        return Receiver(self.resolver(), requirements, **kwargs)  # type: ignore[arg-type]


def new_context(version: SCVersion = SC_1_3, key: bytes | None = None) -> Context:
    sct = SecurityContextToken(new_identifier(), wsu_id="SCT-" + os.urandom(4).hex(), version=version)
    return Context(sct, key or os.urandom(32))


def protect_msg(
    ctx: Context,
    policy: ProtectionPolicy | None = None,
    *,
    style: str = "local",
    soap: str = "1.2",
    env: bytes | None = None,
    now: dt.datetime | None = None,
    **kwargs: object,
) -> bytes:
    """Protect a sample envelope (or ``env``) under ``policy`` with the context's keys."""
    data = env if env is not None else envelope(soap)
    return protect(data, ctx.token(style), policy, version=ctx.sct.version, now=now, **kwargs).data  # type: ignore[arg-type]


SIGN_ONLY = ProtectionPolicy(encrypt=False)
ENCRYPT_ONLY = ProtectionPolicy(sign=False)


# --- XML access -----------------------------------------------------------------------------------


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def tostring(root: etree._Element) -> bytes:
    return etree.tostring(root)


def xp(node: etree._Element, path: str) -> list[etree._Element]:
    return node.xpath(path, namespaces=NSMAP)  # type: ignore[return-value]


def one(node: etree._Element, path: str) -> etree._Element:
    found = xp(node, path)
    assert len(found) == 1, f"{path}: {len(found)} matches"
    return found[0]


def security(root: etree._Element) -> etree._Element:
    return one(root, "/*/*[local-name()='Header']/wsse:Security")


def body(root: etree._Element) -> etree._Element:
    return one(root, "/*/*[local-name()='Body']")


def by_id(root: etree._Element, value: str) -> etree._Element:
    return one(root, f"//*[@wsu:Id='{value}' or @Id='{value}']")


def dkts(root: etree._Element) -> list[etree._Element]:
    return xp(root, "//wsse:Security/sc13:DerivedKeyToken | //wsse:Security/sc05:DerivedKeyToken")


def sc_child(dkt: etree._Element, local: str) -> etree._Element | None:
    return dkt.find(f"{{{etree.QName(dkt).namespace}}}{local}")


def set_sc_child(dkt: etree._Element, local: str, text: str | None) -> None:
    """Set (or with ``None`` remove) a DerivedKeyToken child, keeping schema order."""
    order = ("Generation", "Offset", "Length", "Label", "Nonce")
    existing = sc_child(dkt, local)
    if text is None:
        if existing is not None:
            dkt.remove(existing)
        return
    if existing is None:
        existing = etree.Element(f"{{{etree.QName(dkt).namespace}}}{local}")
        later = [sc_child(dkt, n) for n in order[order.index(local) + 1 :]]
        later_present = [e for e in later if e is not None]
        if later_present:
            later_present[0].addprevious(existing)
        else:
            dkt.append(existing)
    existing.text = text


def key_info_ref(el: etree._Element) -> str:
    """The URI of the STR Reference in an element's ds:KeyInfo."""
    return one(el, "ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference").get("URI") or ""


def signature(root: etree._Element) -> etree._Element:
    return one(root, "//wsse:Security/ds:Signature")


def signing_key(root: etree._Element, context_key: bytes) -> bytes:
    """The HMAC key of the message's signature, as a holder of the context key computes it."""
    uri = key_info_ref(signature(root))
    target = by_id(root, uri[1:]) if uri.startswith("#") else None
    if target is not None and etree.QName(target).localname == "DerivedKeyToken":
        return DerivedKeyToken.from_element(target).derive(context_key)
    return context_key


def resign(root: etree._Element, context_key: bytes, *, digests: bool = True) -> etree._Element:
    """Recompute every ``#id`` Reference digest (when ``digests``) and the SignatureValue in place."""
    sig = signature(root)
    signed_info = one(sig, "ds:SignedInfo")
    if digests:
        for ref in xp(signed_info, "ds:Reference"):
            uri = ref.get("URI") or ""
            matches = xp(root, f"//*[@wsu:Id='{uri[1:]}' or @Id='{uri[1:]}']") if uri.startswith("#") else []
            if len(matches) != 1:
                continue
            method = one(ref, "ds:DigestMethod").get("Algorithm") or alg.SHA1
            h = hashes.Hash(alg.digest_algorithm(method))
            h.update(c14n(matches[0]))
            one(ref, "ds:DigestValue").text = base64.b64encode(h.finalize()).decode()
    method = one(signed_info, "ds:SignatureMethod").get("Algorithm") or alg.HMAC_SHA1
    value = dsig.hmac_value(method, signing_key(root, context_key), c14n(signed_info))
    one(sig, "ds:SignatureValue").text = base64.b64encode(value).decode()
    return root


def drop_reference(root: etree._Element, element: etree._Element) -> None:
    """Remove the SignedInfo Reference that covers ``element``."""
    wanted = "#" + (element.get(ns.WSU_ID) or element.get("Id") or "")
    for ref in xp(signature(root), "ds:SignedInfo/ds:Reference"):
        if ref.get("URI") == wanted:
            ref.getparent().remove(ref)
            return
    raise AssertionError(f"no reference to {wanted}")


def payload_c14n(body_el: etree._Element) -> list[bytes]:
    return [c14n(child) for child in body_el if isinstance(child.tag, str)]


def plain_payload_c14n(env: bytes) -> list[bytes]:
    return payload_c14n(body(parse(env)))


def flip_b64(text: str, index: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[index % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# --- certificates ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def rsa_identity(name: str = "service") -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed RSA certificate with its private key (cached: key generation is slow)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"wssc-test-{name}")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def sha1_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode()


def names(elements: Iterable[etree._Element]) -> list[str]:
    return [etree.QName(e).localname for e in elements]


def context_round_trip(envelope: bytes, policy: ProtectionPolicy, path: str) -> VerifiedMessage:
    """``envelope`` protected under a fresh context by ``policy`` and verified, with the requirements it meets,
    on ``path``: "core" (the test skipped where the compiled core is not installed) or "python" (forced)."""
    if path == "core" and compiled.core() is None:
        pytest.skip("the compiled core is not installed")
    sct = SecurityContextToken(new_identifier(), wsu_id="sct-1")
    key = os.urandom(32)
    requirements = Requirements(signature=policy.sign, signed_body=policy.sign, timestamp=policy.include_timestamp)
    with compiled.forced_python() if path == "python" else nullcontext():
        data = protect(envelope, ContextProtection(sct, key), policy).data
        return Receiver(StaticKeys({sct.identifier: key}), requirements).unprotect(data)

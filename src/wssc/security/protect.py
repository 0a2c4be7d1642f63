"""Outgoing message protection: the WS-SecurityPolicy symmetric binding (WS-SP 1.2 section 7.4).

Security header layout is ``sp:Strict`` (declare before use, WS-SP 1.2 section 7.7): Timestamp, the
protection token, derived keys, then ``xenc:ReferenceList`` and the (encrypted) signature; with
encrypt-before-signing the signature precedes the ReferenceList so a receiver verifies before it decrypts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.primitives import algorithms as alg
from wssc.primitives.xml import Element, b64encode, local_id, parse, serialize
from wssc.security import dsig, xmlenc
from wssc.security.keys import ProtectionToken
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.security.soap import split
from wssc.security.timestamp import Timestamp
from wssc.tokens import reference as strs
from wssc.tokens.dkt import DerivedKeyToken
from wssc.tokens.reference import SecurityTokenReference
from wssc.versions import SC_1_3, SCVersion

SECURITY_TAG: Final = ns.qn(ns.WSSE, "Security")
_GCM_OF: Final = {alg.AES128_CBC: alg.AES128_GCM, alg.AES192_CBC: alg.AES192_GCM, alg.AES256_CBC: alg.AES256_GCM}


@dataclass(frozen=True)
class ProtectedMessage:
    """The protected envelope and the signature value (for SignatureConfirmation, WSS 1.1 section 8.5)."""

    data: bytes
    signature_value: bytes | None


class _Ids:
    """Message-unique wsu:Id values: a random per-message prefix cannot collide with application ids."""

    def __init__(self) -> None:
        self._prefix = "_" + secrets.token_hex(4) + "-"
        self._n = 0

    def __call__(self, kind: str) -> str:
        self._n += 1
        return f"{kind}{self._prefix}{self._n}"


def _ensure_id(element: Element, ids: _Ids, kind: str) -> str:
    existing = local_id(element)
    if existing:
        return existing
    new = ids(kind)
    element.set(ns.WSU_ID, new)
    return new


def _with_wsu_declared(root: Element) -> Element:
    """Declare ``wsu`` on the Envelope so the wsu:Id attributes added to Body and headers need no local
    declarations (lxml cannot add a declaration to an existing element, so the children move to a new root)."""
    if "wsu" in root.nsmap or root.getparent() is not None:
        return root
    nsmap = {**root.nsmap, "wsu": ns.WSU}  # a None key (default namespace) is valid for lxml
    new_root = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=nsmap)  # type: ignore[arg-type,misc]
    new_root.text = root.text
    for child in list(root):
        new_root.append(child)
    return new_root


def protect(
    envelope: bytes | Element,
    token: ProtectionToken,
    policy: ProtectionPolicy | None = None,
    *,
    version: SCVersion = SC_1_3,
    now: datetime | None = None,
    signature_confirmations: tuple[bytes | None, ...] = (),
) -> ProtectedMessage:
    """Secure a SOAP 1.1 or 1.2 envelope with keys from ``token`` under ``policy``.

    ``signature_confirmations`` are the request signature values a responder confirms
    (``wsse11:SignatureConfirmation``; None confirms an unsigned request).
    """
    policy = policy or ProtectionPolicy()
    root = _with_wsu_declared(parse(envelope) if isinstance(envelope, bytes) else envelope)
    env = split(root, create_header=True)
    assert env.header is not None
    now = now or datetime.now(timezone.utc)
    ids = _Ids()
    suite = policy.suite

    security = etree.Element(SECURITY_TAG, nsmap={"wsse": ns.WSSE, "wsu": ns.WSU, "wsc": version.sc})
    security.set(env.soap.qname("mustUnderstand"), env.soap.must_understand_true)
    env.header.insert(0, security)

    sign_parts: list[tuple[str, Element]] = []
    if policy.include_timestamp:
        ts = Timestamp.new(now, policy.timestamp_ttl, ids("TS")).to_element(security)
        if policy.sign:
            sign_parts.append((ts.get(ns.WSU_ID) or "", ts))

    header_token = token.header_token(security)
    if header_token is not None and policy.protect_tokens and policy.sign:
        sign_parts.append((_ensure_id(header_token, ids, "T"), header_token))
    base_ref = token.reference(version)

    def key_for(length: int) -> tuple[bytes, SecurityTokenReference]:
        if not policy.derived_keys:
            return token.secret, base_ref
        dkt = DerivedKeyToken.create(base_ref, length, version=version, wsu_id=ids("DK"))
        dkt.to_element(security)
        return dkt.derive(token.secret), strs.local(dkt.wsu_id or "")

    for confirmation in signature_confirmations:
        sc = etree.SubElement(security, ns.qn(ns.WSSE11, "SignatureConfirmation"), nsmap={"wsse11": ns.WSSE11})
        sc.set(ns.WSU_ID, ids("SC"))
        if confirmation is not None:
            sc.set("Value", b64encode(confirmation))
        if policy.sign:
            sign_parts.append((sc.get(ns.WSU_ID) or "", sc))

    sign_key = sign_ref = enc_key = enc_ref = None
    if policy.sign:
        sign_key, sign_ref = key_for(suite.signature_key_length)
    if policy.encrypt:
        enc_key, enc_ref = key_for(suite.encryption_key_length)
    if policy.sign:
        sign_parts.append((_ensure_id(env.body, ids, "Body"), env.body))
        for header in env.header:
            if header is security or not isinstance(header.tag, str):
                continue
            qname = etree.QName(header)
            if (policy.sign_addressing_headers and qname.namespace in ns.WSA_NAMESPACES) or (
                header.tag in policy.signed_headers
            ):
                sign_parts.append((_ensure_id(header, ids, "H"), header))

    cipher = _GCM_OF.get(suite.encryption, suite.encryption) if policy.use_gcm else suite.encryption
    data_refs: list[str] = []

    def encrypt_parts() -> None:
        assert enc_key is not None and enc_ref is not None and env.header is not None
        for header in list(env.header):
            if header is not security and header.tag in policy.encrypted_headers:
                ed = xmlenc.encrypt_element(header, ed_id=ids("ED"), algorithm=cipher, key=enc_key, key_info=enc_ref)
                data_refs.append(ed.get("Id") or "")
        ed = xmlenc.encrypt_content(env.body, ed_id=ids("ED"), algorithm=cipher, key=enc_key, key_info=enc_ref)
        data_refs.append(ed.get("Id") or "")

    def reference_list() -> Element:
        ref_list = etree.SubElement(security, xmlenc.REFERENCE_LIST_TAG, nsmap={"xenc": ns.XENC})
        for uri in data_refs:
            etree.SubElement(ref_list, xmlenc.DATA_REFERENCE_TAG, URI="#" + uri)
        return ref_list

    signature_value = None
    if policy.order is ProtectionOrder.ENCRYPT_BEFORE_SIGN and policy.encrypt:
        encrypt_parts()
    if policy.sign:
        assert sign_key is not None and sign_ref is not None
        signature, signature_value = dsig.sign(
            sign_parts,
            key=sign_key,
            method=suite.symmetric_signature,
            digest=suite.digest,
            key_info=sign_ref,
            signature_id=ids("SIG"),
        )
        security.append(signature)
        if policy.encrypt and policy.order is ProtectionOrder.SIGN_BEFORE_ENCRYPT:
            encrypt_parts()
            if policy.encrypt_signature:
                assert enc_key is not None and enc_ref is not None
                ed = xmlenc.encrypt_element(signature, ed_id=ids("ED"), algorithm=cipher, key=enc_key, key_info=enc_ref)
                data_refs.append(ed.get("Id") or "")
            ed_or_sig = security[-1]
            ed_or_sig.addprevious(reference_list())
        elif policy.encrypt:
            reference_list()
    else:
        if policy.order is not ProtectionOrder.ENCRYPT_BEFORE_SIGN:
            encrypt_parts()
        reference_list()
    return ProtectedMessage(serialize(root), signature_value)

"""Outgoing message protection: the WS-SecurityPolicy symmetric binding (WS-SP 1.2 section 7.4).

Security header layout is ``sp:Strict`` (declare before use, WS-SP 1.2 section 7.7): Timestamp, the
protection token, derived keys, then ``xenc:ReferenceList`` and the (encrypted) signature; with
encrypt-before-signing the signature precedes the ReferenceList so a receiver verifies before it decrypts.

The envelope is parsed once; Body and headers are canonicalised from that tree for their digests, while
the Security header, the signature and the EncryptedData are written as text (SignedInfo and Timestamp
directly in canonical form) and spliced into the serialised envelope in place of unique placeholder
elements.  This keeps lxml's per-element cost out of the hot path (see ``wssc bench``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from wssc import namespaces as ns
from wssc.limits import TIMESTAMP_VALIDITY
from wssc.primitives import algorithms as alg
from wssc.primitives.xml import Element, b64encode, c14n, escape_attr, local_id, parse, serialize
from wssc.security import compiled, compiled_protect, dsig, xmlenc
from wssc.security.keys import ProtectionToken
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.security.soap import split
from wssc.security.timestamp import Timestamp
from wssc.tokens import reference as strs
from wssc.tokens.dkt import DerivedKeyToken
from wssc.tokens.reference import SecurityTokenReference
from wssc.tokens.x509 import X509Token
from wssc.versions import SC_1_3, SCVersion

SECURITY_TAG: Final = ns.qn(ns.WSSE, "Security")
_PLACEHOLDER_NS: Final = "urn:wssc:placeholder"
#: one object, so that what is derived from the default policy (the core's options) is derived once
_DEFAULT_POLICY: Final = ProtectionPolicy()
_PLACEHOLDER_TAG: Final = ns.qn(_PLACEHOLDER_NS, "p")


@dataclass(frozen=True)
class EndorsingToken:
    """A further credential that signs the primary signature (WS-SP 1.2 section 8.3, endorsing supporting
    token): an X.509 key proving a client identity, or a context key over HTTPS (TransportWithMessageCredential).
    ``token_xml`` is the token to carry in the header (a BinarySecurityToken), None when it is referenced."""

    key: bytes | rsa.RSAPrivateKey = field(repr=False)
    key_info: SecurityTokenReference
    method: str
    token_xml: str | None = None

    @classmethod
    def x509(cls, certificate: x509.Certificate, private_key: rsa.RSAPrivateKey, method: str) -> EndorsingToken:
        """The certificate carried as a BinarySecurityToken whose key signs the primary signature with ``method``."""
        token = X509Token.for_message(certificate)
        return cls(private_key, token.reference("bst"), method, token.to_xml())


@dataclass(frozen=True)
class AsymmetricSigner:
    """The primary signature of an asymmetric binding (WS-SP 1.2 section 7.5, ``sp:InitiatorToken`` /
    ``sp:RecipientToken``): an RSA key whose certificate travels as ``token_xml`` (a BinarySecurityToken)
    or is referenced by ``key_info``; encryption still uses the message's protection token."""

    key: rsa.RSAPrivateKey = field(repr=False)
    key_info: SecurityTokenReference
    token_xml: str | None = None


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


class _Splicer:
    """Placeholder elements in the tree, replaced by XML text after serialisation."""

    def __init__(self) -> None:
        self._token = secrets.token_hex(8)
        self._texts: list[tuple[bytes, bytes]] = []

    def element(self, text: str) -> Element:
        # A fixed tag (lxml interns tag names for good); uniqueness comes from the attribute value.
        el = etree.Element(_PLACEHOLDER_TAG, nsmap={"wsscp": _PLACEHOLDER_NS})
        el.set("n", f"{self._token}-{len(self._texts)}")
        self._texts.append((etree.tostring(el, encoding="utf-8"), text.encode("utf-8")))
        return el

    def apply(self, data: bytes) -> bytes:
        for marker, text in self._texts:
            data = data.replace(marker, text, 1)
        return data


def _ensure_id(element: Element, ids: _Ids, kind: str) -> str:
    existing = local_id(element)
    if existing:
        return existing
    new = ids(kind)
    element.set(ns.WSU_ID, new)
    return new


def _with_wsu_declared(root: Element) -> Element:
    """The envelope with the utility namespace declared on the Envelope as ``u`` (WCF's prefix: Mono's WCF
    re-serialises the WS-Addressing headers it verifies with ``u:Id`` and an Envelope-level ``xmlns:u``, so
    any other prefix breaks their digests there), so that the wsu:Id attributes added to the Body and the
    headers need no declarations of their own.

    lxml cannot add a declaration to an element, and moving the children under a new root that declares it
    would re-point every name of theirs at a declaration of the same URI found above, whatever its prefix:
    an element written with a prefix its header binds again would change namespace on the wire, and what was
    signed would not be what is sent.  The declaration is written into the serialised Envelope's start tag
    instead, and the result parsed again: every name keeps the binding it had."""
    if ns.WSU in root.nsmap.values() or "u" in root.nsmap or root.getparent() is not None:
        return root
    data = etree.tostring(root, encoding="utf-8")  # not ASCII: a non-ASCII name would become a reference
    head = ("<" + (f"{root.prefix}:" if root.prefix else "") + etree.QName(root).localname).encode()
    if not data.startswith(head):  # lxml writes the start tag it read; anything else is a bug of ours
        raise ValueError("the Envelope does not serialise as it was read")
    return parse(head + f' xmlns:u="{ns.WSU}"'.encode() + data[len(head) :])


def protect(
    envelope: bytes | Element,
    token: ProtectionToken,
    policy: ProtectionPolicy | None = None,
    *,
    version: SCVersion = SC_1_3,
    now: datetime | None = None,
    signature_confirmations: tuple[bytes | None, ...] = (),
    endorsing: Sequence[EndorsingToken] = (),
    supporting_tokens: Sequence[tuple[str, str]] = (),
    signer: AsymmetricSigner | None = None,
) -> ProtectedMessage:
    """Secure a SOAP 1.1 or 1.2 envelope with keys from ``token`` under ``policy``.

    ``signature_confirmations`` are the request signature values a responder confirms
    (``wsse11:SignatureConfirmation``; None confirms an unsigned request).  ``endorsing`` tokens each
    sign the primary signature (they need ``policy.sign``).  ``supporting_tokens`` are ``(wsu:Id, XML text)``
    of tokens such as a UsernameToken, signed and encrypted with the message (WS-SP 1.2 section 8.4,
    SignedEncryptedSupportingTokens, as WCF's UserNameForCertificate sends them).  ``signer`` makes the
    primary signature an RSA signature (asymmetric binding, WCF MutualCertificate).
    """
    policy = policy or _DEFAULT_POLICY
    now = now or datetime.now(timezone.utc)
    core = compiled.core()
    if core is not None and isinstance(envelope, bytes) and not (endorsing or supporting_tokens or signer):
        done = compiled_protect.protect(core, envelope, token, policy, version, now, signature_confirmations)
        if done is not None:
            return ProtectedMessage(*done)
    root = _with_wsu_declared(parse(envelope) if isinstance(envelope, bytes) else envelope)
    env = split(root, create_header=True)
    assert env.header is not None
    ids = _Ids()
    splice = _Splicer()
    suite = policy.suite
    soap = env.soap

    header_parts: list[str] = []  # Security header children, in order
    sign_parts: list[tuple[str, bytes]] = []
    if policy.include_timestamp:
        ts = Timestamp.new(now, policy.timestamp_ttl, ids("TS"))
        ts_xml = ts.canonical_xml()
        header_parts.append(ts_xml)
        if policy.sign:
            sign_parts.append((ts.wsu_id or "", ts_xml.encode("utf-8")))

    token_el = token.header_token(etree.Element("x"))
    if token_el is not None:
        header_parts.append(etree.tostring(token_el, encoding="unicode"))
        if policy.protect_tokens and policy.sign:
            token_id = local_id(token_el)
            if not token_id:
                raise ValueError("sp:ProtectTokens needs a protection token with an Id")
            sign_parts.append((token_id, c14n(token_el)))
    base_ref = token.reference(version)
    supporting_at: list[tuple[int, str, str]] = []  # (header_parts index, wsu:Id, XML)
    encrypted_supporting: list[str] = []
    for token_id, token_xml in supporting_tokens:
        supporting_at.append((len(header_parts), token_id, token_xml))
        header_parts.append(token_xml)
        if policy.sign and not (policy.encrypt and policy.order is ProtectionOrder.ENCRYPT_BEFORE_SIGN):
            sign_parts.append((token_id, c14n(etree.fromstring(token_xml))))
    endorsing_tokens_at = len(header_parts)
    if endorsing and not policy.sign:
        raise ValueError("endorsing tokens sign the primary signature: the policy must sign")

    def key_for(length: int) -> tuple[bytes, str]:
        if not policy.derived_keys:
            return token.secret, base_ref.to_xml()
        dkt = DerivedKeyToken.create(base_ref, length, version=version, wsu_id=ids("DK"))
        header_parts.append(dkt.to_xml())
        return dkt.derive(token.secret), strs.local(dkt.wsu_id or "").to_xml()

    for confirmation in signature_confirmations:
        sc_id = ids("SC")
        value = "" if confirmation is None else f' Value="{b64encode(confirmation)}"'
        sc_xml = (
            f'<wsse11:SignatureConfirmation xmlns:wsse11="{ns.WSSE11}" xmlns:wsu="{ns.WSU}"{value} '
            f'wsu:Id="{sc_id}"></wsse11:SignatureConfirmation>'
        )
        header_parts.append(sc_xml)
        if policy.sign:
            sign_parts.append((sc_id, sc_xml.encode("utf-8")))

    sign_key = enc_key = b""
    sign_ki = enc_ki = ""
    if policy.sign:
        if signer is None:
            sign_key, sign_ki = key_for(suite.signature_key_length)
        else:
            if signer.token_xml is not None:
                header_parts.insert(endorsing_tokens_at, signer.token_xml)
                endorsing_tokens_at += 1
            sign_ki = signer.key_info.to_xml()
    if policy.encrypt:
        enc_key, enc_ki = key_for(suite.encryption_key_length)

    signed_elements: list[tuple[str, Element]] = []
    if policy.sign and policy.sign_body:
        signed_elements.append((_ensure_id(env.body, ids, "Body"), env.body))
    if policy.sign:
        for header in env.header:
            if not isinstance(header.tag, str):
                continue
            wanted = header.tag in policy.signed_headers or (
                policy.sign_addressing_headers and etree.QName(header).namespace in ns.WSA_NAMESPACES
            )
            if wanted:
                signed_elements.append((_ensure_id(header, ids, "H"), header))

    cipher = alg.gcm_variant(suite.encryption) if policy.use_gcm else suite.encryption
    data_refs: list[str] = []
    encrypt_first = policy.encrypt and (policy.order is ProtectionOrder.ENCRYPT_BEFORE_SIGN or not policy.sign)

    def encrypt_parts(in_tree: bool) -> None:
        """Encrypt the listed headers and the Body content; ``in_tree`` when a signature must cover them."""
        assert env.header is not None
        for index, _token_id, token_xml in supporting_at:
            ed_id = ids("ED")
            ed_xml = xmlenc.encrypted_data_xml(ed_id, ns.XENC_ELEMENT, cipher, enc_key, token_xml.encode(), enc_ki)
            header_parts[index] = ""  # the EncryptedData follows its ReferenceList (Strict: declare before use)
            encrypted_supporting.append(ed_xml)
            data_refs.append(ed_id)
            if in_tree:  # encrypt-before-sign: sign the EncryptedData that is on the wire
                sign_parts.append((ed_id, c14n(etree.fromstring(ed_xml))))
        for header in list(env.header):
            if header.tag in policy.encrypted_headers:
                ed_id = ids("ED")
                text = xmlenc.encrypted_data_xml(
                    ed_id, ns.XENC_ELEMENT, cipher, enc_key, etree.tostring(header, encoding="utf-8"), enc_ki
                )
                tail, header.tail = header.tail, None
                replacement = etree.fromstring(text) if in_tree else splice.element(text)
                env.header.replace(header, replacement)
                replacement.tail = tail
                data_refs.append(ed_id)
                # Encrypt-before-sign: the signature covers what is on the wire, the EncryptedData.
                signed_elements[:] = [(ed_id, replacement) if el is header else (i, el) for i, el in signed_elements]
        ed_id = ids("ED")
        text = xmlenc.encrypted_data_xml(
            ed_id, ns.XENC_CONTENT, cipher, enc_key, xmlenc.content_bytes(env.body), enc_ki
        )
        env.body.text = None
        for child in list(env.body):
            env.body.remove(child)
        env.body.append(etree.fromstring(text) if in_tree else splice.element(text))
        data_refs.append(ed_id)

    def reference_list() -> str:
        """The ReferenceList, followed by the encrypted supporting tokens it lists."""
        refs = "".join(f'<xenc:DataReference URI="#{escape_attr(uri)}"/>' for uri in data_refs)
        return f'<xenc:ReferenceList xmlns:xenc="{ns.XENC}">{refs}</xenc:ReferenceList>' + "".join(encrypted_supporting)

    signature_value = None
    if encrypt_first:
        encrypt_parts(in_tree=policy.sign)
    if policy.sign:
        sign_parts.extend((wsu_id, c14n(el)) for wsu_id, el in signed_elements)
        primary_id = ids("SIG")
        sig_xml, signature_value = dsig.sign(
            sign_parts,
            key=sign_key if signer is None else signer.key,
            method=suite.symmetric_signature if signer is None else suite.asymmetric_signature,
            digest=suite.digest,
            key_info_xml=sign_ki,
            signature_id=primary_id,
        )
        endorsements = []
        if endorsing:
            primary = [(primary_id, c14n(etree.fromstring(sig_xml)))]
            for position, extra in enumerate(endorsing):
                if extra.token_xml is not None:
                    header_parts.insert(endorsing_tokens_at + position, extra.token_xml)
                endorsement, _ = dsig.sign(
                    primary,
                    key=extra.key,
                    method=extra.method,
                    digest=suite.digest,
                    key_info_xml=extra.key_info.to_xml(),
                    signature_id=ids("ESIG"),
                )
                endorsements.append(endorsement)
        if encrypt_first or not policy.encrypt:
            header_parts.append(sig_xml)
            header_parts.extend(endorsements)
            if policy.encrypt:
                header_parts.append(reference_list())
        else:
            encrypt_parts(in_tree=False)
            if policy.encrypt_signature:
                # sp:EncryptSignature covers every signature, endorsing ones included (as WCF and Mono send).
                encrypted = []
                for signature in (sig_xml, *endorsements):
                    ed_id = ids("ED")
                    encrypted.append(
                        xmlenc.encrypted_data_xml(
                            ed_id, ns.XENC_ELEMENT, cipher, enc_key, signature.encode("utf-8"), enc_ki
                        )
                    )
                    data_refs.append(ed_id)
                sig_xml, endorsements = encrypted[0], encrypted[1:]
            header_parts.append(reference_list())
            header_parts.append(sig_xml)
            header_parts.extend(endorsements)
    else:
        header_parts.append(reference_list())

    security_xml = (
        f'<wsse:Security xmlns:wsse="{ns.WSSE}" xmlns:wsu="{ns.WSU}" xmlns:wsc="{version.sc}" '
        f'xmlns:soapenv="{soap.namespace}" soapenv:mustUnderstand="{soap.must_understand_true}">'
        + "".join(header_parts)
        + "</wsse:Security>"
    )
    env.header.insert(0, splice.element(security_xml))
    return ProtectedMessage(splice.apply(serialize(root)), signature_value)


def add_transport_header(
    envelope: bytes | Element,
    *,
    now: datetime | None = None,
    ttl: timedelta = TIMESTAMP_VALIDITY,
    supporting_tokens: Sequence[str] = (),
) -> bytes:
    """A Security header with a Timestamp and plain supporting tokens, no signature or encryption: the
    message-level part of ``sp:TransportBinding`` (WS-SP 1.2 section 7.3), where HTTPS protects the rest
    (WCF TransportWithMessageCredential: a UsernameToken sent over TLS)."""
    root = _with_wsu_declared(parse(envelope) if isinstance(envelope, bytes) else envelope)
    env = split(root, create_header=True)
    assert env.header is not None
    stamp = Timestamp.new(now or datetime.now(timezone.utc), ttl, "TS-" + secrets.token_hex(8))
    splice = _Splicer()
    security_xml = (
        f'<wsse:Security xmlns:wsse="{ns.WSSE}" xmlns:wsu="{ns.WSU}" xmlns:soapenv="{env.soap.namespace}" '
        f'soapenv:mustUnderstand="{env.soap.must_understand_true}">'
        + stamp.canonical_xml()
        + "".join(supporting_tokens)
        + "</wsse:Security>"
    )
    env.header.insert(0, splice.element(security_xml))
    return splice.apply(serialize(root))

"""What a protected SOAP message says it is, read without trusting any of it (for ``wssc inspect``).

A sans-I/O reader that lists a message's WS-Addressing headers, its Timestamp, the tokens of its Security header
(WS-Security 1.1 section 6: ``wsc:SecurityContextToken`` and ``wsc:DerivedKeyToken`` of WS-SC 1.3 sections 3 and
7, ``xenc:EncryptedKey``, ``wsse:BinarySecurityToken``, ``wsse:UsernameToken``), its signatures (XML-DSig
``SignedInfo``: algorithms, references, the key's token) and its encrypted parts (XML-Enc ``EncryptedData``:
algorithm, key).  Nothing here verifies, decrypts or resolves a reference outside the message: the claims are
reported as claims; :class:`~wssc.security.unprotect.Receiver` is what checks them.  The document is parsed with
the hardened parser (no DTD, no entity, no network).  A UsernameToken's password is never read, only its Type.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from cryptography import x509
from lxml import etree

from wssc import namespaces as ns
from wssc.primitives.xml import Element, b64decode, parse
from wssc.security.soap import soap_version_of

#: ``ds:Reference`` and ``xenc:DataReference`` entries listed per signature or key, at most
MAX_LISTED: Final = 64
_ID_ATTRIBUTES: Final = (ns.WSU_ID, "Id", "ID", ns.qn(ns.XML, "id"))


@dataclass(frozen=True)
class Token:
    """One token of the Security header: its kind, wsu:Id and what it says (name, value pairs)."""

    kind: str
    id: str | None
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Signature:
    id: str | None
    algorithm: str
    canonicalization: str
    #: (what the reference points at, its URI, digest algorithm)
    references: tuple[tuple[str, str, str], ...]
    #: the signing key, as the KeyInfo names it, followed to the token it derives from
    key: str


@dataclass(frozen=True)
class Encrypted:
    id: str | None
    #: what was encrypted: ``Body content``, ``header``, ``Signature``...
    part: str
    algorithm: str
    key: str


@dataclass(frozen=True)
class Anatomy:
    soap: str
    addressing: tuple[tuple[str, str], ...]
    timestamp: tuple[str, str] | None
    tokens: tuple[Token, ...]
    signatures: tuple[Signature, ...]
    encrypted: tuple[Encrypted, ...]
    fault: bool = False
    #: the Body's child elements (Clark names) when the Body is not encrypted
    body: tuple[str, ...] = field(default=())


def _local(element: Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _id(element: Element) -> str | None:
    return next((element.get(a) for a in _ID_ATTRIBUTES if element.get(a)), None)


def _children(element: Element) -> Iterator[Element]:
    return (c for c in element if isinstance(c.tag, str))


def _text(element: Element | None, local: str) -> str | None:
    if element is None:
        return None
    found = next((c for c in _children(element) if _local(c) == local), None)
    return (found.text or "").strip() if found is not None else None


class _Reader:
    def __init__(self, root: Element) -> None:
        self.root = root
        self.by_id: dict[str, Element] = {}
        for element in root.iter():
            if isinstance(element.tag, str) and (identifier := _id(element)):
                self.by_id.setdefault(identifier, element)

    def describe(self, element: Element) -> str:
        """An element as a reader names it: ``Body``, ``Timestamp``, ``Action header``, ``DerivedKeyToken DK-1``."""
        local = _local(element)
        parent = element.getparent()
        if parent is not None and _local(parent) == "Header" and local != "Security":
            return f"{local} header"
        identifier = _id(element)
        return f"{local} {identifier}" if identifier and local not in ("Body", "Timestamp") else local

    def target(self, uri: str) -> str:
        if not uri:
            return "the whole document"
        if uri.startswith("#"):
            found = self.by_id.get(uri[1:])
            return self.describe(found) if found is not None else f"{uri} (not in the message)"
        return f"{uri} (outside the message: not followed)"

    def key(self, key_info: Element | None, depth: int = 0) -> str:
        """The key a KeyInfo (or STR) names, followed through local references to the tokens it derives from."""
        if key_info is None:
            return "not named (implied by the context)"
        for str_ in key_info.iter(ns.qn(ns.WSSE, "SecurityTokenReference")):
            reference = str_.find(ns.qn(ns.WSSE, "Reference"))
            if reference is not None:
                uri = reference.get("URI", "")
                if uri.startswith("#") and uri[1:] in self.by_id:
                    return self.token_chain(self.by_id[uri[1:]], depth)
                kind = (reference.get("ValueType") or "").rpartition("/")[2] or "token"
                return f"{kind} {uri} (not in this message)"
            identifier = str_.find(ns.qn(ns.WSSE, "KeyIdentifier"))
            if identifier is not None:
                kind = (identifier.get("ValueType") or "").rpartition("#")[2] or "KeyIdentifier"
                return f"{kind} {(identifier.text or '').strip()}"
            if str_.find(ns.qn(ns.DS, "X509Data")) is not None:
                return "X509Data (issuer and serial)"
        if key_info.find(ns.qn(ns.XENC, "EncryptedKey")) is not None:
            return "an EncryptedKey inside the KeyInfo"
        return "a KeyInfo this reader does not know"

    def token_chain(self, token: Element, depth: int) -> str:
        name = self.describe(token)
        local = _local(token)
        if local == "SecurityContextToken":
            instance = _text(token, "Instance")
            return f"{name} ({_text(token, 'Identifier')}{', Instance ' + instance if instance else ''})"
        if local in ("DerivedKeyToken", "EncryptedKey") and depth < 4:
            base = token.find(ns.qn(ns.WSSE, "SecurityTokenReference"))
            if local == "EncryptedKey":
                base = token.find(ns.qn(ns.DS, "KeyInfo"))
            return f"{name} <- {self.key(base, depth + 1)}"
        return name


def _token(reader: _Reader, element: Element) -> Token | None:
    local = _local(element)
    if local == "SecurityContextToken":
        pairs = [("Identifier", _text(element, "Identifier")), ("Instance", _text(element, "Instance"))]
        if any(_local(c) == "Cookie" for c in element.iter() if isinstance(c.tag, str)):
            pairs.append(("Cookie", "present (a stateless context)"))
    elif local == "DerivedKeyToken":
        pairs = [(name, _text(element, name)) for name in ("Nonce", "Length", "Offset", "Generation", "Label")]
        pairs += [("Algorithm", element.get("Algorithm")), ("from", reader.key(element))]
    elif local == "EncryptedKey":
        method = element.find(ns.qn(ns.XENC, "EncryptionMethod"))
        uris = [r.get("URI", "") for r in element.iter(ns.qn(ns.XENC, "DataReference"))][:MAX_LISTED]
        pairs = [("Algorithm", method.get("Algorithm") if method is not None else None)]
        pairs += [("to", reader.key(element.find(ns.qn(ns.DS, "KeyInfo")))), ("encrypts", " ".join(uris) or None)]
    elif local == "BinarySecurityToken":
        pairs = [("ValueType", element.get("ValueType"))]
        if element.get("ValueType") == ns.X509V3:
            pairs += _certificate(element.text)
    elif local == "UsernameToken":
        password = element.find(ns.qn(ns.WSSE, "Password"))
        kind = (password.get("Type") or "#PasswordText").rpartition("#")[2] if password is not None else None
        pairs = [("Username", _text(element, "Username")), ("Password", f"{kind} (not shown)" if kind else None)]
        pairs += [("Nonce", "present" if _text(element, "Nonce") else None), ("Created", _text(element, "Created"))]
    elif local == "SignatureConfirmation":
        pairs = [("Value", "present" if element.get("Value") else "absent (the request was not signed)")]
    else:
        return None
    return Token(local, _id(element), tuple((k, v) for k, v in pairs if v))


def _certificate(text: str | None) -> list[tuple[str, str | None]]:
    try:
        certificate = x509.load_der_x509_certificate(b64decode(text, "certificate"))
        return [("Subject", certificate.subject.rfc4514_string()), ("Issuer", certificate.issuer.rfc4514_string())]
    except ValueError as error:
        return [("Certificate", f"does not parse ({error})")]


def _signature(reader: _Reader, element: Element) -> Signature:
    signed_info = element.find(ns.qn(ns.DS, "SignedInfo"))
    if signed_info is None:
        return Signature(_id(element), "-", "-", (), "no SignedInfo")
    method = signed_info.find(ns.qn(ns.DS, "SignatureMethod"))
    c14n = signed_info.find(ns.qn(ns.DS, "CanonicalizationMethod"))
    references = []
    for reference in signed_info.findall(ns.qn(ns.DS, "Reference"))[:MAX_LISTED]:
        digest = reference.find(ns.qn(ns.DS, "DigestMethod"))
        uri = reference.get("URI", "")
        references.append((reader.target(uri), uri, digest.get("Algorithm", "-") if digest is not None else "-"))
    return Signature(
        _id(element),
        method.get("Algorithm", "-") if method is not None else "-",
        c14n.get("Algorithm", "-") if c14n is not None else "-",
        tuple(references),
        reader.key(element.find(ns.qn(ns.DS, "KeyInfo"))),
    )


def _encrypted(reader: _Reader, element: Element) -> Encrypted:
    parent = element.getparent()
    where = _local(parent) if parent is not None else ""
    part = {"Body": "Body content", "EncryptedHeader": "header", "Header": "header"}.get(where, f"{where} element")
    if where == "Security":
        part = "Security header element (an encrypted Signature or token)"
    method = element.find(ns.qn(ns.XENC, "EncryptionMethod"))
    key_info = element.find(ns.qn(ns.DS, "KeyInfo"))
    key = reader.key(key_info) if key_info is not None else _referenced_by(reader, element)
    return Encrypted(_id(element), part, method.get("Algorithm", "-") if method is not None else "-", key)


def _referenced_by(reader: _Reader, element: Element) -> str:
    """The EncryptedKey whose ReferenceList names an EncryptedData without its own KeyInfo."""
    identifier = _id(element)
    for key in reader.root.iter(ns.qn(ns.XENC, "EncryptedKey")):
        if any(r.get("URI") == f"#{identifier}" for r in key.iter(ns.qn(ns.XENC, "DataReference"))):
            return reader.token_chain(key, 0)
    return "not named"


def read(data: bytes) -> Anatomy:
    """The anatomy of one SOAP message (raises :class:`~wssc.errors.WsscError` when it is no SOAP envelope)."""
    root = parse(data)
    soap = soap_version_of(root)
    reader = _Reader(root)
    header, body = root.find(soap.qname("Header")), root.find(soap.qname("Body"))
    addressing: list[tuple[str, str]] = []
    tokens: list[Token] = []
    signatures: list[Signature] = []
    timestamp = None
    for child in _children(header) if header is not None else ():
        namespace = etree.QName(child).namespace
        if namespace in ns.WSA_NAMESPACES:
            value = _text(child, "Address") if _local(child) in ("ReplyTo", "FaultTo", "From") else child.text
            addressing.append((_local(child), (value or "").strip()))
        elif _local(child) == "Security":
            for item in _children(child):
                if _local(item) == "Timestamp":
                    timestamp = (_text(item, "Created") or "-", _text(item, "Expires") or "-")
                elif _local(item) == "Signature" and etree.QName(item).namespace == ns.DS:
                    signatures.append(_signature(reader, item))
                elif (token := _token(reader, item)) is not None:
                    tokens.append(token)
    encrypted = [_encrypted(reader, e) for e in root.iter(ns.qn(ns.XENC, "EncryptedData"))]
    payload = [c for c in _children(body)] if body is not None else []
    fault = any(_local(c) == "Fault" for c in payload)
    plain = tuple(c.tag for c in payload if not (_local(c) == "EncryptedData" and etree.QName(c).namespace == ns.XENC))
    return Anatomy(
        soap.name,
        tuple(addressing),
        timestamp,
        tuple(tokens),
        tuple(signatures),
        tuple(encrypted),
        fault,
        plain,
    )

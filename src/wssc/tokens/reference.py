"""wsse:SecurityTokenReference in the forms peers use (WS-Security 1.1 section 7; WS-SC 1.3 sections 3 and 7).

- :class:`Reference`: ``wsse:Reference URI="#id"`` (local, with or without ValueType) or ``URI="<Identifier>"``
  with the ``/sct`` ValueType and an optional ``wsc:Instance`` attribute (external SCT reference);
- :class:`KeyIdentifier`: EncryptedKeySHA1, X.509 ThumbprintSHA1 or SubjectKeyIdentifier;
- :class:`IssuerSerial`: ``ds:X509Data/ds:X509IssuerSerial``;
- an implied derived key: ``wsc:Nonce`` / ``wsc:Length`` attributes on the STR (WS-SC 1.3 section 7.3).

Hand-written: no maintained Python library models WS-Security token references.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurity, UnsupportedSecurityToken
from wssc.primitives.xml import Element, b64decode, b64encode, escape_attr, is_ascii_digits
from wssc.versions import VERSIONS, SCVersion

STR_TAG = ns.qn(ns.WSSE, "SecurityTokenReference")
_REFERENCE = ns.qn(ns.WSSE, "Reference")
_KEY_IDENTIFIER = ns.qn(ns.WSSE, "KeyIdentifier")
_X509DATA = ns.qn(ns.DS, "X509Data")
_ISSUER_SERIAL = ns.qn(ns.DS, "X509IssuerSerial")
_TOKEN_TYPE = ns.qn(ns.WSSE11, "TokenType")
_INSTANCE_ATTRS = tuple(v.sc_qname("Instance") for v in VERSIONS)
_IMPLIED_ATTRS = tuple((v, v.sc_qname("Nonce"), v.sc_qname("Length")) for v in VERSIONS)


@dataclass(frozen=True)
class Reference:
    """``wsse:Reference``: a local ``#id`` or an external URI such as an SCT Identifier."""

    uri: str
    value_type: str | None = None
    instance: str | None = None

    @property
    def is_local(self) -> bool:
        return self.uri.startswith("#")

    @property
    def local_id(self) -> str:
        return self.uri[1:]


@dataclass(frozen=True)
class KeyIdentifier:
    """``wsse:KeyIdentifier`` with its ValueType (EncryptedKeySHA1, ThumbprintSHA1, X509SubjectKeyIdentifier)."""

    value_type: str
    value: bytes


@dataclass(frozen=True)
class IssuerSerial:
    issuer: str
    serial: int


Target = Reference | KeyIdentifier | IssuerSerial


@dataclass(frozen=True)
class SecurityTokenReference:
    target: Target
    wsu_id: str | None = None
    token_type: str | None = None
    #: implied derived key (WS-SC 1.3 section 7.3): nonce and optional length attributes
    implied_nonce: bytes | None = None
    implied_length: int | None = None
    implied_version: SCVersion | None = None

    @property
    def implies_derived_key(self) -> bool:
        return self.implied_nonce is not None

    def to_element(self, parent: Element | None = None) -> Element:
        """Build the XML form (as a child of ``parent`` when given)."""
        tag = STR_TAG
        el = etree.Element(tag) if parent is None else etree.SubElement(parent, tag)
        if self.wsu_id:
            el.set(ns.WSU_ID, self.wsu_id)
        if self.token_type:
            el.set(_TOKEN_TYPE, self.token_type)
        if self.implied_nonce is not None:
            version = self.implied_version or VERSIONS[0]
            el.set(version.sc_qname("Nonce"), b64encode(self.implied_nonce))
            if self.implied_length is not None:
                el.set(version.sc_qname("Length"), str(self.implied_length))
        target = self.target
        if isinstance(target, Reference):
            ref = etree.SubElement(el, _REFERENCE, URI=target.uri)
            if target.value_type:
                ref.set("ValueType", target.value_type)
            if target.instance is not None:
                sc_ns = (target.value_type or VERSIONS[0].sc).rsplit("/", 1)[0]
                ref.set(ns.qn(sc_ns, "Instance"), target.instance)
        elif isinstance(target, KeyIdentifier):
            ki = etree.SubElement(el, _KEY_IDENTIFIER, ValueType=target.value_type, EncodingType=ns.BASE64_ENCODING)
            ki.text = b64encode(target.value)
        else:
            data = etree.SubElement(el, _X509DATA)
            iss = etree.SubElement(data, _ISSUER_SERIAL)
            etree.SubElement(iss, ns.qn(ns.DS, "X509IssuerName")).text = target.issuer
            etree.SubElement(iss, ns.qn(ns.DS, "X509SerialNumber")).text = str(target.serial)
        return el

    def to_xml(self) -> str:
        """Self-contained XML text (namespaces declared); the fast path for messages being built."""
        target = self.target
        if self.wsu_id or self.token_type or self.implied_nonce is not None or isinstance(target, IssuerSerial):
            return etree.tostring(self.to_element(), encoding="unicode")
        if isinstance(target, Reference):
            if target.instance is not None:
                return etree.tostring(self.to_element(), encoding="unicode")
            value_type = "" if not target.value_type else f' ValueType="{escape_attr(target.value_type)}"'
            inner = f'<wsse:Reference URI="{escape_attr(target.uri)}"{value_type}/>'
        else:
            inner = (
                f'<wsse:KeyIdentifier EncodingType="{ns.BASE64_ENCODING}" ValueType="{escape_attr(target.value_type)}">'
                f"{b64encode(target.value)}</wsse:KeyIdentifier>"
            )
        return f'<wsse:SecurityTokenReference xmlns:wsse="{ns.WSSE}">{inner}</wsse:SecurityTokenReference>'

    @classmethod
    def from_element(cls, el: Element) -> SecurityTokenReference:
        """Parse a ``wsse:SecurityTokenReference``; exactly one reference child is allowed (WS-I BSP R3061)."""
        if el.tag != STR_TAG:
            raise InvalidSecurity(f"expected wsse:SecurityTokenReference, got {el.tag}")
        children = [c for c in el if isinstance(c.tag, str)]
        if len(children) != 1:
            raise InvalidSecurity("a SecurityTokenReference must have exactly one child")
        child = children[0]
        target: Target
        if child.tag == _REFERENCE:
            uri = child.get("URI")
            if not uri:
                raise InvalidSecurity("wsse:Reference without URI")
            instance = None
            if len(child.attrib) > 2:
                for attr in _INSTANCE_ATTRS:
                    instance = child.get(attr, instance)
            target = Reference(uri, child.get("ValueType"), instance)
        elif child.tag == _KEY_IDENTIFIER:
            value_type = child.get("ValueType")
            if not value_type:
                raise InvalidSecurity("wsse:KeyIdentifier without ValueType")
            encoding = child.get("EncodingType", ns.BASE64_ENCODING)
            if encoding != ns.BASE64_ENCODING:
                raise UnsupportedSecurityToken(f"KeyIdentifier encoding {encoding}")
            target = KeyIdentifier(value_type, b64decode(child.text, "KeyIdentifier"))
        elif child.tag == _X509DATA:
            iss = child.find(_ISSUER_SERIAL)
            if iss is None:
                raise UnsupportedSecurityToken("X509Data without X509IssuerSerial")
            name = iss.findtext(ns.qn(ns.DS, "X509IssuerName"))
            serial = iss.findtext(ns.qn(ns.DS, "X509SerialNumber"))
            if name is None or serial is None or not is_ascii_digits(serial.strip()):
                raise InvalidSecurity("malformed X509IssuerSerial")
            target = IssuerSerial(name.strip(), int(serial))
        else:
            raise UnsupportedSecurityToken(f"unsupported token reference {child.tag}")
        nonce = length = None
        implied_version = None
        for version, nonce_attr, length_attr in _IMPLIED_ATTRS if len(el.attrib) else ():
            raw_nonce = el.get(nonce_attr)
            if raw_nonce is not None:
                nonce = b64decode(raw_nonce, "wsc:Nonce")
                implied_version = version
                raw_len = el.get(length_attr)
                if raw_len is not None:
                    if not is_ascii_digits(raw_len.strip()):
                        raise InvalidSecurity("bad wsc:Length attribute")
                    length = int(raw_len)
        return cls(target, el.get(ns.WSU_ID), el.get(_TOKEN_TYPE), nonce, length, implied_version)


def local(wsu_id: str, value_type: str | None = None) -> SecurityTokenReference:
    """STR to a token in the same message: ``Reference URI="#id"`` (WCF omits the ValueType, Rampart sets it)."""
    return SecurityTokenReference(Reference("#" + wsu_id, value_type))


def external_sct(identifier: str, version: SCVersion, instance: str | None = None) -> SecurityTokenReference:
    """STR to an SCT by Identifier (WS-SC 1.3 section 8), the "unattached" form."""
    return SecurityTokenReference(Reference(identifier, version.sct_token_type, instance))

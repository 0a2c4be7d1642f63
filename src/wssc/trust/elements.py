"""WS-Trust vocabulary shared by RST and RSTR: request types, BinarySecret, Entropy, Lifetime, AppliesTo,
BinaryExchange, Status (WS-Trust 1.3 sections 3 to 8; Feb 2005 WS-Trust sections 5 to 8; SPEC-NOTES sections 1, 5).

Hand-written: no maintained Python library models WS-Trust messages, and WCF's quirks (child order, the
leading-space TLSNEGO ValueType) must survive a round trip.

Reading rules, shared by every parser of this package:

- children are accepted in any order (WCF's reader is order-free too; Rampart writes RequestType first);
- a modelled child may appear once; a second one is malformed;
- elements the WS-Trust schema defines but this package does not interpret (``wst:Renewing``,
  ``wst:SignatureAlgorithm``, ...) are kept verbatim in ``extensions``, as are children in foreign namespaces;
  a name the WS-Trust schema does not define, or a child in the *other* version's WS-Trust namespace, is
  rejected (WS-Trust 1.3 section 3.1: a recipient SHOULD fault on parameters it does not understand);
- every failure raises :class:`wssc.errors.InvalidRequest` (``wst:InvalidRequest``), never another type.
"""

from __future__ import annotations

import binascii
import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidRequest, WsscError
from wssc.primitives.xml import Element, b64decode, b64encode, is_ascii_digits
from wssc.primitives.xsdtime import format_time, parse_time
from wssc.versions import VERSIONS, SCVersion, by_trust_namespace

#: Smallest KeySize (bits) a parser accepts.  No algorithm suite uses less than 128 bits; 64 keeps a
#: DES-sized request parseable so that the issuing policy (:func:`wssc.trust.entropy.issue_key`) refuses it
#: with a precise reason instead of a parse error.
MIN_KEY_SIZE: Final = 64
#: Largest KeySize (bits) a parser accepts: KeySize may also size an asymmetric key (KeyType PublicKey),
#: and 4096 bits is the largest asymmetric key of the WS-SecurityPolicy suites (SPEC-NOTES section 11).
#: The bound keeps a hostile request from making a service draw megabytes of entropy.
MAX_KEY_SIZE: Final = 4096
#: BinarySecret bounds (bytes) for entropy and proof keys: 8 bytes is MIN_KEY_SIZE; 512 bytes matches
#: MAX_KEY_SIZE and the largest entropies of the Microsoft.IdentityModel CK/PSHA1 vectors.
MIN_SECRET_BYTES: Final = MIN_KEY_SIZE // 8
MAX_SECRET_BYTES: Final = MAX_KEY_SIZE // 8
#: BinaryExchange payload bound (bytes): Windows caps SSPI (Kerberos/SPNEGO) tokens at MaxTokenSize 65,535;
#: TLS handshake flights in TLSNEGO are far smaller.
MAX_BINARY_EXCHANGE_BYTES: Final = 65536
#: wst:Authenticator/CombinedHash bound (bytes); WCF writes 32 (SPEC-NOTES section 9).
MAX_COMBINED_HASH_BYTES: Final = 64

HEX_ENCODING: Final = ns.WSS_SOAP_MESSAGE_SECURITY + "#HexBinary"
_TRUST_NAMESPACES: Final = frozenset(v.trust for v in VERSIONS)
_WSP_NAMESPACES: Final = frozenset({ns.WSP12, ns.WSP15})
#: WCF's prefixes (TrustFeb2005Dictionary "t", TrustDec2005Dictionary "trust").
_PREFIXES: Final = {"2005-02": "t", "1.3": "trust"}


class RequestType(Enum):
    """``wst:RequestType`` (WS-Trust 1.3 sections 4 to 7) plus the WS-SC Amend binding.

    WS-Trust defines no Amend request type: WS-SC (1.3 section 4, Feb 2005 section 5) distinguishes an amend
    request only by its action ``RST/SCT/Amend``, and its body is an RST whose RequestType is ``.../Issue``.
    :meth:`uri` therefore writes Issue for AMEND, and a parser returns AMEND only when told the action.
    """

    ISSUE = "Issue"
    RENEW = "Renew"
    CANCEL = "Cancel"
    VALIDATE = "Validate"
    AMEND = "Amend"

    def uri(self, version: SCVersion) -> str:
        """The RequestType URI of ``version`` (Issue for AMEND)."""
        return version.trust_uri(RequestType.ISSUE.value if self is RequestType.AMEND else self.value)

    @classmethod
    def from_uri(cls, uri: str, version: SCVersion) -> RequestType:
        """Inverse of :meth:`uri` for the RST's own version; unknown URIs are refused."""
        for member in (cls.ISSUE, cls.RENEW, cls.CANCEL, cls.VALIDATE):
            if uri == version.trust_uri(member.value):
                return member
        raise InvalidRequest(f"unsupported RequestType {uri!r}")


@dataclass(frozen=True)
class Lifetime:
    """``wst:Lifetime`` with ``wsu:Created`` / ``wsu:Expires`` (WS-Trust 1.3 section 4.1), UTC."""

    created: datetime | None = None
    expires: datetime | None = None


@dataclass(frozen=True)
class BinaryExchange:
    """``wst:BinaryExchange`` (WS-Trust 1.3 section 8.3), a negotiation leg's blob.

    ``value_type`` is kept verbatim, WCF's leading-space Feb 2005 TLSNEGO URI included (SPEC-NOTES
    section 1): compare with :attr:`mechanism`, echo ``value_type``.
    """

    value_type: str
    data: bytes
    encoding_type: str = ns.BASE64_ENCODING

    @property
    def mechanism(self) -> str:
        """The ValueType with surrounding whitespace removed, for comparisons."""
        return self.value_type.strip()


@dataclass(frozen=True)
class BinarySecret:
    """A ``wst:RequestedProofToken/wst:BinarySecret``: the key itself (WS-Trust 1.3 section 3.3)."""

    value: bytes = field(repr=False)


@dataclass(frozen=True)
class ComputedKey:
    """``wst:RequestedProofToken/wst:ComputedKey`` (WS-Trust 1.3 section 4.4.4).

    ``algorithm`` None stands for CK/PSHA1 in the namespace of the RSTR it is written in; a parser returns
    None for that URI and keeps any other URI verbatim (:func:`wssc.trust.entropy.proof_key` refuses it).
    """

    algorithm: str | None = None

    @property
    def is_psha1(self) -> bool:
        return self.algorithm is None or self.algorithm in {v.ck_psha1 for v in VERSIONS}


@dataclass(frozen=True)
class Status:
    """``wst:Status`` of a Validate response (WS-Trust 1.3 section 7): ``.../status/valid`` or ``/invalid``."""

    valid: bool
    reason: str | None = None


# --- reading ------------------------------------------------------------------------------------------------


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Turn any failure of a lower layer's parser into ``wst:InvalidRequest``."""
    try:
        yield
    except InvalidRequest:
        raise
    except WsscError as exc:
        raise InvalidRequest(f"{what}: {exc.detail or exc.reason}") from None
    except ValueError as exc:
        raise InvalidRequest(f"{what}: {exc}") from None


def message_version(el: Element, local: str) -> SCVersion:
    """The version of a WS-Trust message element ``local`` (``RequestSecurityToken``, ...)."""
    if not isinstance(el.tag, str):
        raise InvalidRequest("not an element")
    qname = etree.QName(el)
    version = by_trust_namespace(qname.namespace)
    if version is None or qname.localname != local:
        raise InvalidRequest(f"expected wst:{local}, got {el.tag}")
    return version


def prefix(version: SCVersion) -> str:
    return _PREFIXES.get(version.name, "wst")


def element_children(el: Element) -> list[Element]:
    """Element children of a container; character data other than whitespace is malformed."""
    if (el.text or "").strip():
        raise InvalidRequest(f"unexpected text in {etree.QName(el).localname}")
    children = []
    for child in el:
        if (child.tail or "").strip():
            raise InvalidRequest(f"unexpected text in {etree.QName(el).localname}")
        if isinstance(child.tag, str):
            children.append(child)
    return children


def single_child(el: Element) -> Element:
    """The one element child of a wrapper such as ``wst:RenewTarget``."""
    children = element_children(el)
    if len(children) != 1:
        raise InvalidRequest(f"{etree.QName(el).localname} must hold exactly one element")
    return children[0]


def text(el: Element) -> str:
    """Trimmed character content of a simple element; child elements or an empty value are malformed."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            raise InvalidRequest(f"unexpected element in {etree.QName(el).localname}")
        parts.append(child.tail or "")
    value = "".join(parts).strip()
    if not value:
        raise InvalidRequest(f"empty {etree.QName(el).localname}")
    return value


def is_trust_element(el: Element) -> bool:
    return etree.QName(el).namespace in _TRUST_NAMESPACES


def classify(child: Element, version: SCVersion, passthrough: frozenset[str]) -> str | None:
    """Local name of a WS-Trust child of ``version``; None for a child to keep verbatim.

    Foreign-namespace children and the ``passthrough`` names (defined by WS-Trust, not interpreted here)
    are kept; children in the other version's WS-Trust namespace are rejected.
    """
    qname = etree.QName(child)
    if qname.namespace == version.trust:
        return None if qname.localname in passthrough else qname.localname
    if qname.namespace in _TRUST_NAMESPACES:
        raise InvalidRequest(f"{qname.localname} in the namespace of another WS-Trust version")
    return None


def classified_children(
    el: Element, version: SCVersion, passthrough: frozenset[str], owner: str, extensions: list[Element]
) -> Iterator[tuple[str, Element]]:
    """The known children of an RST or RSTR by local name (AppliesTo included), each at most once (WS-Trust
    1.3 section 3.1); unknown and passed-through children are appended, verbatim, to ``extensions``."""
    seen: set[str] = set()
    for child in element_children(el):
        local = classify(child, version, passthrough)
        if local is None:
            if is_applies_to(child):
                local = "AppliesTo"
            else:
                extensions.append(keep(child))
                continue
        if local in seen:
            raise InvalidRequest(f"{owner} with two {local} elements")
        seen.add(local)
        yield local, child


def keep(child: Element) -> Element:
    """A detached copy of an extension child, namespace declarations preserved."""
    return copy.deepcopy(child)


def read_key_size(el: Element) -> int:
    """``wst:KeySize`` (bits): ASCII digits, within MIN_KEY_SIZE..MAX_KEY_SIZE, a multiple of 8."""
    value = text(el)
    if value.startswith("+"):  # xs:unsignedInt allows a plus sign
        value = value[1:]
    if not is_ascii_digits(value) or len(value) > 9:
        raise InvalidRequest("KeySize is not an unsigned integer")
    bits = int(value)
    if not MIN_KEY_SIZE <= bits <= MAX_KEY_SIZE or bits % 8:
        raise InvalidRequest(f"KeySize {bits} outside {MIN_KEY_SIZE}..{MAX_KEY_SIZE} or not a multiple of 8")
    return bits


def _secret_types(suffix: str) -> frozenset[str]:
    return frozenset(v.trust_uri(suffix) for v in VERSIONS)


_NONCE_TYPES: Final = _secret_types("Nonce")
_SYMMETRIC_TYPES: Final = _secret_types("SymmetricKey")


def is_binary_secret(el: Element) -> bool:
    qname = etree.QName(el)
    return qname.localname == "BinarySecret" and qname.namespace in _TRUST_NAMESPACES


def read_binary_secret(el: Element, what: str) -> bytes:
    """A ``wst:BinarySecret`` of type Nonce or SymmetricKey (or untyped: SymmetricKey by default).

    Either version's namespace and Type URIs are accepted, as WCF does (``WSTrust.BinarySecretTokenEntry``).
    """
    if not is_binary_secret(el):
        raise InvalidRequest(f"{what} must be a wst:BinarySecret")
    secret_type = el.get("Type")
    if secret_type is not None and secret_type not in _NONCE_TYPES | _SYMMETRIC_TYPES:
        raise InvalidRequest(f"unsupported BinarySecret Type in {what}")
    with reading(what):
        value = b64decode(text(el), what)
    if not MIN_SECRET_BYTES <= len(value) <= MAX_SECRET_BYTES:
        raise InvalidRequest(f"{what} of {len(value)} bytes outside {MIN_SECRET_BYTES}..{MAX_SECRET_BYTES}")
    return value


def write_binary_secret(parent: Element, version: SCVersion, value: bytes, type_suffix: str) -> Element:
    secret = etree.SubElement(parent, version.trust_qname("BinarySecret"), Type=version.trust_uri(type_suffix))
    secret.text = b64encode(value)
    return secret


def read_entropy(el: Element) -> bytes:
    """``wst:Entropy/wst:BinarySecret``; encrypted entropy (``xenc:EncryptedKey``) is not supported."""
    return read_binary_secret(single_child(el), "Entropy")


def write_entropy(parent: Element, version: SCVersion, value: bytes) -> None:
    """Entropy as WCF writes it: ``BinarySecret Type=.../Nonce`` (WS-Trust 1.3 section 3.3)."""
    write_binary_secret(etree.SubElement(parent, version.trust_qname("Entropy")), version, value, "Nonce")


_CREATED: Final = ns.qn(ns.WSU, "Created")
_EXPIRES: Final = ns.qn(ns.WSU, "Expires")


def read_lifetime(el: Element) -> Lifetime:
    """``wst:Lifetime``: at most one ``wsu:Created`` and one ``wsu:Expires``, zoned, Created <= Expires."""
    created = expires = None
    for child in element_children(el):
        if child.tag == _CREATED and created is None:
            with reading("Lifetime Created"):
                created = parse_time(text(child))
        elif child.tag == _EXPIRES and expires is None:
            with reading("Lifetime Expires"):
                expires = parse_time(text(child))
        else:
            raise InvalidRequest(f"unexpected or repeated {etree.QName(child).localname} in Lifetime")
    if created is not None and expires is not None and expires < created:
        raise InvalidRequest("Lifetime expires before it is created")
    return Lifetime(created, expires)


def write_lifetime(parent: Element, version: SCVersion, lifetime: Lifetime) -> None:
    el = etree.SubElement(parent, version.trust_qname("Lifetime"))
    if lifetime.created is not None:
        etree.SubElement(el, _CREATED).text = format_time(lifetime.created)
    if lifetime.expires is not None:
        etree.SubElement(el, _EXPIRES).text = format_time(lifetime.expires)


def is_applies_to(el: Element) -> bool:
    qname = etree.QName(el)
    return qname.localname == "AppliesTo" and qname.namespace in _WSP_NAMESPACES


def read_applies_to(el: Element) -> str:
    """``wsp:AppliesTo/wsa:EndpointReference/wsa:Address`` (WS-Trust 1.3 section 4.1), either WS-Addressing."""
    epr = single_child(el)
    qname = etree.QName(epr)
    if qname.localname != "EndpointReference" or qname.namespace not in ns.WSA_NAMESPACES:
        raise InvalidRequest("AppliesTo must hold a wsa:EndpointReference")
    addresses = [c for c in element_children(epr) if c.tag == ns.qn(qname.namespace, "Address")]
    if len(addresses) != 1:
        raise InvalidRequest("AppliesTo EndpointReference must have exactly one Address")
    return text(addresses[0])


def write_applies_to(parent: Element, address: str, addressing: str) -> None:
    """WCF writes WS-Policy 1.2 (``2004/09``) AppliesTo in both WS-Trust versions (``WSTrust.WriteAppliesTo``)."""
    applies = etree.SubElement(parent, ns.qn(ns.WSP12, "AppliesTo"), nsmap={"wsp": ns.WSP12})
    epr = etree.SubElement(applies, ns.qn(addressing, "EndpointReference"), nsmap={"wsa": addressing})
    etree.SubElement(epr, ns.qn(addressing, "Address")).text = address


def read_binary_exchange(el: Element) -> BinaryExchange:
    """``wst:BinaryExchange`` with required ValueType and EncodingType (Base64Binary or HexBinary, as WCF)."""
    value_type = el.get("ValueType")
    encoding = el.get("EncodingType")
    if not value_type or not value_type.strip() or encoding is None:
        raise InvalidRequest("BinaryExchange needs ValueType and EncodingType")
    raw = text(el)
    if encoding == ns.BASE64_ENCODING:
        with reading("BinaryExchange"):
            data = b64decode(raw, "BinaryExchange")
    elif encoding == HEX_ENCODING:
        try:
            data = binascii.unhexlify("".join(raw.split()))
        except (binascii.Error, ValueError):
            raise InvalidRequest("bad hexBinary in BinaryExchange") from None
    else:
        raise InvalidRequest("unsupported BinaryExchange EncodingType")
    if len(data) > MAX_BINARY_EXCHANGE_BYTES:
        raise InvalidRequest(f"BinaryExchange of {len(data)} bytes above {MAX_BINARY_EXCHANGE_BYTES}")
    return BinaryExchange(value_type, data, encoding)


def write_binary_exchange(parent: Element, version: SCVersion, exchange: BinaryExchange) -> None:
    el = etree.SubElement(
        parent,
        version.trust_qname("BinaryExchange"),
        ValueType=exchange.value_type,
        EncodingType=exchange.encoding_type,
    )
    if exchange.encoding_type == HEX_ENCODING:
        el.text = exchange.data.hex().upper()
    elif exchange.encoding_type == ns.BASE64_ENCODING:
        el.text = b64encode(exchange.data)
    else:
        raise ValueError(f"unsupported BinaryExchange encoding {exchange.encoding_type!r}")

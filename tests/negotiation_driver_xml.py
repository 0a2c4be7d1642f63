"""WCF's SPNEGO/TLSNEGO negotiation XML, written from NEGOTIATION.md alone (a second implementation, no wssc imports).

Section numbers (§) are those of ``/work/shared/NEGOTIATION.md``.  Everything is serialised without whitespace,
as WCF writes it (§3 "WCF never writes any"); received XML is parsed preserving whitespace (§3).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone

from lxml import etree

SOAP_NS = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
WSA = "http://www.w3.org/2005/08/addressing"
ANONYMOUS = WSA + "/anonymous"
FAULT_ACTION = WSA + "/soap/fault"  # §7: the addressing version's default fault action
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSP = "http://schemas.xmlsoap.org/ws/2004/09/policy"
XENC = "http://www.w3.org/2001/04/xmlenc#"
DNSE = "http://schemas.microsoft.com/ws/2006/05/security"  # §7 ServerTooBusy
TRUST_FEB2005 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
BASE64_ENCODING = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
#: §1.1: both versions take the Apr-2004-dictionary ValueTypes (Feb-2005 TLSNEGO adds a leading space, see Version)
VALUE_TYPES = {"spnego": TRUST_FEB2005 + "/spnego", "tlsnego": TRUST_FEB2005 + "/tlsnego"}
#: §2.1 the EncryptedKey EncryptionMethod per mechanism
WRAP_URIS = {
    "spnego": "http://schemas.xmlsoap.org/2005/02/trust/spnego#GSS_Wrap",
    "tlsnego": "http://schemas.xmlsoap.org/2005/02/trust/tlsnego#TLS_Wrap",
}
AUTH_HASH_LABEL = b"AUTH-HASH"  # §3
COMBINED_HASH_BYTES = 32  # §3: P_SHA1 size 256 bits
#: §7 reason texts (System.ServiceModel.txt:122,124,66)
FAULT_REASONS = {
    "FailedAuthentication": "The request for security token could not be satisfied because authentication failed.",
    "InvalidRequest": "The request for security token has invalid or malformed elements.",
    "ServerTooBusy": "There are too many active security negotiations or secure conversations at the service. "
    "Please retry later.",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)


class DriverError(Exception):
    """A rule of NEGOTIATION.md was violated by the other party (``what`` names the rule)."""


class DriverFault(DriverError):
    """The service answered with a SOAP fault (§1.3 step 3, §7)."""

    def __init__(self, code: str, subcode: str) -> None:
        meaning = {"FailedAuthentication": "client not authenticated", "ServerTooBusy": "server too busy"}
        default = "SSPI negotiation failed" if code == "Sender" else "service error"
        super().__init__(f"service fault {code}/{subcode}: {meaning.get(subcode, default)}")
        self.code = code
        self.subcode = subcode


@dataclass(frozen=True)
class Version:
    """The URIs of one WS-Trust version (§1.1, §9)."""

    name: str
    trust: str
    prefix: str
    sc: str
    final_action: str

    @property
    def rst_action(self) -> str:
        return self.trust + "/RST/Issue"

    @property
    def rstr_action(self) -> str:
        return self.trust + "/RSTR/Issue"

    @property
    def request_type(self) -> str:
        return self.trust + "/Issue"

    @property
    def token_type(self) -> str:
        return self.sc + "/sct"

    def t(self, local: str) -> str:
        return f"{{{self.trust}}}{local}"

    def value_type(self, mechanism: str) -> str:
        """The ValueType WCF writes (§1.1): Feb-2005 TLSNEGO carries a leading space."""
        plain = VALUE_TYPES[mechanism]
        return " " + plain if self.name == "2005-02" and mechanism == "tlsnego" else plain

    def accepts_value_type(self, mechanism: str, value_type: str) -> bool:
        """Service rule §9.4: Feb 2005 also accepts the no-space TLSNEGO form (and echoes it); 1.3 only plain."""
        plain = VALUE_TYPES[mechanism]
        if self.name == "2005-02" and mechanism == "tlsnego":
            return value_type in (plain, " " + plain)
        return value_type == plain


_FEB = "http://schemas.xmlsoap.org/ws/2005/02/trust"
_OASIS = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
VERSIONS = {
    "2005-02": Version("2005-02", _FEB, "t", "http://schemas.xmlsoap.org/ws/2005/02/sc", _FEB + "/RSTR/Issue"),
    "1.3": Version(
        "1.3",
        _OASIS,
        "trust",
        "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512",
        _OASIS + "/RSTRC/IssueFinal",
    ),
}


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def sub_ns(parent: etree._Element, tag: str, prefix: str, attrs: dict[str, str] | None = None) -> etree._Element:
    """A child declaring its own namespace with WCF's prefix (CAP captures: c = SC, o = WSSE, e = XML Encryption)."""
    return etree.SubElement(parent, tag, attrs or {}, nsmap={prefix: etree.QName(tag).namespace or ""})


def c14n(element: etree._Element) -> bytes:
    """C(x) of §3: exclusive c14n 1.0 without comments of the single element (never its tail)."""
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def p_sha1(secret: bytes, seed: bytes, size: int) -> bytes:
    """P_SHA1 of RFC 2246 §5 (§3: seed = label || nonce)."""
    out, a = b"", seed
    while len(out) < size:
        a = hmac.new(secret, a, hashlib.sha1).digest()
        out += hmac.new(secret, a + seed, hashlib.sha1).digest()
    return out[:size]


def combined_hash(key: bytes, items: list[bytes]) -> bytes:
    """§3: P_SHA1(key, "AUTH-HASH" || SHA-1(C(item_1) || ... || C(item_n)))[0:32]."""
    return p_sha1(key, AUTH_HASH_LABEL + hashlib.sha1(b"".join(items)).digest(), COMBINED_HASH_BYTES)


def rstr1_for_hash(rstr1: etree._Element, version: Version) -> etree._Element:
    """§3: RSTR#1 without its direct RequestedSecurityToken/RequestedProofToken children, neighbouring text kept."""
    clone = copy.deepcopy(rstr1)
    clone.tail = None
    for child in list(clone):
        if child.tag in (version.t("RequestedSecurityToken"), version.t("RequestedProofToken")):
            previous = child.getprevious()
            tail = child.tail or ""
            if previous is not None:
                previous.tail = (previous.tail or "") + tail
            else:
                clone.text = (clone.text or "") + tail
            clone.remove(child)
    return clone


def parse(data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise DriverError(f"not well-formed XML: {exc}") from None


def envelope(
    soap: str,
    action: str,
    body: etree._Element,
    *,
    message_id: str | None = None,
    to: str | None = None,
    relates_to: str | None = None,
) -> bytes:
    """A SOAP envelope with WS-Addressing 1.0 headers (§1.2): requests Action, MessageID, ReplyTo anonymous, To;
    replies Action and RelatesTo."""
    s = SOAP_NS[soap]
    env = etree.Element(f"{{{s}}}Envelope", nsmap={"s": s, "a": WSA})
    header = sub(env, f"{{{s}}}Header")
    sub(header, f"{{{WSA}}}Action", action, **{f"{{{s}}}mustUnderstand": "1"})
    if relates_to is not None:
        sub(header, f"{{{WSA}}}RelatesTo", relates_to)
    if message_id is not None:
        sub(header, f"{{{WSA}}}MessageID", message_id)
        sub(sub(header, f"{{{WSA}}}ReplyTo"), f"{{{WSA}}}Address", ANONYMOUS)
    if to is not None:
        sub(header, f"{{{WSA}}}To", to, **{f"{{{s}}}mustUnderstand": "1"})
    sub(env, f"{{{s}}}Body").append(body)
    return etree.tostring(env)


@dataclass
class Envelope:
    soap: str
    headers: dict[str, etree._Element]  # by Clark name; duplicates are refused
    body: etree._Element


def split_envelope(data: bytes) -> Envelope:
    root = parse(data)
    soap = next((name for name, ns in SOAP_NS.items() if root.tag == f"{{{ns}}}Envelope"), None)
    if soap is None:
        raise DriverError("not a SOAP 1.1/1.2 envelope")
    s = SOAP_NS[soap]
    header, body = root.find(f"{{{s}}}Header"), root.find(f"{{{s}}}Body")
    headers: dict[str, etree._Element] = {}
    for child in header if header is not None else []:
        if isinstance(child.tag, str):
            if child.tag in headers:
                raise DriverError(f"duplicate header {child.tag}")
            headers[child.tag] = child
    children = [c for c in (body if body is not None else []) if isinstance(c.tag, str)]
    if len(children) != 1:
        raise DriverError("the Body must hold exactly one element")
    return Envelope(soap, headers, children[0])


def header_text(env: Envelope, local: str) -> str | None:
    el = env.headers.get(f"{{{WSA}}}{local}")
    return None if el is None else (el.text or "").strip()


def add_binary_exchange(parent: etree._Element, version: Version, value_type: str, blob: bytes) -> None:
    sub(
        parent,
        version.t("BinaryExchange"),
        base64.b64encode(blob).decode(),
        ValueType=value_type,
        EncodingType=BASE64_ENCODING,
    )


def read_binary_exchange(parent: etree._Element, version: Version) -> tuple[str, bytes] | None:
    """(ValueType, blob) of the BinaryExchange child, None when absent (§1.3 step 3)."""
    found = parent.findall(version.t("BinaryExchange"))
    if not found:
        return None
    if len(found) > 1:
        raise DriverError("more than one BinaryExchange")
    el = found[0]
    if el.get("EncodingType", BASE64_ENCODING) != BASE64_ENCODING:
        raise DriverError("BinaryExchange EncodingType is not Base64Binary")
    return el.get("ValueType", ""), b64(el.text, "BinaryExchange")


def b64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise DriverError(f"{what} is not base64") from None


def rst(version: Version, context: str, key_size: int, value_type: str, blob: bytes) -> etree._Element:
    """Client leg 1 (§1.3 step 2): Context, TokenType, RequestType, KeySize, BinaryExchange; declares its prefix."""
    el = etree.Element(version.t("RequestSecurityToken"), {"Context": context}, nsmap={version.prefix: version.trust})
    sub(el, version.t("TokenType"), version.token_type)
    sub(el, version.t("RequestType"), version.request_type)
    sub(el, version.t("KeySize"), str(key_size))
    add_binary_exchange(el, version, value_type, blob)
    return el


def _rstr(version: Version, context: str) -> etree._Element:
    """An RSTR declaring its own prefix and xmlns:u (§1.4 step 4, WSTrust.cs:1135-1136)."""
    nsmap = {version.prefix: version.trust, "u": WSU}
    return etree.Element(version.t("RequestSecurityTokenResponse"), {"Context": context}, nsmap=nsmap)


def rstr_leg(version: Version, context: str, value_type: str, blob: bytes) -> etree._Element:
    """Client later legs and service intermediate legs: Context + BinaryExchange only (§1.3 step 3, §1.4 step 4)."""
    el = _rstr(version, context)
    add_binary_exchange(el, version, value_type, blob)
    return el


def timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def read_timestamp(text: str | None) -> datetime:
    """A UTC xsd:dateTime ending in Z, with or without fractional seconds (WCF writes milliseconds, §4 captures)."""
    for layout in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime((text or "").strip(), layout).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise DriverError("Lifetime time is not a UTC xsd:dateTime ending in Z")


@dataclass(frozen=True)
class Issued:
    """What the service puts into RSTR#1 (§1.4 steps 4-5, §2.1, §4)."""

    identifier: str
    sct_id: str
    wrap_uri: str
    cipher: bytes
    created: datetime
    expires: datetime
    key_size: int
    value_type: str
    final_blob: bytes | None
    applies_to: etree._Element | None = None


def final_rstr(version: Version, context: str, issued: Issued) -> etree._Element:
    """RSTR#1 in WCF's writer order (§1.4 step 4; WSTrust.cs:1139-1232)."""
    el = _rstr(version, context)
    sub(el, version.t("TokenType"), version.token_type)
    sct = sub_ns(
        sub(el, version.t("RequestedSecurityToken")),
        f"{{{version.sc}}}SecurityContextToken",
        "c",
        {f"{{{WSU}}}Id": issued.sct_id},
    )
    sub(sct, f"{{{version.sc}}}Identifier", issued.identifier)  # §4: session mode, no cookie, no Instance
    if issued.applies_to is not None:
        el.append(copy.deepcopy(issued.applies_to))
    attached = sub_ns(sub(el, version.t("RequestedAttachedReference")), f"{{{WSSE}}}SecurityTokenReference", "o")
    sub(attached, f"{{{WSSE}}}Reference", URI="#" + issued.sct_id)  # §1.5: no ValueType
    unattached = sub_ns(sub(el, version.t("RequestedUnattachedReference")), f"{{{WSSE}}}SecurityTokenReference", "o")
    sub(unattached, f"{{{WSSE}}}Reference", URI=issued.identifier, ValueType=version.token_type)
    proof = sub(el, version.t("RequestedProofToken"))
    encrypted = sub_ns(proof, f"{{{XENC}}}EncryptedKey", "e")  # §2.1: no Id, no KeyInfo
    sub(encrypted, f"{{{XENC}}}EncryptionMethod", Algorithm=issued.wrap_uri)
    sub(sub(encrypted, f"{{{XENC}}}CipherData"), f"{{{XENC}}}CipherValue", base64.b64encode(issued.cipher).decode())
    lifetime = sub(el, version.t("Lifetime"))
    sub(lifetime, f"{{{WSU}}}Created", timestamp(issued.created))
    sub(lifetime, f"{{{WSU}}}Expires", timestamp(issued.expires))
    sub(el, version.t("KeySize"), str(issued.key_size))
    if issued.final_blob is not None:  # §1.4 step 4: only if SSPI produced output
        add_binary_exchange(el, version, issued.value_type, issued.final_blob)
    return el


def rstrc(version: Version, rstr1: etree._Element, context: str, authenticator: bytes) -> etree._Element:
    """The final body (§1.4 step 4): RSTRC{RSTR#1, RSTR#2{Context, Authenticator/CombinedHash}}."""
    el = etree.Element(version.t("RequestSecurityTokenResponseCollection"), nsmap={version.prefix: version.trust})
    el.append(rstr1)
    second = _rstr(version, context)
    sub(sub(second, version.t("Authenticator")), version.t("CombinedHash"), base64.b64encode(authenticator).decode())
    el.append(second)
    return el


def fault(soap: str, subcode: str, relates_to: str | None) -> bytes:
    """§7: Sender + t:FailedAuthentication / t:InvalidRequest (Feb-2005 trust ns in both versions), Receiver +
    dnse:ServerTooBusy.  SOAP 1.1 carries only the subcode QName as faultcode ([inference]: WCF's SOAP 1.1 fault
    writer puts the most specific code there; NEGOTIATION.md does not show a SOAP 1.1 fault)."""
    s = SOAP_NS[soap]
    sub_ns, code = (DNSE, "Receiver") if subcode == "ServerTooBusy" else (TRUST_FEB2005, "Sender")
    body = etree.Element(f"{{{s}}}Fault", nsmap={"s": s, "f": sub_ns})
    if soap == "1.1":
        sub(body, "faultcode", f"f:{subcode}")
        sub(body, "faultstring", FAULT_REASONS[subcode])
    else:
        codes = sub(body, f"{{{s}}}Code")
        sub(codes, f"{{{s}}}Value", f"s:{code}")
        sub(sub(codes, f"{{{s}}}Subcode"), f"{{{s}}}Value", f"f:{subcode}")
        sub(
            sub(body, f"{{{s}}}Reason"),
            f"{{{s}}}Text",
            FAULT_REASONS[subcode],
            **{"{http://www.w3.org/XML/1998/namespace}lang": "en-US"},
        )
    return envelope(soap, FAULT_ACTION, body, relates_to=relates_to)


def read_fault(env: Envelope) -> DriverFault:
    """Code and subcode local name of a fault body (§1.3 step 3: the subcode namespace is not compared)."""
    s = SOAP_NS[env.soap]

    def local(qname: str | None) -> str:
        return (qname or "").strip().rpartition(":")[2]

    if env.soap == "1.1":
        name = local(env.body.findtext("faultcode"))
        if name in ("Client", "Server"):
            return DriverFault("Sender" if name == "Client" else "Receiver", "")
        return DriverFault("Receiver" if name == "ServerTooBusy" else "Sender", name)
    code = local(env.body.findtext(f"{{{s}}}Code/{{{s}}}Value"))
    return DriverFault(code, local(env.body.findtext(f"{{{s}}}Code/{{{s}}}Subcode/{{{s}}}Value")))

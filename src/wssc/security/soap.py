"""SOAP 1.1 / 1.2 envelope structure (SOAP 1.1 section 4; SOAP 1.2 part 1 section 5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurity, MustUnderstand
from wssc.primitives.xml import Element


@dataclass(frozen=True)
class SOAPVersion:
    name: str
    namespace: str
    content_type: str
    must_understand_true: str
    sender_code: str
    receiver_code: str

    def qname(self, local: str) -> str:
        return ns.qn(self.namespace, local)


SOAP11: Final = SOAPVersion("1.1", ns.SOAP11, "text/xml; charset=utf-8", "1", "Client", "Server")
SOAP12: Final = SOAPVersion("1.2", ns.SOAP12, "application/soap+xml; charset=utf-8", "true", "Sender", "Receiver")
#: each version by its Envelope's Clark name, and its Header's and Body's by its namespace: an envelope is split
#: at every message, and building the names there cost as much as the rest
_BY_ENVELOPE: Final = {version.qname("Envelope"): version for version in (SOAP11, SOAP12)}
_HEADER_BODY: Final = {
    version.namespace: (version.qname("Header"), version.qname("Body")) for version in (SOAP11, SOAP12)
}


@dataclass(frozen=True)
class Envelope:
    """The three structural parts of an envelope, located once and strictly."""

    root: Element
    soap: SOAPVersion
    header: Element | None
    body: Element


def soap_version_of(root: Element) -> SOAPVersion:
    version = _BY_ENVELOPE.get(root.tag)  # a comment's tag is a function: no version
    if version is None:
        raise InvalidSecurity(
            f"not a SOAP envelope: {root.tag}" if isinstance(root.tag, str) else "not a SOAP envelope"
        )
    return version


def split(root: Element, create_header: bool = False) -> Envelope:
    """Locate Header and Body: an optional Header first, then exactly one Body (SOAP 1.2 part 1 section 5)."""
    version = soap_version_of(root)
    header_tag, body_tag = _HEADER_BODY[version.namespace]
    header = body = None
    elements = [c for c in root if isinstance(c.tag, str)]
    position = 0
    if elements and elements[0].tag == header_tag:
        header = elements[0]
        position = 1
    if len(elements) <= position or elements[position].tag != body_tag:
        raise InvalidSecurity("SOAP envelope without a Body in its place")
    body = elements[position]
    for extra in elements[position + 1 :]:
        if version is SOAP12 or extra.tag in (header_tag, body_tag):
            raise InvalidSecurity("unexpected element after the SOAP Body")
    if header is None and create_header:
        header = etree.Element(version.qname("Header"))
        body.addprevious(header)
    return Envelope(root, version, header, body)


#: the mustUnderstand and actor/role attributes of each SOAP version, by its namespace
_MU_ROLE: Final = {
    ns.SOAP11: (ns.qn(ns.SOAP11, "mustUnderstand"), ns.qn(ns.SOAP11, "actor")),
    ns.SOAP12: (ns.qn(ns.SOAP12, "mustUnderstand"), ns.qn(ns.SOAP12, "role")),
}
#: every header block of these namespaces is understood (WS-Addressing, WS-Security)
_UNDERSTOOD_NAMESPACES: Final = frozenset({*ns.WSA_NAMESPACES, ns.WSSE, ns.WSSE11})

#: the roles a receiver plays besides the default (SOAP 1.1 section 4.2.2, SOAP 1.2 part 1 section 2.2)
_OUR_ROLES: Final = frozenset(
    {
        "",
        "http://schemas.xmlsoap.org/soap/actor/next",
        "http://www.w3.org/2003/05/soap-envelope/role/next",
        "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver",
    }
)


class HeaderBlock(NamedTuple):
    """A header block as verification read it, without a tree: its Clark name, its ``mustUnderstand`` and role
    (SOAP 1.1: ``actor``) attributes of the envelope's SOAP version as written (SOAP 1.2 part 1 section 5.2,
    SOAP 1.1 section 4.2), its text before its first child (lxml's ``text``), and whether the message signature
    covers it.  (A named tuple: a message has a few, made at every request.)"""

    tag: str
    must_understand: str | None
    role: str | None
    text: str | None
    signed: bool


def header_blocks(
    header: Element | None, soap: SOAPVersion, signed: Callable[[Element], bool]
) -> tuple[HeaderBlock, ...]:
    """The :class:`HeaderBlock` of each element of ``header`` (``signed`` tells which the signature covers)."""
    if header is None:
        return ()
    mu_attr, role_attr = _MU_ROLE[soap.namespace]
    return tuple(
        HeaderBlock(block.tag, block.get(mu_attr), block.get(role_attr), block.text, signed(block))
        for block in header
        if isinstance(block.tag, str)
    )


def check_understood(blocks: Iterable[HeaderBlock], understood: frozenset[str] | tuple[str, ...]) -> None:
    """Refuse a header block targeted at us with ``mustUnderstand`` true that is not in ``understood`` (Clark
    names; every WS-Addressing and WS-Security header is understood): SOAP's own MustUnderstand fault
    (SOAP 1.1 section 4.2.3, SOAP 1.2 part 1 section 5.2.3), never the application's business."""
    for block in blocks:
        tag = block.tag
        if (block.must_understand or "").strip() not in ("1", "true"):
            continue
        if (block.role or "").strip() not in _OUR_ROLES:
            continue
        namespace = tag[1 : tag.find("}")] if tag[:1] == "{" else None  # lxml's Clark notation
        if namespace in _UNDERSTOOD_NAMESPACES or tag in understood:
            continue
        raise MustUnderstand(f"header {tag} is not understood")

"""WS-Addressing 1.0 message headers (W3C WS-Addressing 1.0 SOAP Binding, section 2) for the messages
this library originates: RST/RSTR exchanges, faults and the demo service's replies.

Reading the Action of an incoming message is done on the verified envelope only
(:func:`action_of`), so a receiver never routes on an unsigned header when the policy signs them.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.primitives.xml import Element
from wssc.security.soap import SOAP12, SOAPVersion

ANONYMOUS = ns.WSA10 + "/anonymous"


@dataclass(frozen=True)
class Addressing:
    action: str
    to: str | None = None
    message_id: str | None = None
    relates_to: str | None = None
    reply_to_anonymous: bool = True


#: random bytes drawn at once for this many message IDs: each ``os.urandom`` call releases the GIL, and in a server's
#: worker thread getting it back waits on the event loop's thread (one handoff per message saved, 255 in 256)
_IDS_PER_DRAW: Final = 256
_RANDOM = threading.local()


def new_message_id() -> str:
    """A fresh ``urn:uuid:`` message ID (WS-Addressing 1.0 section 3.2: unique; a random, version 4 UUID of RFC
    9562 section 5.4, as ``uuid.uuid4`` makes, from the operating system's random bytes drawn a few at a time)."""
    pool: bytes = getattr(_RANDOM, "pool", b"")
    offset: int = getattr(_RANDOM, "offset", 0)
    if offset >= len(pool):
        pool, offset = os.urandom(16 * _IDS_PER_DRAW), 0
        _RANDOM.pool = pool
    _RANDOM.offset = offset + 16  # each 16 bytes serve once
    octets = bytearray(pool[offset : offset + 16])
    octets[6] = octets[6] & 0x0F | 0x40  # version 4
    octets[8] = octets[8] & 0x3F | 0x80  # the RFC's variant
    h = octets.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def envelope(
    body: Element | bytes | list[Element] | None,
    addressing: Addressing | None,
    soap: SOAPVersion = SOAP12,
    wsa_namespace: str = ns.WSA10,
    headers: Sequence[Element] = (),
) -> bytes:
    """A SOAP envelope with WS-Addressing headers, copies of the application ``headers`` after them, and
    ``body`` (an element or serialised element) in its Body."""
    # ``u`` declared on the Envelope as WCF declares it, for the wsu:Id attributes protect adds
    root = etree.Element(soap.qname("Envelope"), nsmap={"s": soap.namespace, "a": wsa_namespace, "u": ns.WSU})
    header = etree.SubElement(root, soap.qname("Header"))
    if addressing is not None:
        action = etree.SubElement(header, ns.qn(wsa_namespace, "Action"))
        action.set(soap.qname("mustUnderstand"), "1")
        action.text = addressing.action
        etree.SubElement(header, ns.qn(wsa_namespace, "MessageID")).text = addressing.message_id or new_message_id()
        if addressing.relates_to:
            etree.SubElement(header, ns.qn(wsa_namespace, "RelatesTo")).text = addressing.relates_to
        if addressing.reply_to_anonymous and addressing.relates_to is None:
            reply_to = etree.SubElement(header, ns.qn(wsa_namespace, "ReplyTo"))
            etree.SubElement(reply_to, ns.qn(wsa_namespace, "Address")).text = ANONYMOUS
        if addressing.to:
            to = etree.SubElement(header, ns.qn(wsa_namespace, "To"))
            to.set(soap.qname("mustUnderstand"), "1")
            to.text = addressing.to
    header.extend(copy.deepcopy(h) for h in headers)
    body_el = etree.SubElement(root, soap.qname("Body"))
    if isinstance(body, bytes):
        body_el.append(etree.fromstring(body))
    elif isinstance(body, list):
        body_el.extend(body)
    elif body is not None:
        body_el.append(body)
    return etree.tostring(root)


def header_text(header: Element | None, local: str) -> str | None:
    """The text of a WS-Addressing header (either namespace) in ``header``, stripped."""
    if header is None:
        return None
    for namespace in (ns.WSA10, ns.WSA200408):
        el = header.find(ns.qn(namespace, local))
        if el is not None:
            return (el.text or "").strip()
    return None


def action_of(header: Element | None) -> str | None:
    return header_text(header, "Action")


def message_id_of(header: Element | None) -> str | None:
    return header_text(header, "MessageID")

"""WS-Addressing 1.0 message headers (W3C WS-Addressing 1.0 SOAP Binding, section 2) for the messages
this library originates: RST/RSTR exchanges, faults and the demo service's replies.

Reading the Action of an incoming message is done on the verified envelope only
(:func:`action_of`), so a receiver never routes on an unsigned header when the policy signs them.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

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


def envelope(
    body: Element | bytes | list[Element] | None,
    addressing: Addressing | None,
    soap: SOAPVersion = SOAP12,
    wsa_namespace: str = ns.WSA10,
    headers: Sequence[Element] = (),
) -> bytes:
    """A SOAP envelope with WS-Addressing headers, copies of the application ``headers`` after them, and
    ``body`` (an element or serialised element) in its Body."""
    root = etree.Element(soap.qname("Envelope"), nsmap={"s": soap.namespace, "a": wsa_namespace})
    header = etree.SubElement(root, soap.qname("Header"))
    if addressing is not None:
        action = etree.SubElement(header, ns.qn(wsa_namespace, "Action"))
        action.set(soap.qname("mustUnderstand"), "1")
        action.text = addressing.action
        etree.SubElement(header, ns.qn(wsa_namespace, "MessageID")).text = addressing.message_id or "urn:uuid:" + str(
            uuid.uuid4()
        )
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

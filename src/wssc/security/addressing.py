"""WS-Addressing 1.0 message headers (W3C WS-Addressing 1.0 SOAP Binding, section 2) for the messages
this library originates: RST/RSTR exchanges, faults and the demo service's replies.

Reading the Action of an incoming message is done on the verified envelope only
(:func:`action_of`), so a receiver never routes on an unsigned header when the policy signs them.
"""

from __future__ import annotations

import copy
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.primitives.xml import Element, ElementXML, escape_attr, escape_text
from wssc.security.soap import SOAP12, HeaderBlock, SOAPVersion

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


#: characters XML 1.0 does not allow in a document (section 2.2): refused as lxml refuses them in text
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    """``value`` as element content, escaped as Canonical XML escapes text; a character XML does not allow is a
    ValueError, as lxml raises."""
    if _NOT_XML.search(value):
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")
    return escape_text(value)


def _written(element: Element) -> bytes:
    """An application element as it is written into the envelope, with its tail.  An element inside another
    tree is copied out of it first: lxml writes a subelement with every declaration in scope where it stands,
    and one in no namespace under a default namespace as if it were in that namespace.  (An lxml element's
    ``copy.copy`` is its ``copy.deepcopy``, a copy of the whole subtree and its tail, without the memo that
    costs ``deepcopy`` as much as the copy.)  In UTF-8: lxml's default, ASCII, writes a non-ASCII character of
    a name as a character reference, which is not well-formed XML."""
    return etree.tostring(element if element.getparent() is None else copy.copy(element), encoding="utf-8")


def _one_element(data: bytes) -> bytes:
    """``data`` checked to be one well-formed element with nothing around it (parsed and written again), or as
    it is when wssc wrote it so (:class:`~wssc.primitives.xml.ElementXML`)."""
    return data if isinstance(data, ElementXML) else etree.tostring(etree.fromstring(data), encoding="utf-8")


def envelope(
    body: Element | bytes | list[Element] | tuple[bytes, ...] | None,
    addressing: Addressing | None,
    soap: SOAPVersion = SOAP12,
    wsa_namespace: str = ns.WSA10,
    headers: Sequence[Element] = (),
) -> bytes:
    """A SOAP envelope with WS-Addressing headers, the application ``headers`` after them, and ``body`` (an
    element or serialised element, a list of elements, or a tuple of serialised elements) in its Body.  ``u`` is
    declared on the Envelope as WCF declares it, for the wsu:Id attributes protect adds.

    Written as text: moving the application's elements into a new lxml tree cost more than the rest of an
    answer, took them out of the application's tree, and re-prefixed them.  Each element is written as it is,
    with the declarations it uses, also where it binds one of the Envelope's namespaces under another prefix
    (an EndpointReference under ``wsa:`` or in the default namespace): lxml, moving it under the Envelope's
    ``a``, would drop that declaration and leave a QName-valued attribute or text (``xsi:type="wsa:..."``)
    naming a prefix no longer declared.  wssc's receivers read such a message as written, the compiled core
    and the Python path (:mod:`wssc.security.decrypted_document`) alike."""
    if isinstance(body, bytes):
        written = [_one_element(body)]
    elif isinstance(body, tuple):
        written = [_one_element(item) for item in body]
    elif isinstance(body, list):
        written = [_written(el) for el in body]
    else:
        written = [] if body is None else [_written(body)]
    extra = [_written(h) for h in headers]
    out = [
        f'<s:Envelope xmlns:s="{escape_attr(soap.namespace)}" xmlns:a="{escape_attr(wsa_namespace)}" '
        f'xmlns:u="{ns.WSU}"><s:Header>'.encode()
    ]
    if addressing is not None:
        out.append(f'<a:Action s:mustUnderstand="1">{_text(addressing.action)}</a:Action>'.encode())
        out.append(f"<a:MessageID>{_text(addressing.message_id or new_message_id())}</a:MessageID>".encode())
        if addressing.relates_to:
            out.append(f"<a:RelatesTo>{_text(addressing.relates_to)}</a:RelatesTo>".encode())
        if addressing.reply_to_anonymous and addressing.relates_to is None:
            out.append(f"<a:ReplyTo><a:Address>{ANONYMOUS}</a:Address></a:ReplyTo>".encode())
        if addressing.to:
            out.append(f'<a:To s:mustUnderstand="1">{_text(addressing.to)}</a:To>'.encode())
    out.extend(extra)
    out.append(b"</s:Header><s:Body>")
    out.extend(written)
    out.append(b"</s:Body></s:Envelope>")
    return b"".join(out)


#: local name -> its Clark names in WS-Addressing 1.0, then in the 2004/08 submission
_WSA_TAGS: dict[str, tuple[str, str]] = {}


def wsa_header(header: Element | None, local: str) -> Element | None:
    """The WS-Addressing header ``local`` of ``header`` (a child of it): WS-Addressing 1.0's, else the 2004/08
    submission's."""
    if header is None:
        return None
    for tag in _wsa_tags(local):
        for element in header.iterchildren(tag):
            return element
    return None


def _wsa_tags(local: str) -> tuple[str, str]:
    tags = _WSA_TAGS.get(local)
    if tags is None:
        tags = _WSA_TAGS[local] = (ns.qn(ns.WSA10, local), ns.qn(ns.WSA200408, local))
    return tags


def wsa_block(blocks: Sequence[HeaderBlock], local: str) -> HeaderBlock | None:
    """:func:`wsa_header` among a verified message's :class:`~wssc.security.soap.HeaderBlock`: the first block
    ``local`` of WS-Addressing 1.0, else of the 2004/08 submission."""
    for tag in _wsa_tags(local):
        for block in blocks:
            if block.tag == tag:
                return block
    return None


def block_text(blocks: Sequence[HeaderBlock], local: str) -> str | None:
    """:func:`header_text` among header blocks: the text of a WS-Addressing header (either namespace), stripped."""
    block = wsa_block(blocks, local)
    return None if block is None else (block.text or "").strip()


def header_text(header: Element | None, local: str) -> str | None:
    """The text of a WS-Addressing header (either namespace) in ``header``, stripped."""
    el = wsa_header(header, local)
    return None if el is None else (el.text or "").strip()


def action_of(header: Element | None) -> str | None:
    return header_text(header, "Action")


def message_id_of(header: Element | None) -> str | None:
    return header_text(header, "MessageID")

"""``addressing.envelope`` written as text: the same envelope, as lxml reads it, as the tree it built before."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from lxml import etree

from wssc import namespaces as ns
from wssc.primitives.xml import c14n
from wssc.security import addressing
from wssc.security.addressing import Addressing, envelope
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy
from wssc.security.protect import protect
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion, split
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken, new_identifier

XSI = "http://www.w3.org/2001/XMLSchema-instance"
ADDRESSING = (
    None,
    Addressing("urn:act&<>\r", to="http://example.com/s?a=1&b=2", message_id="urn:uuid:m"),
    Addressing("urn:act", relates_to="urn:uuid:r", reply_to_anonymous=False, message_id="urn:uuid:m"),
    Addressing("urn:act", message_id="urn:uuid:m"),
)


def _payloads() -> list[object]:
    view = etree.fromstring(
        b'<s:Envelope xmlns:s="urn:other-s" xmlns:w="urn:w"><s:Body>'
        b'<e xmlns="urn:d" w:a="1">t&amp;<i/></e>tail<f xmlns="urn:f"/></s:Body></s:Envelope>'
    )
    default_ns = etree.fromstring(b'<r xmlns="urn:default"><b/></r>')
    plain = etree.SubElement(default_ns[0], "plain")  # in no namespace, under a default namespace
    return [
        None,
        b'<x xmlns="urn:x">bytes</x>',
        etree.fromstring(b'<e xmlns="urn:d">root</e>'),
        list(view[0]),
        plain,
        etree.fromstring(f'<m:x xmlns:m="urn:m" xmlns:wsa="{ns.WSA10}"><wsa:Address>u</wsa:Address></m:x>'.encode()),
        etree.fromstring(f'<m:x xmlns:m="urn:m" xmlns:wsu="{ns.WSU}" wsu:Id="i"/>'.encode()),
    ]


def _built(
    body: object,
    wsa: Addressing | None,
    soap: SOAPVersion,
    wsa_namespace: str,
    headers: list[etree._Element],
) -> bytes:
    """:func:`envelope` built as an lxml tree, as wssc wrote it before it wrote text: the reference the text
    is held to where the application's elements use none of the Envelope's namespaces."""
    root = etree.Element(soap.qname("Envelope"), nsmap={"s": soap.namespace, "a": wsa_namespace, "u": ns.WSU})
    header = etree.SubElement(root, soap.qname("Header"))
    if wsa is not None:
        action = etree.SubElement(header, ns.qn(wsa_namespace, "Action"))
        action.set(soap.qname("mustUnderstand"), "1")
        action.text = wsa.action
        etree.SubElement(header, ns.qn(wsa_namespace, "MessageID")).text = wsa.message_id or addressing.new_message_id()
        if wsa.relates_to:
            etree.SubElement(header, ns.qn(wsa_namespace, "RelatesTo")).text = wsa.relates_to
        if wsa.reply_to_anonymous and wsa.relates_to is None:
            reply_to = etree.SubElement(header, ns.qn(wsa_namespace, "ReplyTo"))
            etree.SubElement(reply_to, ns.qn(wsa_namespace, "Address")).text = addressing.ANONYMOUS
        if wsa.to:
            to = etree.SubElement(header, ns.qn(wsa_namespace, "To"))
            to.set(soap.qname("mustUnderstand"), "1")
            to.text = wsa.to
    header.extend(copy.deepcopy(h) for h in headers)
    body_el = etree.SubElement(root, soap.qname("Body"))
    if isinstance(body, bytes):
        body_el.append(etree.fromstring(body))
    elif isinstance(body, list):
        body_el.extend(body)
    elif body is not None:
        body_el.append(body)
    return etree.tostring(root)


def _as_read(data: bytes) -> bytes:
    """The envelope's canonical form, its fresh MessageID aside (what lxml reads, not how it is spelt)."""
    return etree.tostring(etree.fromstring(data), method="c14n")


@pytest.mark.parametrize("soap", [SOAP11, SOAP12], ids=["1.1", "1.2"])
@pytest.mark.parametrize("index", range(len(ADDRESSING)))
@pytest.mark.parametrize("payload", range(5))
def test_the_envelope_reads_as_the_tree_built_before(soap: SOAPVersion, index: int, payload: int) -> None:
    header = etree.fromstring(b'<h:custom xmlns:h="urn:h">v</h:custom>')
    body, before = _payloads()[payload], _payloads()[payload]
    ours = envelope(body, ADDRESSING[index], soap, headers=[header])
    built = _built(before, ADDRESSING[index], soap, ns.WSA10, [copy.deepcopy(header)])
    assert _as_read(ours) == _as_read(built)


@pytest.mark.parametrize("payload", [5, 6], ids=["wsa", "wsu"])
def test_an_element_under_the_envelopes_namespaces_is_written_as_it_is(payload: int) -> None:
    """An element that binds a namespace of the Envelope under a prefix of its own keeps it, and a QName-valued
    attribute naming that prefix still resolves (lxml, building a tree, re-prefixed the element and dropped
    the declaration)."""
    element = _payloads()[payload]
    assert isinstance(element, etree._Element)
    element.set(f"{{{XSI}}}type", "wsa:Kind" if payload == 5 else "wsu:Kind")
    data = envelope(element, Addressing("urn:act", message_id="urn:uuid:m"))
    (written,) = etree.fromstring(data)[1]
    assert etree.tostring(written, method="c14n", exclusive=True) == etree.tostring(
        element, method="c14n", exclusive=True
    )
    prefix = written.get(f"{{{XSI}}}type").split(":")[0]
    assert written.nsmap[prefix] == (ns.WSA10 if payload == 5 else ns.WSU)


def test_the_applications_tree_is_left_alone() -> None:
    view = etree.fromstring(b'<r xmlns="urn:r"><e>1</e><f/></r>')
    envelope(list(view), Addressing("urn:act"))
    assert [child.tag for child in view] == ["{urn:r}e", "{urn:r}f"]


def test_text_xml_does_not_allow_is_refused_as_lxml_refuses_it() -> None:
    with pytest.raises(ValueError):
        envelope(None, Addressing("urn:act\x01"))


#: element and attribute names outside ASCII: lxml's default serialisation (ASCII) writes such a character of a
#: name as a character reference, which is not XML (found by the differential test, through ``payload_xml``)
NON_ASCII = '<été xmlns="urn:x" ä="ü"><ş:a xmlns:ş="urn:y">ö</ş:a></été>'.encode()


@pytest.mark.parametrize("form", ["element", "subelement", "bytes", "payload_xml"])
def test_names_outside_ascii_go_into_an_envelope_and_back(form: str) -> None:
    element = etree.fromstring(NON_ASCII)
    body: Any = {
        "element": element,
        "subelement": etree.fromstring(b"<w>" + NON_ASCII + b"</w>")[0],
        "bytes": NON_ASCII,
        "payload_xml": (NON_ASCII,),
    }[form]
    data = addressing.envelope(body, addressing.Addressing("urn:a"))
    assert [c14n(c) for c in split(etree.fromstring(data)).body] == [c14n(element)]
    sct = SecurityContextToken(new_identifier(), wsu_id="SCT-1")
    key = os.urandom(32)
    protected = protect(data, ContextProtection(sct, key), ProtectionPolicy()).data
    received = Receiver(StaticKeys({sct.identifier: key})).unprotect(protected)
    assert [c14n(c) for c in received.payload()] == [c14n(element)]
    assert [c14n(etree.fromstring(form)) for form in received.payload_xml()] == [c14n(element)]

"""``addressing.envelope`` written as text: the same envelope, as lxml reads it, as the tree it built before."""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from wssc import namespaces as ns
from wssc.security import addressing
from wssc.security.addressing import Addressing, envelope
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion

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


def _as_read(data: bytes) -> bytes:
    """The envelope's canonical form, its fresh MessageID aside (what lxml reads, not how it is spelt)."""
    return etree.tostring(etree.fromstring(data), method="c14n")


@pytest.mark.parametrize("soap", [SOAP11, SOAP12], ids=["1.1", "1.2"])
@pytest.mark.parametrize("index", range(len(ADDRESSING)))
@pytest.mark.parametrize("payload", range(7))
def test_the_envelope_reads_as_the_tree_built_before(soap: SOAPVersion, index: int, payload: int) -> None:
    header = etree.fromstring(b'<h:custom xmlns:h="urn:h">v</h:custom>')
    body, before = _payloads()[payload], _payloads()[payload]
    ours = envelope(body, ADDRESSING[index], soap, headers=[header])
    built = addressing._built(before, ADDRESSING[index], soap, ns.WSA10, [copy.deepcopy(header)])
    assert _as_read(ours) == _as_read(built)


def test_an_element_under_the_envelopes_namespaces_keeps_their_prefixes() -> None:
    """An element that uses the WS-Addressing namespace under another prefix: built as a tree, so that one
    prefix names it (a second prefix around encrypted content is left to the Python path on both sides)."""
    element = _payloads()[5]
    assert isinstance(element, etree._Element)
    data = envelope(element, Addressing("urn:act", message_id="urn:uuid:m"))
    assert b"wsa:" not in data and b"<a:Address>u</a:Address>" in data


def test_the_applications_tree_is_left_alone() -> None:
    view = etree.fromstring(b'<r xmlns="urn:r"><e>1</e><f/></r>')
    envelope(list(view), Addressing("urn:act"))
    assert [child.tag for child in view] == ["{urn:r}e", "{urn:r}f"]


def test_text_xml_does_not_allow_is_refused_as_lxml_refuses_it() -> None:
    with pytest.raises(ValueError):
        envelope(None, Addressing("urn:act\x01"))

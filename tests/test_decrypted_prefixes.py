"""Encrypted content where one namespace has two prefixes: the receiver verifies it and hands it over as written.

lxml re-points the namespace of every node it moves by URI alone, so decrypted elements moved into a tree where
one namespace has two prefixes in scope changed prefix, and their digests failed (found by the compiled core's
differential harness: 1,854 of 56,958 control messages refused).  WCF writes an AppliesTo's EndpointReference in
the default namespace under an Envelope that binds WS-Addressing to ``a``; Metro declares ``ns3`` for a namespace
the Envelope binds already.  The Python receiver now computes such digests on the message as its decryption
parses it (:mod:`wssc.security.decrypted_document`), and the application reads that tree too; the compiled core,
which parses plaintext into its own tree, verifies such messages itself.
"""

from __future__ import annotations

import os

import pytest
from lxml import etree

from helpers import context_round_trip
from wssc import errors
from wssc.limits import DEFAULT_LIMITS
from wssc.security import compiled
from wssc.security.decrypted_document import DecryptedDocument, could_reprefix
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken

WSA = "http://www.w3.org/2005/08/addressing"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
HEAD = (
    f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="{WSA}"%s>'
    '<s:Header><a:Action s:mustUnderstand="1">urn:example:op</a:Action>'
    '<a:To s:mustUnderstand="1">http://localhost/op</a:To></s:Header>'
)

#: name -> (envelope, path to the element checked, the prefix it was written with)
CASES = {
    # WCF's AppliesTo: the EndpointReference in the default namespace, WS-Addressing bound to ``a`` above it
    "default-namespace": (
        HEAD % ""
        + '<s:Body><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy">'
        + f'<EndpointReference xmlns="{WSA}"><Address>http://localhost/op</Address></EndpointReference>'
        + "</wsp:AppliesTo></s:Body></s:Envelope>",
        "wsp:AppliesTo/wsa:EndpointReference",
        None,
    ),
    # Metro: a prefix of its own for a namespace the Envelope binds, and a QName value that uses it
    "second-prefix-in-content": (
        HEAD % ""
        + f'<s:Body><ns2:op xmlns:ns2="urn:example" xmlns:ns3="{WSA}"><ns3:EndpointReference>'
        + f'<ns3:Address>http://localhost/op</ns3:Address><ns2:kind xmlns:xsi="{XSI}" xsi:type="ns3:Kind"/>'
        + "</ns3:EndpointReference></ns2:op></s:Body></s:Envelope>",
        "ns2:op/wsa:EndpointReference",
        "ns3",
    ),
    # two prefixes in scope where the plaintext lands: the Body binds WS-Addressing again as ``w``
    "second-prefix-in-scope": (
        HEAD % ""
        + f'<s:Body xmlns:w="{WSA}"><w:EndpointReference><a:Address>http://localhost/op</a:Address>'
        + "</w:EndpointReference></s:Body></s:Envelope>",
        "wsa:EndpointReference",
        "w",
    ),
}
NAMESPACES = {"wsa": WSA, "wsp": "http://schemas.xmlsoap.org/ws/2004/09/policy", "ns2": "urn:example"}

POLICIES = {
    "sign-then-encrypt": ProtectionPolicy(),
    "encrypt-only": ProtectionPolicy(sign=False),
    "encrypt-before-sign": ProtectionPolicy(order=ProtectionOrder.ENCRYPT_BEFORE_SIGN),
    "plain-signature": ProtectionPolicy(encrypt_signature=False),
}


def _round_trip(envelope: str, policy: ProtectionPolicy, path: str) -> etree._Element:
    verified = context_round_trip(envelope.encode(), policy, path)
    assert verified.is_encrypted(verified.body)
    assert verified.is_signed(verified.body) is policy.sign
    return verified.body


@pytest.mark.parametrize("path", ["python", "core"])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("case", CASES)
def test_encrypted_content_with_a_namespace_under_two_prefixes_is_accepted_as_written(
    case: str, policy: str, path: str
) -> None:
    envelope, where, prefix = CASES[case]
    body = _round_trip(envelope, POLICIES[policy], path)
    (element,) = body.xpath(where, namespaces=NAMESPACES)
    assert element.prefix == prefix
    written = etree.fromstring(envelope.encode()).xpath(f"*[2]/{where}", namespaces=NAMESPACES)[0]
    assert etree.tostring(element, method="c14n", exclusive=True) == etree.tostring(
        written, method="c14n", exclusive=True
    )
    for qname_valued in element.iter("{urn:example}kind"):
        # the declaration a QName value needs is still there for the application to resolve it
        value = qname_valued.get(f"{{{XSI}}}type")
        assert qname_valued.nsmap[value.split(":")[0]] == WSA


@pytest.mark.parametrize("case", CASES)
def test_the_compiled_core_verifies_such_content_itself(case: str) -> None:
    """The core parses the plaintext into its own tree, so it reads it as written too: it accepts the message
    itself, and its view holds the prefixes as the Python path's does."""
    if compiled.core() is None:
        pytest.skip("the compiled core is not installed")
    envelope, where, prefix = CASES[case]
    sct = SecurityContextToken("urn:uuid:aliased-namespaces", wsu_id="sct-1")
    key = os.urandom(32)
    data = protect(envelope.encode(), ContextProtection(sct, key)).data
    receiver = Receiver(StaticKeys({sct.identifier: key}))
    verified = receiver.unprotect_compiled(data, receiver.attempt())
    assert verified is not None
    (element,) = verified.body.xpath(where, namespaces=NAMESPACES)
    assert element.prefix == prefix


def test_a_message_without_a_second_prefix_makes_no_second_tree() -> None:
    root = etree.fromstring(b'<s:E xmlns:s="urn:s" xmlns:a="urn:a"><s:B><x/></s:B></s:E>')
    document = DecryptedDocument(root, DEFAULT_LIMITS)
    document.replacing(root[0][0], b'<a:y xmlns:b="urn:b"><b:z/></a:y>')
    assert document.copy is None
    assert document.counterpart(root[0]) is root[0]


def test_the_second_tree_has_the_plaintext_where_the_encrypted_data_stood() -> None:
    root = etree.fromstring(b'<s:E xmlns:s="urn:s" xmlns:a="urn:a"><s:B> <x/>\n</s:B><s:C/></s:E>')
    document = DecryptedDocument(root, DEFAULT_LIMITS)
    document.replacing(root[0][0], b'<b:y xmlns:b="urn:a">t<b:z/></b:y>')
    assert document.copy is not None
    assert etree.tostring(document.copy) == (
        b'<s:E xmlns:s="urn:s" xmlns:a="urn:a"><s:B> <b:y xmlns:b="urn:a">t<b:z/></b:y>\n</s:B><s:C/></s:E>'
    )
    assert document.counterpart(root[1]).tag == "{urn:s}C"


def test_parsing_again_is_bounded_by_the_messages_budget() -> None:
    """Each decryption that keeps the second tree parses the whole message again: a message of many encrypted
    parts is refused once it has cost the bytes its signatures could digest (Limits.digest_budget)."""
    parts = b"".join(b"<s:H><x/></s:H>" for _ in range(40))
    data = b'<s:E xmlns:s="urn:s" xmlns:a="urn:a">' + parts + b"</s:E>"
    root = etree.fromstring(data)
    document = DecryptedDocument(root, DEFAULT_LIMITS, len(data))
    assert document.remaining == DEFAULT_LIMITS.digest_budget(len(data))
    document.remaining = 4 * len(data) + 200  # the allowance aside: four parses of this message (it grows)
    plaintext = b'<b:y xmlns:b="urn:a"/>'
    for n in range(3):
        document.replacing(root[n][0], plaintext)  # the first made the copy: two parses
    with pytest.raises(errors.InvalidSecurity, match="too many"):
        document.replacing(root[3][0], plaintext)


@pytest.mark.parametrize(
    ("scope", "plaintext", "could"),
    [
        ('xmlns:a="urn:a"', b"<a:x/>", False),
        ('xmlns:a="urn:a"', b'<x xmlns="urn:b"/>', False),
        ('xmlns:a="urn:a"', b'<x xmlns="urn:a"/>', True),
        ('xmlns:a="urn:a"', b"<b:x xmlns:b = 'urn:a'/>", True),
        ('xmlns:a="urn:a" xmlns:b="urn:a"', b"<x/>", False),
        ('xmlns:a="urn:a" xmlns:b="urn:a"', b"<a:x/>", True),
        ('xmlns:a="urn:a" xmlns:b="urn:a"', b'<x t="b:y"/>', True),
        ('xmlns:a="urn:a" xmlns:b="urn:a"', b"<x>b:y</x>", True),
        ('xmlns:a="urn:a" xmlns:b="urn:a" xmlns:ab="urn:ab"', b"<ab:x/>", False),
        ('xmlns:a="urn:a" xmlns="urn:a"', b"<x/>", True),
        ('xmlns:a="urn:a"', b'<a:x xmlns:a="urn:a"/>', False),
        ('xmlns:a="urn:a"', b'<x xmlns:b="urn:&#97;"/>', True),
    ],
)
def test_could_reprefix(scope: str, plaintext: bytes, could: bool) -> None:
    parent = etree.fromstring(f"<p {scope}/>".encode())
    assert could_reprefix(parent, plaintext) is could


def test_tampered_aliased_content_is_still_refused() -> None:
    """The digest computed on the second tree is still the sender's: a signed header changed in transit fails."""
    envelope, _, _ = CASES["second-prefix-in-content"]
    sct = SecurityContextToken("urn:uuid:aliased-namespaces", wsu_id="sct-1")
    key = os.urandom(32)
    data = protect(envelope.encode(), ContextProtection(sct, key), ProtectionPolicy()).data
    tampered = data.replace(b"http://localhost/op</a:To>", b"http://localhost/xx</a:To>")
    assert tampered != data
    with compiled.forced_python(), pytest.raises(errors.WsscError):
        Receiver(StaticKeys({sct.identifier: key})).unprotect(tampered)

"""What a message the compiled core verified hands over without an lxml tree (``VerifiedMessage.header_blocks``,
``payload_tags``, ``payload_xml``): read from the core's own verified tree, equal to what the Python path reads
from its view, and enough for the service to route and answer an application message (the demo echo) without
the view ever being built."""

from __future__ import annotations

import os
from typing import Any

import pytest
from lxml import etree

from helpers import envelope
from wssc.adapters.handlers import echo_handler
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.service import ApplicationRequest, SecureConversationService, TokenReply
from wssc.primitives.xml import ElementXML, c14n
from wssc.security import compiled, compiled_unprotect
from wssc.security.addressing import envelope as soap_envelope
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.security.protect import protect
from wssc.security.result import VerifiedMessage
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken, new_identifier
from wssc.tokens.x509 import self_signed

pytest.importorskip("wssc._core")

#: payloads a standalone copy must keep the meaning of: a default namespace its descendants inherit (lxml's
#: in-place canonical form of such an element gave them ``xmlns=""``, found by the differential test), a QName
#: in content whose prefix only the Envelope declares, an undeclared default namespace, two payload elements
PAYLOADS = (
    b'<op xmlns="urn:d"><in><w:x xmlns:w="urn:w"/><leaf>t</leaf></in></op>',
    b'<m:op xmlns:m="urn:m" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="a:Kind">a:Value</m:op>',
    b'<op xmlns="urn:d"><in xmlns="">x</in><?pi data?></op>',
    b'<m:one xmlns:m="urn:m">1</m:one><m:two xmlns:m="urn:m" m:a="&#9;&lt;">2 &amp; 3</m:two>',
)
#: a header block with the SOAP attributes and text ``HeaderBlock`` reads (a child after its text)
HEADER = (
    b'<x:Custom xmlns:x="urn:example:x" s:mustUnderstand=" 1" s:role="http://www.w3.org/2003/05/soap-envelope/role/next">'
    b"custom<x:in/>tail</x:Custom>"
)
ROLE_NEXT = "http://www.w3.org/2003/05/soap-envelope/role/next"
POLICIES = (
    ProtectionPolicy(),
    ProtectionPolicy(encrypt=False),
    ProtectionPolicy(order=ProtectionOrder.ENCRYPT_BEFORE_SIGN, encrypt_signature=False),
)


def _received(payload: bytes, policy: ProtectionPolicy) -> tuple[VerifiedMessage, VerifiedMessage]:
    """``payload`` in an envelope (which binds ``a``, the QName's prefix) with a header block to be understood,
    protected under a context and verified by the core and by the Python path."""
    if compiled.core() is None:
        pytest.skip("the compiled core is not in use here (WSSC_PURE_PYTHON)")
    sct = SecurityContextToken(new_identifier(), wsu_id="SCT-1")
    key = os.urandom(32)
    plain = envelope("1.2", payload=payload, extra_headers=HEADER)
    data = protect(plain, ContextProtection(sct, key), policy).data
    core_side = Receiver(StaticKeys({sct.identifier: key})).unprotect(data)
    assert core_side._view is None, "the core declined this message"
    with compiled.forced_python():
        python_side = Receiver(StaticKeys({sct.identifier: key})).unprotect(data)
    return core_side, python_side


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("policy", POLICIES, ids=("sign-encrypt", "sign", "encrypt-sign"))
def test_the_core_reads_as_the_python_path_does(payload: bytes, policy: ProtectionPolicy) -> None:
    core_side, python_side = _received(payload, policy)
    assert core_side.header_blocks() == python_side.header_blocks()
    custom = [block for block in core_side.header_blocks() if block.tag == "{urn:example:x}Custom"]
    assert [(b.must_understand, b.role, b.text) for b in custom] == [(" 1", ROLE_NEXT, "custom")]
    assert core_side.payload_tags() == python_side.payload_tags()
    forms = core_side.payload_xml()
    assert forms == python_side.payload_xml()
    assert all(isinstance(form, ElementXML) for form in forms)
    # each form means what the element means where it stands: the same name, every namespace in scope
    # (a QName in content resolves), the same canonical form
    for form, element in zip(forms, python_side.payload(), strict=True):
        alone = etree.fromstring(form)
        assert alone.tag == element.tag
        assert alone.nsmap == element.nsmap
        assert c14n(alone) == c14n(element)


def test_reading_the_core_record_builds_no_view(monkeypatch: pytest.MonkeyPatch) -> None:
    core_side, _ = _received(PAYLOADS[1], ProtectionPolicy())

    def no_view(*_args: Any) -> None:
        raise AssertionError("the view was built")

    monkeypatch.setattr(compiled_unprotect, "_view", no_view)
    assert core_side.header_blocks() and core_side.payload_tags() == ("{urn:m}op",)
    assert etree.fromstring(core_side.payload_xml()[0]).get("{http://www.w3.org/2001/XMLSchema-instance}type")


def test_the_echo_is_routed_and_answered_without_a_view(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's echo under a context the core verifies: the service reads the action, the message ID and the
    mustUnderstand headers from the record, the answer carries the payload as verified, and lxml never parses
    the request."""
    if compiled.core() is None:
        pytest.skip("the compiled core is not in use here (WSSC_PURE_PYTHON)")
    certificate, key = self_signed("treeless service")
    service = SecureConversationService(ServiceCredentials(certificate, key))
    session = ClientSession(ClientBootstrap(certificate), "http://svc/echo")
    event = service.receive(session.establish())
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)

    def no_view(*_args: Any) -> None:
        raise AssertionError("the view was built")

    monkeypatch.setattr(compiled_unprotect, "_view", no_view)
    request = service.receive(session.request(PAYLOADS[0], "urn:e:echo"))
    assert isinstance(request, ApplicationRequest), request
    assert request.action == "urn:e:echo" and request.message_id is not None
    answer = service.respond(request, echo_handler(request))
    monkeypatch.undo()
    echoed = session.receive(answer)
    assert [c14n(e) for e in echoed.message.payload()] == [c14n(etree.fromstring(PAYLOADS[0]))]


def test_an_answer_of_other_bytes_is_checked_to_be_one_element() -> None:
    """Only :class:`ElementXML` goes into an envelope as it is; other bytes are parsed first."""
    assert b"<m:x" in soap_envelope((ElementXML(b'<m:x xmlns:m="urn:m"></m:x>'),), None)
    with pytest.raises(etree.XMLSyntaxError):
        soap_envelope((b"<m:x xmlns:m='urn:m'/><y/>",), None)

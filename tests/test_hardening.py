"""Hardening beyond the first cut: key instances for Amend, replay of unsigned messages, response actions."""

from __future__ import annotations

import os
import types

import pytest

from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.service import FaultReply, SecureConversationService, ServiceSettings, TokenReply
from wssc.errors import BadContextToken, InvalidSecurity
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.x509 import self_signed

SERVICE = self_signed("hardening service")
ENVELOPE = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x xmlns="urn:x">1</x></s:Body>'
    b"</s:Envelope>"
)


def test_amend_needs_the_current_key_instance() -> None:
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    client = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    client.receive(service.receive(client.establish()).reply.data)  # type: ignore[union-attr]
    old = client.context
    client.receive(service.receive(client.renew()).reply.data)  # type: ignore[union-attr]
    client.context = old  # a holder of the previous instance, still inside the rollover window
    event = service.receive(client.amend(*self_signed("late amender")))
    assert isinstance(event, FaultReply) and isinstance(event.error, BadContextToken)


def test_encrypted_only_messages_are_replay_protected() -> None:
    key = os.urandom(32)
    sct = SecurityContextToken("urn:uuid:replay", wsu_id="SCT-1")
    message = protect(ENVELOPE, ContextProtection(sct, key), ProtectionPolicy(sign=False)).data
    receiver = Receiver(StaticKeys({sct.identifier: key}), Requirements(signature=False, signed_body=False))
    receiver.unprotect(message)
    with pytest.raises(InvalidSecurity):
        receiver.unprotect(message)


def test_client_refuses_a_token_response_with_another_action(monkeypatch: pytest.MonkeyPatch) -> None:
    from wssc.conversation import token_service
    from wssc.trust import actions

    service = SecureConversationService(ServiceCredentials(*SERVICE))
    client = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    wrong = types.SimpleNamespace(
        Binding=actions.Binding,
        operation_for_action=actions.operation_for_action,
        response_action=lambda *args, **kw: "urn:example:not-an-rstr",
    )
    monkeypatch.setattr(token_service, "actions", wrong)
    event = service.receive(client.establish())
    assert isinstance(event, TokenReply)
    with pytest.raises(InvalidSecurity):
        client.receive(event.reply.data)
    assert client.context is None


def test_rsa15_suites_transport_the_bootstrap_key_with_rsa15() -> None:
    from wssc.primitives import algorithms as alg
    from wssc.primitives.algorithms import suite

    policy = ProtectionPolicy(suite=suite("Basic128Rsa15"))
    service = SecureConversationService(ServiceCredentials(*SERVICE), settings=ServiceSettings(policy=policy))
    client = ClientSession(ClientBootstrap(SERVICE[0], policy=policy), "http://svc/echo", ClientSettings(policy=policy))
    request = client.establish()
    assert alg.RSA_1_5.encode() in request and alg.RSA_OAEP_MGF1P.encode() not in request
    event = service.receive(request)
    assert isinstance(event, TokenReply)
    client.receive(event.reply.data)
    assert client.context is not None


def test_default_prefix_on_an_inclusive_list_is_honoured_in_a_fresh_thread() -> None:
    """lxml passes libxml2 only the PrefixList entries its thread's dictionary holds: without priming, #default was
    dropped in a thread that had not yet parsed a document with xmlns="" (found by the compiled core's differential
    test), so one reference digested two ways.  A fresh thread, a document built without parsing, both honour it."""
    import threading

    from lxml import etree

    from wssc.primitives.xml import c14n, parse

    results: list[bytes] = []

    def parsed() -> None:
        doc = parse(b'<E xmlns="urn:e" xmlns:p="urn:p"><A><p:B>t</p:B></A></E>')
        results.append(c14n(doc[0][0], ["#default"]))

    def built() -> None:
        root = etree.Element("{urn:e}E", nsmap={None: "urn:e", "p": "urn:p"})
        etree.SubElement(etree.SubElement(root, "{urn:e}A"), "{urn:p}B").text = "t"
        results.append(c14n(root[0][0], ["#default"]))

    for target in (parsed, built):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    assert results == [b'<p:B xmlns="urn:e" xmlns:p="urn:p">t</p:B>'] * 2


def test_an_undeclared_prefix_is_refused_even_when_a_warning_follows() -> None:
    """lxml raises on libxml2's last message only: an undeclared prefix followed by a relative-URI warning parsed
    into an element named "w:a" in no namespace (found by the compiled core's differential test)."""
    import pytest

    from wssc.primitives.xml import MalformedXML, parse

    for document in (b'<w:a><c xmlns="urna"/></w:a>', b"<w:a/>", b'<a w:b="1"><c xmlns="urna"/></a>'):
        with pytest.raises(MalformedXML):
            parse(document)
    assert parse(b'<a xmlns="urna"/>').tag == "{urna}a"  # a relative namespace URI alone stays readable

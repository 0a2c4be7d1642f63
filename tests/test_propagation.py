"""A context created by one party and propagated in an unsolicited RSTR (WS-SC 1.3 section 3.3)."""

from __future__ import annotations

import pytest
from lxml import etree

from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession, Established
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, TokenReply
from wssc.security.faults import read_fault
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_1_3, SC_2005_02

SERVICE = self_signed("propagation service")
CREATOR = self_signed("context creator")
PAYLOAD = b'<e:echo xmlns:e="urn:e">propagated</e:echo>'


def _fault_code(event: object) -> str:
    assert isinstance(event, FaultReply)
    fault = read_fault(etree.fromstring(event.reply.data))
    assert fault is not None
    return fault.code.rsplit("}", 1)[-1]


@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
def test_propagated_context_is_taken_on_and_used(version) -> None:  # type: ignore[no-untyped-def]
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    client = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo", ClientSettings(version=version))
    event = service.receive(client.propagate(*CREATOR))
    assert isinstance(event, TokenReply) and event.context is not None
    assert ("x509", "CN=context creator") in [(c.type, c.value) for c in event.context.claims]
    established = client.receive(event.reply.data)
    assert isinstance(established, Established)
    assert established.context.identifier == event.context.identifier
    assert established.context.key == event.context.key
    call = service.receive(client.request(PAYLOAD, "urn:e:echo"))
    assert isinstance(call, ApplicationRequest)
    assert (
        "".join(client.receive(service.respond(call, call.message.payload())).message.body.itertext()) == "propagated"
    )  # type: ignore[union-attr]


def test_propagation_needs_the_creator_to_endorse() -> None:
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    client = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    request = client.propagate(*CREATOR)
    # Strip the endorsing signature and its BinarySecurityToken: the bootstrap signature still verifies.
    root = etree.fromstring(request)
    for el in root.iter(
        "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}BinarySecurityToken"
    ):
        el.getparent().remove(el)  # type: ignore[union-attr]
    event = service.receive(etree.tostring(root))
    assert _fault_code(event) in {"InvalidSecurity", "SecurityTokenUnavailable", "FailedCheck"}


def test_propagated_key_must_be_encrypted_for_us() -> None:
    other_service = self_signed("another service")
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    # The carrying message is for us, but the key inside was encrypted to another certificate.
    client = ClientSession(ClientBootstrap(other_service[0]), "http://svc/echo")
    event = service.receive(client.propagate(*CREATOR))
    assert isinstance(event, FaultReply)


def test_an_existing_identifier_cannot_be_propagated_again() -> None:
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    client = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    request = client.propagate(*CREATOR)
    client.receive(service.receive(request).reply.data)  # type: ignore[union-attr]
    client2 = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    replay = client2.propagate(*CREATOR)
    assert isinstance(service.receive(replay), TokenReply)  # a fresh Identifier is fine
    assert _fault_code(service.receive(request)) == "InvalidSecurity"  # the same message again: a replay


def test_unsupported_key_size_is_unsupported_context_token() -> None:
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    client = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo", ClientSettings(key_size=1024))
    assert _fault_code(service.receive(client.establish())) == "UnsupportedContextToken"

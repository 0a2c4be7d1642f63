"""Every operation under the MutualCertificate and TransportWithMessageCredential bootstraps, in process,
both protocol versions (AnonymousForCertificate and UserNameForCertificate: tests/conversation)."""

from __future__ import annotations

import pytest

from wssc.conversation.bootstrap import MutualCertificateBootstrap, ServiceCredentials, TransportBootstrap
from wssc.conversation.client import (
    Amended,
    Cancelled,
    ClientSession,
    Established,
    Renewed,
    Response,
    Validated,
)
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, TokenReply
from wssc.errors import BadContextToken, FailedAuthentication
from wssc.tokens.x509 import self_signed
from wssc.tokens.x509_trust import CertificateTrust
from wssc.versions import SC_1_3, SC_2005_02

SERVICE = self_signed("bootstrap service")
CLIENT = self_signed("bootstrap client")
AMENDER = self_signed("amending credential")
PAYLOAD = b'<e:echo xmlns:e="urn:e">bootstrapped</e:echo>'
VERSIONS = pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])


def _life(service: SecureConversationService, client: ClientSession, over_tls: bool) -> None:
    def exchange(request: bytes) -> object:
        event = service.receive(request, over_tls=over_tls)
        if isinstance(event, ApplicationRequest):
            return client.receive(service.respond(event, event.message.payload()))
        assert isinstance(event, TokenReply), getattr(event, "error", event)
        return client.receive(event.reply.data)

    established = exchange(client.establish())
    assert isinstance(established, Established)
    identifier = established.context.identifier
    response = exchange(client.request(PAYLOAD, "urn:e:echo"))
    assert isinstance(response, Response) and "".join(response.message.body.itertext()) == "bootstrapped"
    assert isinstance(exchange(client.renew()), Renewed)
    assert isinstance(exchange(client.request(PAYLOAD, "urn:e:echo")), Response)
    assert isinstance(exchange(client.amend(*AMENDER)), Amended)
    stored = service.store.get(identifier, established.context.created)
    assert stored is not None and "CN=amending credential" in [c.value for c in stored.claims]
    validated = exchange(client.validate())
    assert isinstance(validated, Validated) and validated.valid
    stale = client.context
    assert isinstance(exchange(client.cancel()), Cancelled)
    client.context = stale
    event = service.receive(client.request(PAYLOAD, "urn:e:echo"), over_tls=over_tls)
    assert isinstance(event, FaultReply) and isinstance(event.error, BadContextToken)


@VERSIONS
def test_mutual_certificate_every_operation(version) -> None:  # type: ignore[no-untyped-def]
    service = SecureConversationService(
        ServiceCredentials(*SERVICE, client_trust=CertificateTrust(peers=[CLIENT[0], AMENDER[0]]))
    )
    client = ClientSession(
        MutualCertificateBootstrap(SERVICE[0], *CLIENT), "http://svc/echo", ClientSettings(version=version)
    )
    _life(service, client, over_tls=False)


@VERSIONS
def test_transport_with_message_credential_every_operation(version) -> None:  # type: ignore[no-untyped-def]
    service = SecureConversationService(ServiceCredentials(*SERVICE, users={"alice": "wonderland"}))
    bootstrap = TransportBootstrap(username="alice", password="wonderland")
    client = ClientSession(bootstrap, "https://svc/echo", ClientSettings(version=version, over_tls=True))
    _life(service, client, over_tls=True)


def test_transport_messages_are_refused_without_tls() -> None:
    service = SecureConversationService(ServiceCredentials(*SERVICE, users={"alice": "wonderland"}))
    client = ClientSession(
        TransportBootstrap(username="alice", password="wonderland"), "https://svc/echo", ClientSettings(over_tls=True)
    )
    event = service.receive(client.establish(), over_tls=False)
    assert isinstance(event, FaultReply)


def test_untrusted_client_certificate_is_refused() -> None:
    service = SecureConversationService(
        ServiceCredentials(*SERVICE, client_trust=CertificateTrust(peers=[CLIENT[0], AMENDER[0]]))
    )
    stranger = self_signed("stranger")
    client = ClientSession(MutualCertificateBootstrap(SERVICE[0], *stranger), "http://svc/echo")
    event = service.receive(client.establish())
    assert isinstance(event, FaultReply) and isinstance(event.error, FailedAuthentication)


def test_requested_lifetime_is_honoured_up_to_the_service_bound() -> None:
    from datetime import timedelta

    from wssc.conversation.bootstrap import ClientBootstrap

    service = SecureConversationService(ServiceCredentials(*SERVICE))
    short = ClientSession(
        ClientBootstrap(SERVICE[0]), "http://svc/echo", ClientSettings(requested_lifetime=timedelta(minutes=30))
    )
    event = service.receive(short.establish())
    assert isinstance(event, TokenReply) and event.context is not None
    granted = event.context.expires - event.context.created
    assert timedelta(minutes=29) < granted <= timedelta(minutes=30)
    established = short.receive(event.reply.data)
    assert isinstance(established, Established)
    assert abs(established.context.expires - event.context.expires) < timedelta(milliseconds=1)
    long = ClientSession(
        ClientBootstrap(SERVICE[0]), "http://svc/echo", ClientSettings(requested_lifetime=timedelta(days=30))
    )
    event = service.receive(long.establish())
    assert isinstance(event, TokenReply) and event.context is not None
    assert event.context.expires - event.context.created == service.settings.context_lifetime

"""Which client certificates a service believes: PeerTrust, ChainTrust (RFC 5280 path validation) and
PeerOrChainTrust, for MutualCertificate clients, Amend endorsers and creators of propagated contexts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from pki import CLIENT, DEEP_CLIENT, INTERMEDIATE, NOW, ROOT, STRANGER, issue
from wssc.conversation.bootstrap import ClientBootstrap, MutualCertificateBootstrap, ServiceCredentials
from wssc.conversation.client import Amended, ClientSession, Established
from wssc.conversation.service import FaultReply, SecureConversationService, TokenReply
from wssc.errors import FailedAuthentication
from wssc.tokens.x509 import self_signed
from wssc.tokens.x509_trust import CertificateTrust

SERVICE = self_signed("trust service")


def _check(trust: CertificateTrust, certificate: x509.Certificate, when: datetime = NOW) -> bool:
    try:
        trust.check(certificate, when)
    except FailedAuthentication:
        return False
    return True


def test_chain_trust_accepts_what_the_anchors_issued() -> None:
    trust = CertificateTrust(anchors=[ROOT[0]])
    assert _check(trust, CLIENT[0])
    assert not _check(trust, STRANGER[0])
    assert not _check(trust, self_signed("self made")[0])
    # The anchor itself is a CA, not a client.
    assert not _check(trust, ROOT[0])


def test_intermediates_are_configured_not_taken_from_the_message() -> None:
    assert not _check(CertificateTrust(anchors=[ROOT[0]]), DEEP_CLIENT[0])
    assert _check(CertificateTrust(anchors=[ROOT[0]], intermediates=[INTERMEDIATE[0]]), DEEP_CLIENT[0])


def test_validity_is_checked_at_the_message_time() -> None:
    trust = CertificateTrust(anchors=[ROOT[0]])
    assert not _check(trust, CLIENT[0], NOW + timedelta(days=60))
    assert not _check(trust, CLIENT[0], NOW - timedelta(days=2))
    expired = issue("expired.example", ROOT, start=NOW - timedelta(days=40), valid_days=30)
    assert not _check(trust, expired[0])


def test_client_certificates_must_be_for_client_authentication() -> None:
    trust = CertificateTrust(anchors=[ROOT[0]])
    server_only = issue("server.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH])
    assert not _check(trust, server_only[0])
    assert _check(trust, issue("any.example", ROOT, usages=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])[0])
    assert not _check(trust, issue("sub CA", ROOT, ca=True)[0])


def test_peer_or_chain_trust() -> None:
    pinned = self_signed("pinned peer")
    trust = CertificateTrust(peers=[pinned[0]], anchors=[ROOT[0]])
    assert _check(trust, pinned[0])
    assert _check(trust, CLIENT[0])
    assert not _check(trust, STRANGER[0])
    assert not _check(CertificateTrust(peers=[pinned[0]]), CLIENT[0])
    assert not _check(CertificateTrust(), CLIENT[0])


def _service() -> SecureConversationService:
    return SecureConversationService(ServiceCredentials(*SERVICE, client_trust=CertificateTrust(anchors=[ROOT[0]])))


def test_mutual_certificate_clients_are_path_validated() -> None:
    service = _service()
    client = ClientSession(MutualCertificateBootstrap(SERVICE[0], *CLIENT), "http://svc/echo")
    event = service.receive(client.establish())
    assert isinstance(event, TokenReply) and event.context is not None
    assert isinstance(client.receive(event.reply.data), Established)
    assert event.context.claims[0].value == "CN=client.example"

    stranger = ClientSession(MutualCertificateBootstrap(SERVICE[0], *STRANGER), "http://svc/echo")
    event = service.receive(stranger.establish())
    assert isinstance(event, FaultReply) and isinstance(event.error, FailedAuthentication)
    with pytest.raises(FailedAuthentication):
        stranger.receive(event.reply.data)


def test_amend_adds_only_trusted_credentials() -> None:
    service = _service()
    client = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    event = service.receive(client.establish())
    assert isinstance(event, TokenReply) and event.context is not None
    client.receive(event.reply.data)
    identifier = event.context.identifier

    refused = service.receive(client.amend(*STRANGER))
    assert isinstance(refused, FaultReply) and isinstance(refused.error, FailedAuthentication)
    with pytest.raises(FailedAuthentication):
        client.receive(refused.reply.data)
    stored = service.store.get(identifier, NOW)
    assert stored is not None and all("stranger" not in claim.value for claim in stored.claims)

    event = service.receive(client.amend(*CLIENT))
    assert isinstance(event, TokenReply)
    assert isinstance(client.receive(event.reply.data), Amended)
    stored = service.store.get(identifier, NOW)
    assert stored is not None
    assert ("x509", "CN=client.example", "endorsing-signature") in [(c.type, c.value, c.issuer) for c in stored.claims]


def test_propagated_contexts_need_a_trusted_creator() -> None:
    service = _service()
    untrusted = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    event = service.receive(untrusted.propagate(*STRANGER))
    assert isinstance(event, FaultReply) and isinstance(event.error, FailedAuthentication)
    assert len(service.store) == 0  # type: ignore[arg-type]

    trusted = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    event = service.receive(trusted.propagate(*CLIENT))
    assert isinstance(event, TokenReply) and event.context is not None
    assert ("x509", "CN=client.example", "context-creator") in [
        (c.type, c.value, c.issuer) for c in event.context.claims
    ]

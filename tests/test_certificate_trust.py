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
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.context import Claim
from wssc.conversation.service import FaultReply, SecureConversationService, ServiceSettings, TokenReply
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


def _service(settings: ServiceSettings | None = None) -> SecureConversationService:
    credentials = ServiceCredentials(*SERVICE, client_trust=CertificateTrust(anchors=[ROOT[0]]))
    return SecureConversationService(credentials, settings=settings)


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


def test_a_client_certificate_endorsing_the_symmetric_bootstrap_authenticates_the_client() -> None:
    """WCF's wsHttpBinding Message/Certificate without negotiation: the client's X.509 token endorses the
    bootstrap messages; the service checks it against its trust like a MutualCertificate client."""
    service = _service()
    client = ClientSession(
        ClientBootstrap(SERVICE[0], client_certificate=CLIENT[0], client_key=CLIENT[1]), "http://svc"
    )
    assert client.bootstrap.name == "certificate-for-certificate"
    event = service.receive(client.establish())
    assert isinstance(event, TokenReply) and event.context is not None
    assert isinstance(client.receive(event.reply.data), Established)
    assert event.context.claims == (
        Claim("x509", "CN=client.example"),
        Claim("authentication", "certificate"),
    )
    stranger = ClientSession(ClientBootstrap(SERVICE[0], client_certificate=STRANGER[0], client_key=STRANGER[1]), "x")
    refused = service.receive(stranger.establish())
    assert isinstance(refused, FaultReply) and isinstance(refused.error, FailedAuthentication)
    with pytest.raises(ValueError):
        ClientBootstrap(SERVICE[0], client_certificate=CLIENT[0])


def test_a_password_service_takes_no_untrusted_certificate_clients() -> None:
    """A self-made certificate must not stand in for a password: with users and no certificate trust,
    certificate clients (symmetric endorsed or MutualCertificate) are refused."""
    service = SecureConversationService(ServiceCredentials(*SERVICE, users={"alice": "wonderland"}))
    self_made = self_signed("self made")
    for bootstrap in (
        ClientBootstrap(SERVICE[0], client_certificate=self_made[0], client_key=self_made[1]),
        MutualCertificateBootstrap(SERVICE[0], *self_made),
    ):
        session = ClientSession(bootstrap, "http://svc/echo")
        event = service.receive(session.establish())
        assert isinstance(event, FaultReply) and isinstance(event.error, FailedAuthentication)
    alice = ClientSession(ClientBootstrap(SERVICE[0], "alice", "wonderland"), "http://svc/echo")
    assert isinstance(service.receive(alice.establish()), TokenReply)


def test_policy_with_an_endorsing_client_certificate_configures_that_client(vector_path) -> None:  # type: ignore[no-untyped-def]
    from wssc.conversation.policy_client import ClientCredentials, configure_client
    from wssc.policy.ws_policy import PolicyError
    from wssc.policy.wsdl import parse_wsdl

    data = vector_path("cxf-wssc-wsdl/WSSecureConversation_policy.wsdl").read_bytes()
    binding = next(b for b in parse_wsdl(data) if b.name == "_XD_IPingService")
    with pytest.raises(PolicyError, match="client certificate"):
        configure_client(binding.policies[0], credentials=ClientCredentials(service_certificate=SERVICE[0]))
    credentials = ClientCredentials(certificate=CLIENT[0], private_key=CLIENT[1], service_certificate=SERVICE[0])
    config = configure_client(binding.policies[0], credentials=credentials)
    assert isinstance(config.bootstrap, ClientBootstrap) and config.bootstrap.client_certificate is CLIENT[0]
    # And the client so configured (Feb 2005, Basic128, derived keys) gets a context from a wssc service
    # publishing that policy.
    session = ClientSession(
        config.bootstrap,
        "http://svc",
        ClientSettings(version=config.version, policy=config.policy, entropy_mode=config.entropy_mode),
    )
    service = _service(ServiceSettings(version=config.version, policy=config.policy))
    event = service.receive(session.establish())
    assert isinstance(event, TokenReply), getattr(event, "error", event)
    assert isinstance(session.receive(event.reply.data), Established)


def test_the_policy_decides_whether_responses_must_confirm_the_signature(vector_path) -> None:  # type: ignore[no-untyped-def]
    """The WS-SX interop bindings publish Wss11 without RequireSignatureConfirmation: their services send none."""
    from wssc.conversation.policy_client import ClientCredentials, configure_client
    from wssc.policy.wsdl import parse_wsdl

    data = vector_path("cxf-wssc-wsdl/WSSecureConversation_policy.wsdl").read_bytes()
    credentials = ClientCredentials(certificate=CLIENT[0], private_key=CLIENT[1], service_certificate=SERVICE[0])
    for name in ("_XD_IPingService", "_A_IPingService", "_X10_IPingService"):
        binding = next(b for b in parse_wsdl(data) if b.name == name)
        bootstrap = configure_client(binding.policies[0], credentials=credentials).bootstrap
        assert bootstrap.require_signature_confirmation is False, name
    assert ClientBootstrap(SERVICE[0]).require_signature_confirmation

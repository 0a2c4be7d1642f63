"""wssc against the independent negotiation driver (tests/negotiation_driver*.py, written from NEGOTIATION.md and
pyspnego's raw API, importing nothing of wssc): the driver's client negotiates with a wssc service, wssc's client
with the driver's service, in WCF's strict element order, over TLSNEGO (TLS 1.2 and 1.3, anonymous and with a client
certificate) and NTLM, both WS-Trust versions, both SOAP versions.  The negotiated context is then used: the driver's
key protects an application message the wssc service accepts.  Kerberos runs in tests/test_negotiation_kerberos.py.
"""

from __future__ import annotations

import ssl
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from negotiation_driver import DriverClient, DriverFault
from negotiation_driver_pairs import BOTH, PASSWORD, ntlm_users, tls_files  # noqa: F401 - ntlm_users is a fixture
from negotiation_driver_service import DriverService, in_process
from negotiation_support import driver_context, echo_call
from pki import CLIENT, ROOT
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.context import SecurityContext
from wssc.conversation.negotiating import ClientNegotiation, tlsnego
from wssc.conversation.negotiation import Negotiator
from wssc.conversation.service import SecureConversationService, ServiceSettings
from wssc.security.soap import SOAP11, SOAP12
from wssc.tokens.x509_trust import CertificateTrust
from wssc.trust.negotiation.spnego import SpnegoInitiator
from wssc.versions import by_name

TLS = [pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"), pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3")]
PAIRS = [pytest.param(v, s, id=f"{v}-soap{s}") for v, s in BOTH]
SOAPS = {"1.1": SOAP11, "1.2": SOAP12}


def _service_pair() -> tuple[Any, Any]:
    """The driver's service certificate and key (tls_files), read back."""
    tls = tls_files()
    with open(tls.server_cert, "rb") as cert, open(tls.server_key, "rb") as key:
        return x509.load_pem_x509_certificate(cert.read()), serialization.load_pem_private_key(key.read(), None)


def _wssc_service(negotiator: Negotiator, version: str) -> SecureConversationService:
    settings = ServiceSettings(version=by_name(version), bootstrap=negotiator.bootstrap, accept_bootstrap_messages=True)
    return SecureConversationService(ServiceCredentials(*_service_pair()), settings=settings, negotiator=negotiator)


def _post(service: SecureConversationService):
    def post(data: bytes, _action: str) -> bytes:
        event = service.receive(data)
        return event.reply.data  # type: ignore[union-attr]

    return post


def _use(service: SecureConversationService, result: Any, version: str, soap: str) -> None:
    """The driver's negotiated key protects an application message (wssc's message layer) the service accepts."""
    context = driver_context(result, by_name(version))
    stored = service.store.get(result.identifier, datetime.now(timezone.utc))
    assert stored is not None and stored.key == result.key
    assert "hello" in echo_call(service, context, SOAPS[soap], "hello")


@pytest.mark.parametrize("mutual", [False, True], ids=["anonymous", "mutual"])
@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize(("version", "soap"), PAIRS)
def test_driver_client_with_wssc_service_tlsnego(version: str, soap: str, tls: ssl.TLSVersion, mutual: bool) -> None:
    files = tls_files()
    trust = CertificateTrust(anchors=[ROOT[0]]) if mutual else None
    negotiator = Negotiator.tlsnego(*_service_pair(), client_trust=trust, require_client_certificate=mutual)
    service = _wssc_service(negotiator, version)
    client = DriverClient(
        "tlsnego",
        version,
        soap,
        ca_pem=files.ca,
        tls_maximum=tls,
        strict=True,
        client_cert_file=files.client_cert if mutual else None,
        client_key_file=files.client_key if mutual else None,
    )
    result = client.negotiate(_post(service))
    assert result.legs[-1] == "RSTRC" and result.final_blob is (tls is ssl.TLSVersion.TLSv1_2)
    _use(service, result, version, soap)


def test_driver_client_refused_without_its_certificate() -> None:
    trust = CertificateTrust(anchors=[ROOT[0]])
    service = _wssc_service(
        Negotiator.tlsnego(*_service_pair(), client_trust=trust, require_client_certificate=True), "1.3"
    )
    client = DriverClient("tlsnego", "1.3", "1.2", ca_pem=tls_files().ca, strict=True)
    with pytest.raises(DriverFault) as fault:
        client.negotiate(_post(service))
    assert (fault.value.code, fault.value.subcode) == ("Sender", "FailedAuthentication")


@pytest.mark.usefixtures("ntlm_users")
@pytest.mark.parametrize(("version", "soap"), PAIRS)
def test_driver_client_with_wssc_service_ntlm(version: str, soap: str, tmp_path) -> None:
    users = tmp_path / "wssc-ntlm-users"
    users.write_text(f":alice:{PASSWORD}\n")
    service = _wssc_service(Negotiator.spnego(ntlm_users=str(users), protocol="ntlm"), version)
    client = DriverClient(
        "spnego",
        version,
        soap,
        username="alice",
        password=PASSWORD,
        hostname="service.example",
        require_mutual_auth=False,
        strict=True,
    )
    result = client.negotiate(_post(service))
    assert result.legs == ("RST", "RSTR", "RSTR", "RSTRC")
    _use(service, result, version, soap)
    stored = service.store.get(result.identifier, datetime.now(timezone.utc))
    assert stored is not None and ("name", "alice") in {(c.type, c.value.split("\\")[-1]) for c in stored.claims}


def _wssc_negotiate(mechanism: Any, version: str, soap: str, driver: DriverService) -> SecurityContext:
    negotiation = ClientNegotiation(mechanism, by_name(version), SOAPS[soap], "http://127.0.0.1/service")
    post = in_process(driver)
    step = negotiation.first()
    while True:
        result = negotiation.receive(post(*step))
        if isinstance(result, SecurityContext):
            return result
        step = result


@pytest.mark.parametrize("mutual", [False, True], ids=["anonymous", "mutual"])
@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize(("version", "soap"), PAIRS)
def test_wssc_client_with_driver_service_tlsnego(
    tmp_path: Path, version: str, soap: str, tls: ssl.TLSVersion, mutual: bool
) -> None:
    files = tls_files()
    driver = DriverService(
        "tlsnego",
        version,
        tls_cert_file=files.server_cert,
        tls_key_file=files.server_key,
        client_ca_pem=files.ca if mutual else None,
        tls_maximum=tls,
        strict=True,
    )
    ca = tmp_path / "ca.pem"
    ca.write_text(files.ca)
    new = tlsnego(verify=str(ca), cert=(files.client_cert, files.client_key) if mutual else None)
    context = _wssc_negotiate(new(), version, soap, driver)
    negotiated = driver.contexts[context.identifier]
    assert negotiated.key == context.key and len(context.key) == 32
    if mutual:
        assert any(
            CLIENT[0].subject.rfc4514_string() in str(claim) or "client" in str(claim) for claim in negotiated.claims
        )


@pytest.mark.usefixtures("ntlm_users")
@pytest.mark.parametrize(("version", "soap"), PAIRS)
def test_wssc_client_with_driver_service_ntlm(version: str, soap: str) -> None:
    driver = DriverService("spnego", version, strict=True)
    mechanism = SpnegoInitiator("host/service.example", username="alice", password=PASSWORD, protocol="ntlm")
    context = _wssc_negotiate(mechanism, version, soap, driver)
    assert driver.contexts[context.identifier].key == context.key

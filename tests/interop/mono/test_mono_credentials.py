"""Client credentials over the symmetric bootstrap binding, against Mono's WCF, both directions:

- WCF's certificate client: the client's X.509 token endorses every message protected by the EncryptedKey
  (``EndpointSupportingTokenParameters.Endorsing``; WS-SP 1.2 section 8.3), signatures encrypted;
- UserNameForCertificate: a signed and encrypted UsernameToken (``SignedEncrypted``; WS-SP 1.2 section 8.4);
- MutualCertificate: the asymmetric binding (WS-SP 1.2 section 7.5), the client's key signing, with
  SignatureConfirmation (as WCF's MutualCertificate for WSS 1.1).

Mono encrypts the endorsing signature as well as the primary one when the signature is encrypted, and refuses
a message whose endorsing signature is in clear; wssc writes them the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from mono_wcf import (
    ACTION,
    ECHO_NS,
    MONO_COMPATIBLE_POLICY,
    MonoService,
    Recorder,
    ServiceCertificate,
    WsscServer,
    run_client,
    write_certificate,
)

from wssc.adapters.asgi import WsscApp
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import ClientBootstrap, MutualCertificateBootstrap, ServiceCredentials
from wssc.conversation.context import Claim
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.conversation.settings import ServiceSettings
from wssc.errors import InvalidSecurity, WsscError
from wssc.security.policy import ProtectionPolicy
from wssc.security.soap import SOAP11, SOAP12
from wssc.tokens.x509 import self_signed
from wssc.tokens.x509_trust import CertificateTrust
from wssc.versions import SC_2005_02

ENDORSE = {"WSSC_MONO_ENDORSE": "1"}
MUTUAL = {"WSSC_MONO_MUTUAL": "1"}
TRUSTED_PATH, UNTRUSTED_PATH = "/trusted", "/untrusted"


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> ServiceCertificate:
    """The client's certificate, as PEM and as the PKCS#12 file Mono's client signs with."""
    return write_certificate(*self_signed("mono certificate client"), tmp_path_factory.mktemp("mono-client"))


@pytest.fixture(scope="module")
def endorsed_mono_service(
    mono_exe: Path, service_cert: ServiceCertificate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MonoService]:
    log = tmp_path_factory.mktemp("mono-endorsed") / "service.log"
    service = MonoService(mono_exe, service_cert, log, env=ENDORSE)
    try:
        yield service
    finally:
        service.close()


class Claims:
    def __init__(self) -> None:
        self.seen: list[tuple[Claim, ...]] = []


@pytest.fixture(scope="module")
def wssc_endorsed(service_cert: ServiceCertificate, client_cert: ServiceCertificate) -> Iterator[tuple[str, Claims]]:
    """wssc services taking bootstrap-protected messages: one trusting the Mono client's certificate, one not."""
    claims = Claims()

    def app(trust: CertificateTrust) -> WsscApp:
        credentials = ServiceCredentials(service_cert.certificate, service_cert.private_key, client_trust=trust)
        settings = ServiceSettings(accept_bootstrap_messages=True, version=SC_2005_02)
        wssc = WsscApp(SecureConversationService(credentials, settings=settings))

        @wssc.operation(ACTION)
        def echo(request: ApplicationRequest) -> list[etree._Element]:
            claims.seen.append(request.claims)
            return list(request.message.payload())

        return wssc

    stranger = self_signed("someone else")[0]
    server = WsscServer(
        Recorder(
            {
                TRUSTED_PATH: app(CertificateTrust(peers=[client_cert.certificate])),
                UNTRUSTED_PATH: app(CertificateTrust(peers=[stranger])),
            }
        )
    )
    try:
        yield f"http://127.0.0.1:{server.port}", claims
    finally:
        server.close()


@pytest.mark.parametrize("binding", [ENDORSE, MUTUAL], ids=["symmetric-endorsed", "mutual-certificate"])
def test_mono_client_certificate_authenticates_to_wssc(
    mono_exe: Path,
    service_cert: ServiceCertificate,
    client_cert: ServiceCertificate,
    wssc_endorsed: tuple[str, Claims],
    binding: dict[str, str],
) -> None:
    """The same wssc services take both certificate bindings (the request says which one it uses)."""
    base, claims = wssc_endorsed
    env = {**binding, "WSSC_MONO_CLIENT_PFX": str(client_cert.pfx_path)}
    run = run_client(mono_exe, base + TRUSTED_PATH, service_cert.pem_path, "certificate from Mono", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "certificate from Mono" in (run.line("RESPONSE") or "")
    assert claims.seen[-1] == (Claim("x509", "CN=mono certificate client"), Claim("authentication", "certificate"))

    seen = len(claims.seen)
    refused = run_client(mono_exe, base + UNTRUSTED_PATH, service_cert.pem_path, "not trusted", env=env)
    assert refused.returncode != 0 and "RESPONSE" not in refused.stdout
    assert len(claims.seen) == seen


def test_wssc_client_certificate_authenticates_to_mono(
    endorsed_mono_service: MonoService, service_cert: ServiceCertificate, client_cert: ServiceCertificate
) -> None:
    bootstrap = ClientBootstrap(
        service_cert.certificate, client_certificate=client_cert.certificate, client_key=client_cert.private_key
    )
    client = WsscClient(
        endorsed_mono_service.url, bootstrap, version=SC_2005_02, soap=SOAP12, establish_security_context=False
    )
    payload = etree.fromstring(f'<echo xmlns="{ECHO_NS}"><text>endorsed by wssc</text></echo>')
    reply = client.call(payload, ACTION)
    assert "endorsed by wssc" in "".join(reply.body.itertext())
    assert "endorsed by wssc" in endorsed_mono_service.echoed()

    # Without the endorsing certificate the Mono service refuses the message (it enforces the binding).
    plain = WsscClient(
        endorsed_mono_service.url,
        ClientBootstrap(service_cert.certificate),
        version=SC_2005_02,
        soap=SOAP12,
        establish_security_context=False,
    )
    with pytest.raises(WsscError):
        plain.call(payload, ACTION)


# -- UserNameForCertificate ----------------------------------------------------------------------------------
USER = {"WSSC_MONO_USERNAME": "alice:wonderland"}


@pytest.fixture(scope="module")
def username_mono_service(
    mono_exe: Path, service_cert: ServiceCertificate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MonoService]:
    log = tmp_path_factory.mktemp("mono-username") / "service.log"
    service = MonoService(mono_exe, service_cert, log, env=USER)
    try:
        yield service
    finally:
        service.close()


@pytest.fixture(scope="module")
def wssc_users(service_cert: ServiceCertificate) -> Iterator[tuple[str, Claims]]:
    claims = Claims()
    credentials = ServiceCredentials(service_cert.certificate, service_cert.private_key, users={"alice": "wonderland"})
    wssc = WsscApp(
        SecureConversationService(
            credentials, settings=ServiceSettings(accept_bootstrap_messages=True, version=SC_2005_02)
        )
    )

    @wssc.operation(ACTION)
    def echo(request: ApplicationRequest) -> list[etree._Element]:
        claims.seen.append(request.claims)
        return list(request.message.payload())

    server = WsscServer(Recorder({"/users": wssc}))
    try:
        yield f"http://127.0.0.1:{server.port}/users", claims
    finally:
        server.close()


def test_mono_username_client_authenticates_to_wssc(
    mono_exe: Path, service_cert: ServiceCertificate, wssc_users: tuple[str, Claims]
) -> None:
    url, claims = wssc_users
    run = run_client(mono_exe, url, service_cert.pem_path, "as alice", env=USER)
    assert run.returncode == 0, run.stdout + run.stderr
    assert claims.seen[-1] == (Claim("name", "alice"), Claim("authentication", "password"))
    wrong = run_client(mono_exe, url, service_cert.pem_path, "as mallory", env={"WSSC_MONO_USERNAME": "alice:guess"})
    assert wrong.returncode != 0 and "RESPONSE" not in wrong.stdout
    assert len(claims.seen) == 1


def test_wssc_username_client_authenticates_to_mono(
    username_mono_service: MonoService, service_cert: ServiceCertificate
) -> None:
    payload = etree.fromstring(f'<echo xmlns="{ECHO_NS}"><text>alice via wssc</text></echo>')

    def client(password: str) -> WsscClient:
        bootstrap = ClientBootstrap(service_cert.certificate, "alice", password)
        return WsscClient(
            username_mono_service.url, bootstrap, version=SC_2005_02, soap=SOAP12, establish_security_context=False
        )

    reply = client("wonderland").call(payload, ACTION)
    assert "alice via wssc" in "".join(reply.body.itertext())
    assert "USER alice" in username_mono_service.log.read_text(errors="replace")
    with pytest.raises(WsscError):
        client("guess").call(payload, ACTION)


# -- MutualCertificate (asymmetric binding) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def mutual_mono_service(
    mono_exe: Path, service_cert: ServiceCertificate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MonoService]:
    log = tmp_path_factory.mktemp("mono-mutual") / "service.log"
    service = MonoService(mono_exe, service_cert, log, env=MUTUAL)
    try:
        yield service
    finally:
        service.close()


def test_wssc_mutual_certificate_client_to_mono(
    mutual_mono_service: MonoService, service_cert: ServiceCertificate, client_cert: ServiceCertificate
) -> None:
    bootstrap = MutualCertificateBootstrap(service_cert.certificate, client_cert.certificate, client_cert.private_key)
    client = WsscClient(
        mutual_mono_service.url, bootstrap, version=SC_2005_02, soap=SOAP12, establish_security_context=False
    )
    payload = etree.fromstring(f'<echo xmlns="{ECHO_NS}"><text>mutual from wssc</text></echo>')
    reply = client.call(payload, ACTION)
    assert "mutual from wssc" in "".join(reply.body.itertext())
    assert "mutual from wssc" in mutual_mono_service.echoed()


def test_signature_confirmation_is_demanded_unless_the_policy_says_otherwise(
    mono_exe: Path, service_cert: ServiceCertificate, client_cert: ServiceCertificate, tmp_path: Path
) -> None:
    """A Mono service whose binding does not require SignatureConfirmation sends none: wssc's default client
    refuses the unconfirmed response; one configured without ``sp:RequireSignatureConfirmation`` takes it."""
    service = MonoService(mono_exe, service_cert, tmp_path / "service.log", env={**MUTUAL, "WSSC_MONO_NO_CONFIRM": "1"})
    try:
        payload = etree.fromstring(f'<echo xmlns="{ECHO_NS}"><text>unconfirmed</text></echo>')
        for confirm in (True, False):
            bootstrap = MutualCertificateBootstrap(
                service_cert.certificate,
                client_cert.certificate,
                client_cert.private_key,
                require_signature_confirmation=confirm,
            )
            client = WsscClient(
                service.url, bootstrap, version=SC_2005_02, soap=SOAP12, establish_security_context=False
            )
            if confirm:
                with pytest.raises(InvalidSecurity, match="confirm"):
                    client.call(payload, ACTION)
            else:
                assert "unconfirmed" in "".join(client.call(payload, ACTION).body.itertext())
    finally:
        service.close()


# -- SOAP 1.1 ------------------------------------------------------------------------------------------------
SOAP11_ENV = {"WSSC_MONO_SOAP11": "1"}


def test_wssc_soap11_client_to_mono(mono_exe: Path, service_cert: ServiceCertificate, tmp_path: Path) -> None:
    """UserNameForCertificate over SOAP 1.1.  Known Mono incompatibility: a Mono service replaces the signed
    wsa:Action by the (mandatory) SOAPAction header, dropping its wsu:Id ("Malformed reference element."),
    as it does with SOAP 1.2's action parameter; with the WS-Addressing headers left unsigned
    (``MONO_COMPATIBLE_POLICY``) the exchange goes through, password checked."""
    service = MonoService(mono_exe, service_cert, tmp_path / "service.log", env={**USER, **SOAP11_ENV})
    payload = etree.fromstring(f'<echo xmlns="{ECHO_NS}"><text>soap 1.1 from wssc</text></echo>')

    def client(password: str, policy: ProtectionPolicy | None = None) -> WsscClient:
        bootstrap = ClientBootstrap(service_cert.certificate, "alice", password, policy or ProtectionPolicy())
        return WsscClient(service.url, bootstrap, version=SC_2005_02, soap=SOAP11, establish_security_context=False)

    try:
        with pytest.raises(WsscError, match="Malformed reference"):
            client("wonderland").call(payload, ACTION)
        reply = client("wonderland", MONO_COMPATIBLE_POLICY).call(payload, ACTION)
        assert "soap 1.1 from wssc" in "".join(reply.body.itertext())
        assert "soap 1.1 from wssc" in service.echoed()
        with pytest.raises(WsscError):
            client("guess", MONO_COMPATIBLE_POLICY).call(payload, ACTION)
    finally:
        service.close()


def test_mono_soap11_client_drops_the_action_it_signed(
    mono_exe: Path, service_cert: ServiceCertificate, wssc_users: tuple[str, Claims]
) -> None:
    """Known Mono incompatibility: over SOAP 1.1 Mono's client signs wsa:Action, then sends it only as the HTTP
    SOAPAction, so its signature references an element that is not in the message.  WCF keeps the header;
    wssc refuses the message (wsse:InvalidSecurity) rather than accept a signature it cannot check whole."""
    url, claims = wssc_users
    before = len(claims.seen)
    run = run_client(mono_exe, url, service_cert.pem_path, "soap 1.1 from Mono", env={**USER, **SOAP11_ENV})
    assert run.returncode != 0 and "RESPONSE" not in run.stdout
    assert len(claims.seen) == before

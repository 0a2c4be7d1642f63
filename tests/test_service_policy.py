"""`wssc serve` enforces the policy it publishes (issue 7, finding 4): for each bootstrap, the policy text at
``/echo?wsdl`` configures the legitimate client (positive control), and every client weaker than that text is
refused: another credential kind, RSA-1.5 key transport, an issuer-serial reference to the service
certificate, no derived keys, an unencrypted signature, no Timestamp, an unencrypted Body, unsigned
WS-Addressing headers, another suite's algorithms.  After each family a context established before it still
works.

The service is the one `wssc serve` builds (its ``uvicorn.run`` is intercepted), the policy is read back
with wssc's own WSDL and policy readers, and the legitimate client is the one that policy configures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from lxml import etree

from http_support import LiveServer
from pki import CLIENT, ROOT, key_pem, pem
from wssc import namespaces as ns
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.adapters.cli.call import call
from wssc.adapters.cli.conversation import DEMO_WSDL
from wssc.adapters.cli.serving import serve
from wssc.conversation import bootstrap as bootstrap_module
from wssc.conversation.bootstrap import (
    ANONYMOUS_FOR_CERTIFICATE,
    CERTIFICATE_FOR_CERTIFICATE,
    MUTUAL_CERTIFICATE,
    USERNAME_FOR_CERTIFICATE,
    Bootstrap,
    ClientBootstrap,
    MutualCertificateBootstrap,
    ServiceCredentials,
)
from wssc.conversation.client import ClientSession, Established, Response
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.policy_client import ClientConfiguration, ClientCredentials, configure_client
from wssc.conversation.service import (
    ApplicationRequest,
    FaultReply,
    SecureConversationService,
    ServiceSettings,
    TokenReply,
)
from wssc.errors import (
    InvalidSecurity,
    InvalidSecurityToken,
    UnsupportedAlgorithm,
    WsscError,
)
from wssc.policy.security_policy import BindingKind, SecurityPolicy, SupportingCategory, TokenRole
from wssc.policy.wsdl import parse_wsdl
from wssc.primitives import algorithms as alg
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.x509 import X509Token, self_signed
from wssc.tokens.x509_trust import CertificateTrust

SERVICE = self_signed("served policy service")
PAYLOAD = b'<e:echo xmlns:e="urn:e">policy</e:echo>'
ACTION = "urn:wssc:demo:echo"
USERS = "alice:wonderland\n"
SERVED = [ANONYMOUS_FOR_CERTIFICATE, USERNAME_FOR_CERTIFICATE, MUTUAL_CERTIFICATE, CERTIFICATE_FOR_CERTIFICATE]


@dataclass
class Served:
    """A service as `wssc serve` built it, and what its ?wsdl publishes."""

    service: SecureConversationService
    policy: SecurityPolicy
    certificate: x509.Certificate
    bootstrap: str

    def credentials(self) -> ClientCredentials:
        if self.bootstrap == USERNAME_FOR_CERTIFICATE:
            return ClientCredentials(username="alice", password="wonderland")
        if self.bootstrap in (MUTUAL_CERTIFICATE, CERTIFICATE_FOR_CERTIFICATE):
            return ClientCredentials(certificate=CLIENT[0], private_key=CLIENT[1])
        return ClientCredentials()

    def configuration(self) -> ClientConfiguration:
        """The client the published policy configures (service certificate from the port's identity)."""
        return configure_client(self.policy, published_certificate=self.certificate, credentials=self.credentials())

    def session(self, bootstrap: Bootstrap | None = None) -> ClientSession:
        config = self.configuration()
        return ClientSession(
            bootstrap or config.bootstrap,
            "http://svc/echo",
            ClientSettings(version=config.version, policy=config.policy, entropy_mode=config.entropy_mode),
        )

    def establish(self, session: ClientSession) -> TokenReply | FaultReply:
        event = self.service.receive(session.establish())
        assert isinstance(event, (TokenReply, FaultReply))
        if isinstance(event, TokenReply):
            assert isinstance(session.receive(event.reply.data), Established)
        return event

    def call(self, session: ClientSession) -> str:
        event = self.service.receive(session.request(PAYLOAD, ACTION))
        assert isinstance(event, ApplicationRequest), getattr(event, "error", event)
        response = session.receive(self.service.respond(event, event.message.payload()))
        assert isinstance(response, Response)
        return "".join(str(t) for t in response.message.body.itertext())


def _serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bootstrap: str, suite: str = "Basic256") -> Served:
    """Run `wssc serve --bootstrap B --suite S` up to uvicorn.run, and read the policy its app publishes."""
    import uvicorn

    files = {"cert.pem": pem(SERVICE[0]), "key.pem": key_pem(SERVICE[1]), "ca.pem": pem(ROOT[0])}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "users.txt").write_text(USERS)
    apps: list[WsscApp] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: apps.append(app))
    args = ["--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem"), "--bootstrap", bootstrap]
    args += ["--suite", suite, "--trust-anchor", str(tmp_path / "ca.pem"), "--users", str(tmp_path / "users.txt")]
    result = CliRunner().invoke(serve, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (app,) = apps
    (binding,) = parse_wsdl(app.published_wsdl("http://svc/echo"))
    (port,) = binding.ports
    assert port.certificate == SERVICE[0]
    return Served(app.service, binding.policy, port.certificate, bootstrap)


def _bootstrap_policy(policy: SecurityPolicy) -> SecurityPolicy:
    token = policy.protection_token
    assert token is not None and token.bootstrap is not None
    return token.bootstrap


@pytest.fixture(params=SERVED)
def served(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    yield _serve(tmp_path, monkeypatch, request.param)


def _refused(
    served: Served, session: ClientSession, *errors: type[WsscError], shows: Callable[[bytes], bool] | None = None
) -> None:
    """The Issue request ``session`` makes (which ``shows`` the weakness, when given) is refused."""
    request = session.establish()
    assert shows is None or shows(request), "the request does not carry the weakness under test"
    event = served.service.receive(request)
    assert isinstance(event, FaultReply), f"a weaker bootstrap got a context from a {served.bootstrap} service"
    assert isinstance(event.error, errors), event.error
    assert session.context is None


def _security(request: bytes) -> etree._Element:
    root = etree.fromstring(request)
    found = root.find(f"{{{ns.SOAP12}}}Header/{{{ns.WSSE}}}Security")
    assert found is not None
    return found


def _body_encrypted(request: bytes) -> bool:
    body = etree.fromstring(request).find(f"{{{ns.SOAP12}}}Body")
    return body is not None and body.find(f"{{{ns.XENC}}}EncryptedData") is not None


def _uses(*uris: str) -> Callable[[bytes], bool]:
    return lambda request: all(f'Algorithm="{uri}"'.encode() in request for uri in uris)


# -- what is published is what is demanded -----------------------------------------------------------------------


def test_the_published_policy_is_what_the_service_demands(served: Served) -> None:
    """Read back, the published bootstrap names the bootstrap, the suite, thumbprint references, derived keys
    (not for MutualCertificate), an encrypted signature, a Timestamp and the signed and encrypted parts; the
    reader's requirements of that text agree with what the service's receivers demand."""
    bootstrap = _bootstrap_policy(served.policy)
    settings = served.service.settings
    demanded = settings.request_requirements(bootstrap=True)
    read = bootstrap.requirements()
    assert bootstrap.suite is alg.BASIC256 and demanded.suite is alg.BASIC256
    assert bootstrap.encrypt_signature and demanded.encrypted_signature
    assert bootstrap.include_timestamp and demanded.timestamp and demanded.signed_timestamp
    assert (read.signed_body, read.encrypted_body, read.signed_addressing_headers) == (True, True, True)
    assert (demanded.signed_body, demanded.encrypted_body, demanded.signed_addressing_headers) == (True, True, True)
    assert read.derived_keys is demanded.derived_keys is (served.bootstrap != MUTUAL_CERTIFICATE)
    assert demanded.key_references == frozenset({"thumbprint"})
    service_token = bootstrap.token(TokenRole.RECIPIENT) or bootstrap.protection_token
    assert service_token is not None and "RequireThumbprintReference" in service_token.options
    categories = {group.category for group in bootstrap.supporting}
    expected = {
        ANONYMOUS_FOR_CERTIFICATE: (BindingKind.SYMMETRIC, set()),
        USERNAME_FOR_CERTIFICATE: (BindingKind.SYMMETRIC, {SupportingCategory.SIGNED_ENCRYPTED}),
        CERTIFICATE_FOR_CERTIFICATE: (BindingKind.SYMMETRIC, {SupportingCategory.ENDORSING}),
        MUTUAL_CERTIFICATE: (BindingKind.ASYMMETRIC, set()),
    }
    assert (bootstrap.binding, categories) == expected[served.bootstrap]
    # Context messages: the same suite, derived keys, encrypted signature; WS-A unsigned as the demo says.
    context = settings.request_requirements(bootstrap=False)
    outer = served.policy.requirements()
    assert outer.suite is context.suite is alg.BASIC256 and outer.derived_keys and context.derived_keys
    assert served.policy.encrypt_signature and context.encrypted_signature
    assert not outer.signed_addressing_headers and not context.signed_addressing_headers
    assert outer.encrypted_body and context.encrypted_body
    assert served.policy.unsupported() == ()


# -- weaker credential kinds ----------------------------------------------------------------------------------


def _bootstrap_messages(served: Served) -> ProtectionPolicy:
    """How the published bootstrap protects its messages (as the policy's own client does)."""
    bootstrap = served.configuration().bootstrap
    assert isinstance(bootstrap, (ClientBootstrap, MutualCertificateBootstrap))
    return replace(bootstrap.policy, derived_keys=True)


def _other_kinds(served: Served, policy: ProtectionPolicy) -> dict[str, Bootstrap]:
    cert = served.certificate
    return {
        ANONYMOUS_FOR_CERTIFICATE: ClientBootstrap(cert, policy=policy),
        USERNAME_FOR_CERTIFICATE: ClientBootstrap(cert, "alice", "wonderland", policy=policy),
        CERTIFICATE_FOR_CERTIFICATE: ClientBootstrap(
            cert, policy=policy, client_certificate=CLIENT[0], client_key=CLIENT[1]
        ),
        MUTUAL_CERTIFICATE: MutualCertificateBootstrap(cert, *CLIENT, policy=replace(policy, derived_keys=False)),
    }


#: the clients each bootstrap must refuse: every weaker kind, and the other certificate binding
WEAKER_KINDS = {
    USERNAME_FOR_CERTIFICATE: [ANONYMOUS_FOR_CERTIFICATE],
    CERTIFICATE_FOR_CERTIFICATE: [ANONYMOUS_FOR_CERTIFICATE, USERNAME_FOR_CERTIFICATE, MUTUAL_CERTIFICATE],
    MUTUAL_CERTIFICATE: [ANONYMOUS_FOR_CERTIFICATE, USERNAME_FOR_CERTIFICATE, CERTIFICATE_FOR_CERTIFICATE],
}


@pytest.mark.parametrize("published", list(WEAKER_KINDS))
def test_attack_weaker_credential_kind_than_the_published_bootstrap(
    published: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`wssc serve --bootstrap mutual-certificate --trust-anchor CA` served anonymous and username clients:
    now each kind other than the published one is wsse:InvalidSecurity (the token the policy requires is
    missing: WCF's MessageSecurityException), and the published kind is served."""
    served = _serve(tmp_path, monkeypatch, published)
    live = served.session()
    assert isinstance(served.establish(live), TokenReply)  # positive control: the policy's own client
    assert served.call(live) == "policy"
    messages = _bootstrap_messages(served)
    for kind in WEAKER_KINDS[published]:
        attacker = served.session(_other_kinds(served, messages)[kind])
        _refused(served, attacker, InvalidSecurity)
    assert served.call(live) == "policy"  # an unrelated live context still works


def test_an_anonymous_service_serves_every_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AnonymousForCertificate demands no credential: its policy's client and a username client both get in
    (a certificate binding is refused only for what its policy shape lacks, not its credential)."""
    served = _serve(tmp_path, monkeypatch, ANONYMOUS_FOR_CERTIFICATE)
    messages = _bootstrap_messages(served)
    for kind in (ANONYMOUS_FOR_CERTIFICATE, USERNAME_FOR_CERTIFICATE, CERTIFICATE_FOR_CERTIFICATE):
        session = served.session(_other_kinds(served, messages)[kind])
        assert isinstance(served.establish(session), TokenReply), kind


# -- weaker protection than the published binding -------------------------------------------------------------


def _weaken(bootstrap: Bootstrap, **changes: object) -> Bootstrap:
    assert isinstance(bootstrap, (ClientBootstrap, MutualCertificateBootstrap))
    return replace(bootstrap, policy=replace(bootstrap.policy, **changes))  # type: ignore[arg-type]


#: weakening -> (the weaker client, the faults WCF and WSS 1.1 section 12 name for it, evidence in the request);
#: key transport, issuer-serial references and the unencrypted signature are enforced in wssc.security
#: (Requirements.suite's asymmetric_key_wrap, key_references, encrypted_signature)
Weakening = tuple[Callable[[Bootstrap], Bootstrap], tuple[type[WsscError], ...], Callable[[bytes], bool]]
WEAKENINGS: dict[str, Weakening] = {
    "no-timestamp": (
        lambda b: _weaken(b, include_timestamp=False),
        (InvalidSecurity,),
        lambda r: _security(r).find(f"{{{ns.WSU}}}Timestamp") is None,
    ),
    "unencrypted-body": (
        lambda b: _weaken(b, encrypt=False),
        (InvalidSecurity,),
        lambda r: not _body_encrypted(r),
    ),
    "unsigned-addressing": (
        lambda b: _weaken(b, sign_addressing_headers=False),
        (InvalidSecurity,),
        lambda r: b"MessageID" in r,
    ),
    "unencrypted-signature": (
        lambda b: _weaken(b, encrypt_signature=False),
        (InvalidSecurity,),
        lambda r: _security(r).find(f"{{{ns.DS}}}Signature") is not None,
    ),
    "other-suite-cipher": (
        lambda b: _weaken(b, suite=alg.BASIC128),
        (UnsupportedAlgorithm,),
        _uses(alg.AES128_CBC),
    ),
    "other-suite-digest": (
        lambda b: _weaken(b, suite=alg.BASIC256_SHA256),
        (UnsupportedAlgorithm,),  # the same cipher: only the (encrypted) digest and HMAC differ
        lambda r: True,
    ),
    "rsa15-key-transport": (
        lambda b: replace(b, key_transport=alg.RSA_1_5),  # type: ignore[type-var]
        (UnsupportedAlgorithm,),
        _uses(alg.RSA_1_5),
    ),
    "no-derived-keys": (
        lambda b: _weaken(b, derived_keys=False),
        (InvalidSecurity,),
        lambda r: b"DerivedKeyToken" not in r,
    ),
}


def _by_issuer_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make clients name the service certificate by issuer and serial instead of the published thumbprint."""

    def key_for(
        certificate: x509.Certificate, policy: ProtectionPolicy, key_transport: str | None
    ) -> tuple[EncryptedKey, bytes]:
        reference = X509Token(certificate).reference("issuer-serial")
        length = max(policy.suite.encryption_key_length, policy.suite.signature_key_length)
        algorithm = key_transport or policy.suite.asymmetric_key_wrap
        return EncryptedKey.create(certificate, reference, length=length, algorithm=algorithm)

    monkeypatch.setattr(bootstrap_module, "_key_for", key_for)


@pytest.mark.parametrize("weakening", [*WEAKENINGS, "issuer-serial-reference"])
def test_attack_bootstrap_weaker_than_the_published_binding(
    served: Served, weakening: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against each `wssc serve` bootstrap (Basic256: OAEP, derived keys, encrypted signature, Timestamp,
    signed and encrypted Body, signed WS-Addressing, thumbprint reference), a client otherwise configured
    by the published policy but weaker in one respect is refused."""
    live = served.session()
    assert isinstance(served.establish(live), TokenReply)  # positive control
    legitimate = served.configuration().bootstrap
    if weakening == "issuer-serial-reference":
        with monkeypatch.context() as patch:
            _by_issuer_serial(patch)
            shows = lambda r: b"X509IssuerSerial" in r  # noqa: E731
            _refused(served, served.session(), InvalidSecurityToken, shows=shows)
    elif weakening == "no-derived-keys" and served.bootstrap == MUTUAL_CERTIFICATE:
        # MutualCertificate publishes no derived keys for its bootstrap (nor does WCF's), so none are demanded
        weaken, _, _ = WEAKENINGS[weakening]
        assert isinstance(served.establish(served.session(weaken(legitimate))), TokenReply)
    else:
        weaken, errors, shows = WEAKENINGS[weakening]
        _refused(served, served.session(weaken(legitimate)), *errors, shows=shows)
    assert isinstance(served.establish(served.session()), TokenReply)  # the legitimate client still gets in
    assert served.call(live) == "policy"  # and an unrelated live context still works


def test_attack_context_message_borrowing_the_bootstrap_requirements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MutualCertificate service demands no derived keys of its bootstrap but does of context messages: a
    context message without derived keys that carries an unrelated EncryptedKey (so it looks like a
    bootstrap) is still checked as a context message, and refused."""
    served = _serve(tmp_path, monkeypatch, MUTUAL_CERTIFICATE)
    live = served.session()
    assert isinstance(served.establish(live), TokenReply)
    assert served.call(live) == "policy"  # positive control
    # Everything a bootstrap demands (signed WS-Addressing too), except derived keys.
    live.settings = replace(
        live.settings, policy=replace(live.settings.message_policy, derived_keys=False, sign_addressing_headers=True)
    )
    plain = live.request(PAYLOAD, ACTION)
    event = served.service.receive(plain)
    assert isinstance(event, FaultReply) and isinstance(event.error, InvalidSecurity)  # no derived keys
    with pytest.raises(InvalidSecurity):
        live.receive(event.reply.data)
    root = etree.fromstring(live.request(PAYLOAD, ACTION))
    reference = X509Token(served.certificate).reference("thumbprint")
    decoy, _ = EncryptedKey.create(served.certificate, reference, length=32, algorithm=alg.RSA_OAEP_MGF1P)
    security = root.find(f"{{{ns.SOAP12}}}Header/{{{ns.WSSE}}}Security")
    assert security is not None
    security.insert(1, decoy.to_element())
    event = served.service.receive(etree.tostring(root))
    assert isinstance(event, FaultReply) and isinstance(event.error, InvalidSecurity)
    with pytest.raises(InvalidSecurity):
        live.receive(event.reply.data)
    live.settings = replace(live.settings, policy=replace(live.settings.message_policy, derived_keys=True))
    assert served.call(live) == "policy"


# -- --suite --------------------------------------------------------------------------------------------------


SERVE_SUITES = ["Basic128", "Basic256Sha256", "Basic128Sha256", "Basic256Rsa15", "Basic128Rsa15"]


@pytest.mark.parametrize("suite", SERVE_SUITES)
def test_serve_suite_is_published_and_enforced(suite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`wssc serve --suite S` publishes S (bootstrap and context bindings); the client it configures is
    served, and a client of another suite (another cipher or digest) is wsse:UnsupportedAlgorithm."""
    served = _serve(tmp_path, monkeypatch, ANONYMOUS_FOR_CERTIFICATE, suite)
    chosen = alg.suite(suite)
    assert served.policy.suite is chosen and _bootstrap_policy(served.policy).suite is chosen
    assert served.service.settings.policy.suite is chosen
    assert served.service.settings.request_requirements(bootstrap=True).suite is chosen
    live = served.session()
    assert isinstance(served.establish(live), TokenReply)  # positive control
    assert served.call(live) == "policy"
    other = alg.BASIC128 if chosen.encryption == alg.AES256_CBC else alg.BASIC256_SHA256
    _refused(served, served.session(_weaken(served.configuration().bootstrap, suite=other)), UnsupportedAlgorithm)
    assert served.call(live) == "policy"


@pytest.mark.parametrize("suite", ["Basic256Rsa15", "Basic128Rsa15"])
def test_attack_key_transport_padding_other_than_the_served_suite(
    suite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite names the key transport: RSA-1.5 against an OAEP suite, OAEP against an ...Rsa15 suite."""
    served = _serve(tmp_path, monkeypatch, ANONYMOUS_FOR_CERTIFICATE, suite)
    live = served.session()
    assert isinstance(served.establish(live), TokenReply)  # positive control
    chosen = alg.suite(suite)
    other_padding = alg.RSA_OAEP_MGF1P if chosen.asymmetric_key_wrap == alg.RSA_1_5 else alg.RSA_1_5
    padded = replace(served.configuration().bootstrap, key_transport=other_padding)  # type: ignore[type-var]
    _refused(served, served.session(padded), UnsupportedAlgorithm)
    assert served.call(live) == "policy"


def test_serve_refuses_an_unknown_suite(tmp_path: Path) -> None:
    result = CliRunner().invoke(serve, ["--suite", "Basic192"])
    assert result.exit_code != 0 and "Basic192" in result.output


# -- one source of truth, whatever the settings ---------------------------------------------------------------

VARIANTS = {
    "encrypt-before-sign": ProtectionPolicy(order=ProtectionOrder.ENCRYPT_BEFORE_SIGN),
    "no-derived-keys": ProtectionPolicy(derived_keys=False),
    "unencrypted-signature": ProtectionPolicy(encrypt_signature=False),
    "basic128sha256": ProtectionPolicy(suite=alg.BASIC128_SHA256),
}


@pytest.mark.parametrize("bootstrap", [ANONYMOUS_FOR_CERTIFICATE, MUTUAL_CERTIFICATE])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_client_the_published_policy_configures_is_served(bootstrap: str, variant: str) -> None:
    """Whatever the service's settings, the policy it publishes configures a client it serves, and the
    reader's requirements of that text are the service's own (suite, derived keys, Timestamp, parts)."""
    settings = ServiceSettings(policy=VARIANTS[variant], bootstrap=bootstrap)
    trust = CertificateTrust(anchors=[ROOT[0]])
    service = SecureConversationService(ServiceCredentials(*SERVICE, client_trust=trust), settings=settings)
    (binding,) = parse_wsdl(WsscApp(service, wsdl=DEMO_WSDL).published_wsdl("http://svc/echo"))
    served = Served(service, binding.policy, SERVICE[0], bootstrap)
    for read, demanded in (
        (_bootstrap_policy(served.policy).requirements(), settings.request_requirements(bootstrap=True)),
        (served.policy.requirements(), settings.request_requirements(bootstrap=False)),
    ):
        fields = ("suite", "derived_keys", "timestamp", "signed_body", "encrypted_body", "signed_addressing_headers")
        assert [getattr(read, f) for f in fields] == [getattr(demanded, f) for f in fields]
    assert (
        _bootstrap_policy(served.policy).encrypt_signature
        is settings.request_requirements(bootstrap=True).encrypted_signature
    )
    session = served.session()
    assert isinstance(served.establish(session), TokenReply)
    assert served.call(session) == "policy"


@pytest.mark.parametrize("weakening", ["no-derived-keys", "other-suite-cipher", "unsigned-addressing"])
def test_attack_weaker_message_security_bootstrap_over_https(
    weakening: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind HTTPS (a TLS-terminating proxy) a bootstrap protected at the message level is still held to
    the published policy, not to TransportWithMessageCredential's Timestamp-only rule."""
    served = _serve(tmp_path, monkeypatch, USERNAME_FOR_CERTIFICATE)
    live = served.session()
    event = served.service.receive(live.establish(), over_tls=True)
    assert isinstance(event, TokenReply), getattr(event, "error", event)  # positive control
    assert isinstance(live.receive(event.reply.data), Established)
    weaken, errors, shows = WEAKENINGS[weakening]
    attacker = served.session(weaken(served.configuration().bootstrap))
    request = attacker.establish()
    assert shows(request)
    refused = served.service.receive(request, over_tls=True)
    assert isinstance(refused, FaultReply) and isinstance(refused.error, errors), refused
    assert served.call(live) == "policy"


# -- over HTTP, with `wssc call` ------------------------------------------------------------------------------

CALL_OPTIONS = {
    ANONYMOUS_FOR_CERTIFICATE: [],
    USERNAME_FOR_CERTIFICATE: ["--username", "alice", "--password", "wonderland"],
    MUTUAL_CERTIFICATE: ["--client-cert", "client.pem", "--client-key", "client-key.pem"],
    CERTIFICATE_FOR_CERTIFICATE: ["--client-cert", "client.pem", "--client-key", "client-key.pem", "--endorse"],
}


@pytest.mark.parametrize("published", SERVED)
def test_wssc_call_gets_in_only_with_the_published_bootstrap(
    published: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over HTTP: `wssc call` with the bootstrap `wssc serve` publishes echoes; with a weaker one it is
    refused with the fault, and the anonymous call gets in only where nothing stronger is published."""

    served = _serve(tmp_path, monkeypatch, published, "Basic128Sha256")
    (tmp_path / "client.pem").write_bytes(pem(CLIENT[0]))
    (tmp_path / "client-key.pem").write_bytes(key_pem(CLIENT[1]))
    app = WsscApp(served.service, default=echo_handler, path="/echo")
    monkeypatch.chdir(tmp_path)
    with LiveServer(app) as server:

        def wssc_call(bootstrap: str, suite: str = "Basic128Sha256") -> str:
            args = [server.url, "--server-cert", "cert.pem", "--suite", suite, *CALL_OPTIONS[bootstrap]]
            return CliRunner().invoke(call, args).output

        assert "hello from wssc" in wssc_call(published)  # positive control
        assert "wsse:UnsupportedAlgorithm" in wssc_call(published, "Basic256")
        for weaker in WEAKER_KINDS.get(published, []):
            assert "wsse:InvalidSecurity" in wssc_call(weaker), weaker
        assert "hello from wssc" in wssc_call(published)

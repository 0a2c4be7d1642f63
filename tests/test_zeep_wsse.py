"""zeep's ``wsse=UsernameToken(user, password)`` through WsscTransport: the user name and password go into the
secure conversation's own (encrypted) UsernameToken, zeep's Security header with the clear-text password never
travels; wsse plugins wssc cannot honour are refused by name, before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree
from zeep.wsse.username import UsernameToken

from http_support import LiveServer
from pki import ROOT, pem
from test_zeep import (
    BINDING_NS,
    SERVICE,
    SP12,
    TNS,
    USERNAME_SUPPORTING,
    WSDL,
    X509_TOKEN,
    _policy,
    _wsdl,
    _wsdl_with_policy,
)
from test_zeep_negotiation import SERVICE as TLS_SERVICE
from test_zeep_negotiation import _app as negotiating_app
from wssc.adapters.asgi import WsscApp
from wssc.adapters.zeep_transport import ConflictingCredentials, WsscTransport
from wssc.adapters.zeep_wsse import UnsupportedWsse
from wssc.conversation.bootstrap import ClientBootstrap, MutualCertificateBootstrap, ServiceCredentials
from wssc.conversation.negotiation import Negotiator
from wssc.conversation.policy_client import ClientCredentials
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.errors import FailedAuthentication
from wssc.policy.ws_policy import PolicyError
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_2005_02

PASSWORD = "wonderland-7f3a"
USERS = {"alice": PASSWORD, "bob": "bob-secret-91"}


class Wire:
    """Every HTTP request body the client sends, as it goes on the wire."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def hook(self, request: httpx.Request) -> None:
        self.sent.append(request.read())

    def client(self, **options: object) -> httpx.Client:
        return httpx.Client(event_hooks={"request": [self.hook]}, **options)  # type: ignore[arg-type]

    def assert_no_leak(self, *secrets: str) -> None:
        assert self.sent, "nothing was sent"
        for body in self.sent:
            for secret in secrets:
                assert secret.encode() not in body
            assert b"PasswordText" not in body and b"Password" not in body


def _user_app(users: dict[str, str], seen: list[tuple[str, list[str]]]) -> WsscApp:
    """An echo answering with the authenticated user name; records the header names each call arrived with."""
    service = SecureConversationService(ServiceCredentials(*SERVICE, users=users))
    app = WsscApp(service, wsdl=WSDL.format(binding_ns=BINDING_NS[SOAP12.name], address="http://placeholder/").encode())

    @app.operation("urn:example:echo/Echo")
    def echo(request: ApplicationRequest) -> etree._Element:
        header = request.message.header
        names = [etree.QName(h).localname for h in (header if header is not None else ()) if isinstance(h.tag, str)]
        seen.append((request.claims[0].value, names))
        answer = etree.Element(f"{{{TNS}}}EchoResponse", nsmap={"e": TNS})
        etree.SubElement(answer, f"{{{TNS}}}text").text = request.claims[0].value
        return answer

    return app


@pytest.mark.parametrize("soap", [SOAP12, SOAP11], ids=["soap12", "soap11"])
def test_username_token_for_certificate_by_hand_bootstrap(tmp_path: Path, soap: SOAPVersion) -> None:
    """UserNameForCertificate: ClientBootstrap(service certificate) plus zeep's UsernameToken; the password rides
    only inside the encrypted bootstrap message, the service authenticates alice, no Security header of zeep's
    reaches it as an application header."""
    seen: list[tuple[str, list[str]]] = []
    app = _user_app(USERS, seen)
    wire = Wire()
    http = wire.client(transport=httpx.WSGITransport(app=app.wsgi()))
    with WsscTransport(ClientBootstrap(SERVICE[0]), client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl(tmp_path, soap), wsse=UsernameToken("alice", PASSWORD), transport=transport)
        assert client.service.Echo(text="x") == "alice"
        assert client.service.Echo(text="y") == "alice"
        (conversation,) = transport.clients.values()
        assert conversation.session.bootstrap.username == "alice"  # type: ignore[attr-defined]
        assert conversation.session.settings.version is SC_2005_02  # the default for a bootstrap given by hand
    wire.assert_no_leak(PASSWORD)
    assert [user for user, _ in seen] == ["alice", "alice"]
    assert all("Security" not in names and "UsernameToken" not in names for _, names in seen)
    # The application calls carry no UsernameToken at all: only the bootstrap (RST) does, encrypted.
    assert sum(b"UsernameToken" in body for body in wire.sent) == 0
    assert sum(b"EncryptedData" in body for body in wire.sent) == len(wire.sent)


def test_zeeps_header_never_travels_even_for_the_same_user(tmp_path: Path) -> None:
    """The bootstrap already names alice and zeep's wsse does too: accepted, and zeep's Security header (with its
    clear-text password) is still taken out, never sent as a signed application header."""
    seen: list[tuple[str, list[str]]] = []
    wire = Wire()
    http = wire.client(transport=httpx.WSGITransport(app=_user_app(USERS, seen).wsgi()))
    with WsscTransport(ClientBootstrap(SERVICE[0], "alice", PASSWORD), client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl(tmp_path, SOAP11), wsse=UsernameToken("alice", PASSWORD), transport=transport)
        try:
            answer = client.service.Echo(text="x")
        finally:
            wire.assert_no_leak(PASSWORD)  # whatever the service made of it, nothing leaked
        assert answer == "alice"
    ((_, headers),) = seen
    assert "Security" not in headers


def test_username_token_from_the_wsdl_policy() -> None:
    """No credentials on the transport: the WSDL's policy asks for a user name (refused at load without one),
    zeep's UsernameToken gives it."""
    seen: list[tuple[str, list[str]]] = []
    with LiveServer(_user_app(USERS, seen)) as server:
        wire = Wire()
        with WsscTransport(client_options={"http": wire.client()}) as transport:
            client = zeep.Client(server.url + "?wsdl", wsse=UsernameToken("alice", PASSWORD), transport=transport)
            assert client.service.Echo(text="x") == "alice"
        wire.assert_no_leak(PASSWORD)
    ((user, headers),) = seen
    assert user == "alice" and "Security" not in headers


def test_two_users_through_one_transport_get_a_conversation_each(tmp_path: Path) -> None:
    seen: list[tuple[str, list[str]]] = []
    app = _user_app(USERS, seen)
    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    with WsscTransport(ClientBootstrap(SERVICE[0]), client_options={"http": http}) as transport:
        wsdl = _wsdl(tmp_path, SOAP12)
        alice = zeep.Client(wsdl, wsse=UsernameToken("alice", PASSWORD), transport=transport)
        bob = zeep.Client(wsdl, wsse=UsernameToken("bob", USERS["bob"]), transport=transport)
        assert (alice.service.Echo(text="1"), bob.service.Echo(text="2"), alice.service.Echo(text="3")) == (
            "alice",
            "bob",
            "alice",
        )
        assert len(transport.clients) == 2
        bob.wsse = UsernameToken("bob", "wrong")  # a zeep user changing client.wsse: a new conversation, refused
        with pytest.raises(FailedAuthentication):
            bob.service.Echo(text="4")


def test_username_for_ssl_takes_the_user_from_zeep(tmp_path: Path) -> None:
    """UserNameForSsl (TLSNEGO with a UsernameToken beside it), configured from the WSDL."""
    (tmp_path / "ca.pem").write_bytes(pem(ROOT[0]))
    app = negotiating_app(Negotiator.tlsnego(*TLS_SERVICE), SC_2005_02, users={"alice": PASSWORD})
    with LiveServer(app) as server:
        wire = Wire()
        credentials = ClientCredentials(verify=str(tmp_path / "ca.pem"))
        with WsscTransport(credentials=credentials, client_options={"http": wire.client()}) as transport:
            client = zeep.Client(server.url + "?wsdl", wsse=UsernameToken("alice", PASSWORD), transport=transport)
            assert client.service.Echo(text="x") == "alice"
        wire.assert_no_leak(PASSWORD)


class _SignaturePlugin:
    """What zeep's Signature/BinarySignature write (they need xmlsec, not installed here): a BinarySecurityToken
    and a ds:Signature in the Security header."""

    def apply(self, envelope: etree._Element, headers: dict[str, str]) -> tuple[etree._Element, dict[str, str]]:
        from zeep.wsse import utils

        security = utils.get_security_header(envelope)
        security.append(utils.WSSE.BinarySecurityToken("MIIB"))
        etree.SubElement(security, "{http://www.w3.org/2000/09/xmldsig#}Signature")
        return envelope, headers

    def verify(self, envelope: etree._Element) -> etree._Element:
        return envelope


REFUSALS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("digest", lambda: UsernameToken("alice", PASSWORD, use_digest=True), UnsupportedWsse, "PasswordDigest"),
    ("no password", lambda: UsernameToken("alice"), UnsupportedWsse, "has no password"),
    ("signature", _SignaturePlugin, UnsupportedWsse, "Signature/BinarySignature"),
]


@pytest.mark.parametrize(("wsse", "error", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_wsse_wssc_cannot_honour_is_refused_before_sending(
    tmp_path: Path, wsse: Callable[[], object], error: type[Exception], message: str
) -> None:
    wire = Wire()
    http = wire.client(transport=httpx.WSGITransport(app=_user_app(USERS, []).wsgi()))
    with WsscTransport(ClientBootstrap(SERVICE[0]), client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl(tmp_path, SOAP12), wsse=wsse(), transport=transport)
        with pytest.raises(error, match=message):
            client.service.Echo(text="x")
    assert wire.sent == []


def test_conflicting_users_are_refused(tmp_path: Path) -> None:
    http = httpx.Client(transport=httpx.WSGITransport(app=_user_app(USERS, []).wsgi()))
    wsdl = _wsdl(tmp_path, SOAP12)
    alice = UsernameToken("alice", PASSWORD)
    # The transport's credentials name bob (the WSDL's policy asks for a user name).
    policy = _policy(SP12, X509_TOKEN.format(sp=SP12), USERNAME_SUPPORTING.format(sp=SP12))
    policy_wsdl = _wsdl_with_policy(tmp_path, policy, publish_certificate=True)
    for credentials, match in [
        (ClientCredentials("bob", "x"), "'bob'.*'alice'"),
        (ClientCredentials("alice", "x"), "passwords"),
    ]:
        transport = WsscTransport(credentials=credentials, client_options={"http": http})
        with transport, pytest.raises(ConflictingCredentials, match=match):
            zeep.Client(policy_wsdl, wsse=alice, transport=transport).service.Echo(text="x")
    # The bootstrap given by hand is bob's, or has no place for a user name (MutualCertificate).
    bootstraps = [
        ClientBootstrap(SERVICE[0], "bob", "x"),
        MutualCertificateBootstrap(SERVICE[0], *self_signed("client")),
    ]
    for bootstrap in bootstraps:
        transport = WsscTransport(bootstrap, client_options={"http": http})
        with transport, pytest.raises(ConflictingCredentials, match="alice"):
            zeep.Client(wsdl, wsse=alice, transport=transport).service.Echo(text="x")


def test_a_policy_asking_for_a_user_says_how_to_give_it() -> None:
    with LiveServer(_user_app(USERS, [])) as server, WsscTransport() as transport:
        client = zeep.Client(server.url + "?wsdl", transport=transport)
        with pytest.raises(PolicyError, match=r"user name and password are needed: give zeep's wsse=UsernameToken"):
            client.service.Echo(text="x")


def test_a_policy_without_a_user_refuses_zeeps_username_token() -> None:
    """An anonymous endpoint (AnonymousForCertificate): zeep's user name would not be sent, so it is refused."""
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    app = WsscApp(service, wsdl=WSDL.format(binding_ns=BINDING_NS[SOAP12.name], address="http://placeholder/").encode())
    with LiveServer(app) as server, WsscTransport() as transport:
        client = zeep.Client(server.url + "?wsdl", wsse=UsernameToken("alice", PASSWORD), transport=transport)
        with pytest.raises(PolicyError, match=r"no place for a user name.*'alice'"):
            client.service.Echo(text="x")

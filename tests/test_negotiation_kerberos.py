"""SPNEGO with Kerberos against the tests' own MIT KDC on loopback (the ``kdc`` fixture, tests/kdc_support.py):
wssc client and wssc service in process, over HTTP through ``wssc serve``/``wssc call`` and zeep, and against the
independent driver both ways; both WS-SC versions, both ``establishSecurityContext`` modes; and the refusals."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from http_support import ServeProcess
from negotiation_driver import DriverClient
from negotiation_driver_service import DriverService, in_process
from negotiation_support import ECHO_ACTION, driver_context, echo_body, http_echo_call, pump, wssc
from wssc.adapters.http_client import _flow_call
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.context import SecurityContext
from wssc.conversation.negotiating import ClientNegotiation, NegotiatedBootstrap
from wssc.conversation.negotiation import Negotiator
from wssc.conversation.service import ApplicationRequest, SecureConversationService, ServiceSettings
from wssc.errors import FailedAuthentication, WsscError
from wssc.security.soap import SOAP12
from wssc.tokens.x509 import self_signed
from wssc.trust.negotiation.spnego import SpnegoInitiator
from wssc.versions import SC_1_3, SC_2005_02, SCVersion, by_name

VERSIONS = [pytest.param(SC_1_3, id="1.3"), pytest.param(SC_2005_02, id="2005-02")]
MODES = [pytest.param(True, id="establish"), pytest.param(False, id="no-sc")]
SERVICE = self_signed("kerberos service")


def _service(kdc: Any, spn: str | None = "HTTP/localhost") -> SecureConversationService:
    negotiator = Negotiator.spnego(keytab=str(kdc.keytab), spn=spn, protocol="kerberos")
    settings = ServiceSettings(bootstrap="spnego", accept_bootstrap_messages=True)
    return SecureConversationService(ServiceCredentials(*SERVICE), settings=settings, negotiator=negotiator)


def _call(service: SecureConversationService, bootstrap: NegotiatedBootstrap, version: SCVersion, establish: bool):
    settings = ClientSettings(version=version, soap=SOAP12, establish_security_context=establish)
    session = ClientSession(bootstrap, "http://localhost/echo", settings)
    log: list[Any] = []
    reply = pump(_flow_call(session, echo_body("kerberos"), ECHO_ACTION), service, log)
    return reply, log


@pytest.mark.parametrize("establish", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_kerberos_from_the_current_login(kdc, version: SCVersion, establish: bool) -> None:
    service = _service(kdc)
    bootstrap = NegotiatedBootstrap(lambda: SpnegoInitiator("HTTP/localhost", protocol="kerberos"))
    _, log = _call(service, bootstrap, version, establish)
    (request,) = [e for e in log if isinstance(e, ApplicationRequest)]
    assert ("name", kdc.user) in {(c.type, c.value) for c in request.claims}
    assert ("authentication", "kerberos") in {(c.type, c.value) for c in request.claims}
    mechanism = bootstrap.mechanism
    assert mechanism is not None and mechanism.mutual_authenticated  # type: ignore[attr-defined]


def test_kerberos_with_a_password_and_host_target(kdc) -> None:
    service = _service(kdc, spn=None)  # any key of the keytab: host/localhost too
    bootstrap = NegotiatedBootstrap(
        lambda: SpnegoInitiator("host/localhost", username=kdc.other_user, password=kdc.other_password)
    )
    _, log = _call(service, bootstrap, SC_1_3, True)
    (request,) = [e for e in log if isinstance(e, ApplicationRequest)]
    assert ("name", kdc.other_user) in {(c.type, c.value) for c in request.claims}


def test_kerberos_wrong_password_fails_at_the_client(kdc) -> None:
    service = _service(kdc)
    bootstrap = NegotiatedBootstrap(
        lambda: SpnegoInitiator("HTTP/localhost", username=kdc.other_user, password="wrong", protocol="kerberos")
    )
    with pytest.raises(FailedAuthentication):
        _call(service, bootstrap, SC_1_3, True)
    assert service.negotiation is not None and service.negotiation.acceptor.pending == 0


def test_unknown_principal(kdc) -> None:
    """An unknown client principal fails at the KDC; a target the service holds no key for fails at the service,
    with WCF's wst:FailedAuthentication fault."""
    service = _service(kdc)
    unknown = NegotiatedBootstrap(lambda: SpnegoInitiator("HTTP/localhost", username="mallory", password="x"))
    with pytest.raises(FailedAuthentication):
        _call(service, unknown, SC_1_3, True)
    other_target = NegotiatedBootstrap(lambda: SpnegoInitiator("host/localhost", protocol="kerberos"))
    _, log = _fault_log(service, other_target)
    assert log[-1].error.code == "FailedAuthentication" and log[-1].error.code_kind == "wst"


def _fault_log(service: SecureConversationService, bootstrap: NegotiatedBootstrap) -> tuple[Any, list[Any]]:
    log: list[Any] = []
    settings = ClientSettings(version=SC_1_3, soap=SOAP12)
    session = ClientSession(bootstrap, "http://localhost/echo", settings)
    with pytest.raises(WsscError) as error:
        pump(_flow_call(session, echo_body("x"), ECHO_ACTION), service, log)
    return error.value, log


# -- against the independent driver -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.3", "2005-02"])
def test_driver_client_with_wssc_service(kdc, version: str) -> None:
    service = _service(kdc)
    client = DriverClient("spnego", version, "1.2", hostname="localhost", service="HTTP", strict=True)
    result = client.negotiate(lambda data, _action: service.receive(data).reply.data)  # type: ignore[union-attr]
    assert result.legs == ("RST", "RSTRC") and result.final_blob  # one round trip, the AP-REP in the final leg
    stored = service.store.get(result.identifier, datetime.now(timezone.utc))
    assert stored is not None and stored.key == result.key


@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
def test_wssc_client_with_driver_service(kdc, version: SCVersion, monkeypatch) -> None:
    monkeypatch.setenv("KRB5_KTNAME", str(kdc.keytab))
    driver = DriverService("spnego", version.name, spnego_hostname="localhost", spnego_service="HTTP", strict=True)
    negotiation = ClientNegotiation(
        SpnegoInitiator("HTTP/localhost", protocol="kerberos"), version, SOAP12, "http://localhost/"
    )
    post, step = in_process(driver), negotiation.first()
    while not isinstance(result := negotiation.receive(post(*step)), SecurityContext):
        step = result
    assert driver.contexts[result.identifier].key == result.key
    assert kdc.user in str(driver.contexts[result.identifier].claims)


# -- the command line and zeep ---------------------------------------------------------------------------------------


def _wssc(kdc: Any, *args: str) -> Any:
    return wssc(*args, env=dict(kdc.env))


@pytest.fixture(scope="module")
def kerberos_server(kdc, tmp_path_factory) -> Any:
    workdir: Path = tmp_path_factory.mktemp("kerberos-serve")
    server = ServeProcess(
        workdir, "--bootstrap", "spnego", "--keytab", str(kdc.keytab), "--spn", "HTTP/localhost", env=dict(kdc.env)
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("mode", [(), ("--no-security-context",)], ids=["establish", "no-sc"])
@pytest.mark.parametrize("version", ["1.3", "2005-02"])
def test_cli_kerberos(kdc, kerberos_server, version: str, mode: tuple[str, ...]) -> None:
    common = ("call", kerberos_server.url, "--negotiate", "spnego", "--spn", "HTTP/localhost", "--sc-version", version)
    done = _wssc(kdc, *common, "--protocol", "kerberos", "--count", "2", *mode)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("hello from wssc") == 2
    explicit = _wssc(kdc, *common, "--username", kdc.other_user, "--password", kdc.other_password, *mode)
    assert explicit.returncode == 0, explicit.stderr
    wrong = _wssc(kdc, *common, "--username", kdc.other_user, "--password", "wrong", *mode)
    assert wrong.returncode != 0 and "FailedAuthentication" in wrong.stderr and "Traceback" not in wrong.stderr


@pytest.mark.parametrize("version", ["1.3", "2005-02"])
def test_driver_client_against_wssc_serve(kdc, kerberos_server, version: str) -> None:
    """The independent driver negotiates with wssc serve over HTTP; its context then carries an application call."""
    from negotiation_driver import http_poster

    client = DriverClient("spnego", version, "1.2", hostname="localhost", service="HTTP", strict=True)
    result = client.negotiate(http_poster(kerberos_server.url, "1.2"))
    context = driver_context(result, by_name(version))
    assert http_echo_call(kerberos_server.url, context, SOAP12, "kerberos") == "kerberos"


def test_zeep_kerberos_from_the_wsdl(kdc, kerberos_server) -> None:
    import zeep

    from wssc.adapters.zeep_transport import WsscTransport
    from wssc.conversation.policy_client import ClientCredentials

    with WsscTransport(credentials=ClientCredentials(protocol="kerberos")) as transport:
        client = zeep.Client(kerberos_server.url + "?wsdl", transport=transport)
        assert client.service.Echo("hello from zeep") == "hello from zeep"
        (conversation,) = transport.clients.values()
        assert isinstance(conversation.session.bootstrap, NegotiatedBootstrap)

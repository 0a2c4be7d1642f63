"""Negotiated contexts end to end, in process (NEGOTIATION.md sections 1-5, 7): a wssc client negotiating with a
wssc service over TLSNEGO, every credential type, both WS-SC versions, both SOAP versions, both
``establishSecurityContext`` modes, and the service's refusals."""

from __future__ import annotations

import hashlib
import ssl
from typing import Any

import pytest
from conversation_support import ECHO_ACTION, VERSION_SOAP, Clock, echo_body
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from negotiation_support import pump
from pki import CLIENT, ROOT, STRANGER, issue, pem
from wssc.adapters.http_client import _flow_call, _flow_establish
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.negotiating import NegotiatedBootstrap
from wssc.conversation.negotiation import NEGOTIATED, Negotiator
from wssc.conversation.service import (
    ApplicationRequest,
    FaultReply,
    SecureConversationService,
    ServiceSettings,
    TokenReply,
)
from wssc.errors import FailedAuthentication, InvalidSecurity, ServerTooBusy, TrustFailedAuthentication, WsscError
from wssc.primitives.xml import parse
from wssc.security.faults import read_fault
from wssc.security.soap import SOAP12, SOAPVersion
from wssc.tokens.x509_trust import CertificateTrust
from wssc.trust.negotiation.tls import TlsInitiator, client_context
from wssc.trust.negotiation.tls_keys import load_key_pair
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

SERVICE = issue("service.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["service.example"])
USERS = {"alice": "correct horse battery staple"}
ADDRESS = "http://localhost/negotiated"


def _client_mechanism(cert: tuple[Any, Any] | None = None, tls: ssl.TLSVersion | None = None):
    def new() -> TlsInitiator:
        context = client_context(cadata=pem(ROOT[0]).decode())
        if tls is not None:
            context.minimum_version = context.maximum_version = tls
        if cert is not None:
            load_key_pair(context, *cert)
        return TlsInitiator(context)

    return new


def _service(clock: Clock, *, mutual: bool = False, users: dict[str, str] | None = None, **settings: Any):
    credentials = ServiceCredentials(*SERVICE, users=users)
    trust = CertificateTrust(anchors=[ROOT[0]]) if mutual else None
    negotiator = Negotiator.tlsnego(*SERVICE, client_trust=trust, require_client_certificate=mutual)
    options = {"bootstrap": "tlsnego", "accept_bootstrap_messages": True, **settings}
    return SecureConversationService(
        credentials, settings=ServiceSettings(**options), clock=clock, negotiator=negotiator
    )


def _types(context: Any) -> set[str]:
    return {claim.type for claim in context.claims}


def _session(clock: Clock, version: SCVersion, soap: SOAPVersion, bootstrap: NegotiatedBootstrap, establish: bool):
    settings = ClientSettings(version=version, soap=soap, establish_security_context=establish)
    return ClientSession(bootstrap, ADDRESS, settings, clock=clock)


@pytest.mark.parametrize("establish", [True, False], ids=["establish", "no-sc"])
@pytest.mark.parametrize("credential", ["anonymous", "mutual", "username"])
@pytest.mark.parametrize(("version", "soap"), VERSION_SOAP)
def test_negotiated_context_end_to_end(version, soap, credential, establish) -> None:
    clock = Clock()
    service = _service(clock, mutual=credential == "mutual", users=USERS if credential == "username" else None)
    bootstrap = NegotiatedBootstrap(
        _client_mechanism(CLIENT if credential == "mutual" else None),
        username="alice" if credential == "username" else None,
        password=USERS["alice"] if credential == "username" else None,
    )
    session = _session(clock, version, soap, bootstrap, establish)
    log: list[Any] = []
    for text in ("one", "two"):
        reply = pump(_flow_call(session, echo_body(text), ECHO_ACTION), service, log)
        assert text.encode() in etree.tostring(reply.payload()[0])
    legs = [e for e in log if isinstance(e, TokenReply) and (e.context is None or NEGOTIATED in _types(e.context))]
    assert len(legs) == 2  # TLS 1.3 by default: RSTR (ServerHello..Finished), then the RSTRC
    requests = [e for e in log if isinstance(e, ApplicationRequest)]
    assert len(requests) == 2
    claims = {(c.type, c.value) for c in requests[0].claims}
    expected = {
        "anonymous": ("authentication", "anonymous"),
        "mutual": ("x509", CLIENT[0].subject.rfc4514_string()),
        "username": ("name", "alice"),
    }[credential]
    assert expected in claims
    assert (NEGOTIATED, "tlsnego") in claims if not establish else (NEGOTIATED, "tlsnego") not in claims
    assert bootstrap.context is not None and bootstrap.service_certificate == SERVICE[0]
    if establish:
        assert session.context is not None and session.context.identifier != bootstrap.context.identifier
    assert not any(isinstance(e, FaultReply) for e in log)


def test_tls12_and_tls13() -> None:
    for tls in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        clock = Clock()
        service = _service(clock)
        bootstrap = NegotiatedBootstrap(_client_mechanism(tls=tls))
        session = _session(clock, SC_1_3, SOAP12, bootstrap, True)
        pump(_flow_establish(session), service, [])
        assert (
            bootstrap.mechanism is not None
            and bootstrap.mechanism.tls_version
            == {  # type: ignore[attr-defined]
                ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                ssl.TLSVersion.TLSv1_3: "TLSv1.3",
            }[tls]
        )


def _negotiate_expecting(service: SecureConversationService, bootstrap: NegotiatedBootstrap, error: type[Exception]):
    session = _session(service.clock, SC_1_3, SOAP12, bootstrap, True)  # type: ignore[arg-type]
    log: list[Any] = []
    with pytest.raises(error):
        pump(_flow_establish(session), service, log)
    return log


def test_untrusted_client_certificate_is_failed_authentication() -> None:
    service = _service(Clock(), mutual=True)
    log = _negotiate_expecting(
        service, NegotiatedBootstrap(_client_mechanism(STRANGER)), FailedAuthentication
    )
    fault = log[-1]
    assert isinstance(fault, FaultReply)
    code = read_fault(parse(fault.reply.data))
    assert code is not None and code.code == f"{{{SC_2005_02.trust}}}FailedAuthentication"  # Feb 2005 in 1.3 too
    assert service.negotiation is not None and service.negotiation.acceptor.pending == 0


def test_mutual_service_refuses_a_client_without_certificate() -> None:
    service = _service(Clock(), mutual=True)
    _negotiate_expecting(service, NegotiatedBootstrap(_client_mechanism()), TrustFailedAuthentication)


def test_wrong_password_under_username_for_ssl() -> None:
    service = _service(Clock(), users=USERS)
    bootstrap = NegotiatedBootstrap(_client_mechanism(), username="alice", password="wrong")
    _negotiate_expecting(service, bootstrap, FailedAuthentication)
    bootstrap = NegotiatedBootstrap(_client_mechanism())  # no UsernameToken at all
    _negotiate_expecting(service, bootstrap, FailedAuthentication)


def test_leg_with_security_header_is_not_a_negotiation() -> None:
    service = _service(Clock())
    bootstrap = NegotiatedBootstrap(_client_mechanism())
    negotiation = bootstrap.negotiation(SC_1_3, SOAP12, ADDRESS)
    data, _ = negotiation.first()
    secured = data.replace(
        b"<s:Header>",
        b'<s:Header><o:Security xmlns:o="http://docs.oasis-open.org/wss/2004/01/'
        b'oasis-200401-wss-wssecurity-secext-1.0.xsd"/>',
    )
    event = service.receive(secured)
    assert isinstance(event, FaultReply) and isinstance(event.error, InvalidSecurity)
    assert service.negotiation is not None and service.negotiation.acceptor.pending == 0


def test_too_many_pending_negotiations_is_server_too_busy() -> None:
    clock = Clock()
    service = _service(clock)
    assert service.negotiation is not None
    service.negotiation.acceptor.max_pending = 2
    for _ in range(2):
        negotiation = NegotiatedBootstrap(_client_mechanism()).negotiation(SC_1_3, SOAP12, ADDRESS)
        assert isinstance(service.receive(negotiation.first()[0]), TokenReply)
    negotiation = NegotiatedBootstrap(_client_mechanism()).negotiation(SC_1_3, SOAP12, ADDRESS)
    event = service.receive(negotiation.first()[0])
    assert isinstance(event, FaultReply) and isinstance(event.error, ServerTooBusy)
    with pytest.raises(ServerTooBusy):
        negotiation.receive(event.reply.data)
    fault = read_fault(parse(event.reply.data))
    assert fault is not None and fault.code == "{http://schemas.microsoft.com/ws/2006/05/security}ServerTooBusy"


def test_negotiated_context_cannot_be_renewed_and_only_it_issues() -> None:
    """A session context issued under the negotiated one does not inherit the right to issue."""
    clock = Clock()
    service = _service(clock)
    bootstrap = NegotiatedBootstrap(_client_mechanism())
    session = _session(clock, SC_1_3, SOAP12, bootstrap, True)
    pump(_flow_establish(session), service, [])
    assert session.context is not None
    sneaky = NegotiatedBootstrap(_client_mechanism())
    sneaky.accept(session.context)  # pretend the session context were a negotiated one
    other = _session(clock, SC_1_3, SOAP12, sneaky, True)
    event = service.receive(other.establish())
    assert (
        isinstance(event, FaultReply)
        and event.error.detail == "a context is issued under the bootstrap binding, not under a context"
    )


def test_service_refuses_other_bootstraps_when_negotiating() -> None:
    from wssc.conversation.bootstrap import ClientBootstrap

    clock = Clock()
    service = _service(clock)
    session = ClientSession(ClientBootstrap(SERVICE[0]), ADDRESS, ClientSettings(), clock=clock)
    event = service.receive(session.establish())
    assert isinstance(event, FaultReply) and isinstance(event.error, InvalidSecurity)


def test_pin_instead_of_ca() -> None:
    clock = Clock()
    service = _service(clock)
    pin = hashlib.sha256(SERVICE[0].public_bytes(serialization.Encoding.DER)).digest()
    bootstrap = NegotiatedBootstrap(lambda: TlsInitiator(client_context(), pinned_sha256=pin))
    pump(_flow_establish(_session(clock, SC_1_3, SOAP12, bootstrap, True)), service, [])
    wrong = NegotiatedBootstrap(lambda: TlsInitiator(client_context(), pinned_sha256=b"\0" * 32))
    _negotiate_expecting(service, wrong, WsscError)


def _fault_code(event: Any) -> str:
    assert isinstance(event, FaultReply)
    fault = read_fault(parse(event.reply.data))
    assert fault is not None
    return fault.code


def test_replayed_unknown_and_expired_contexts_are_invalid_request() -> None:
    """Service level (NEGOTIATION.md section 1.4 step 2, section 7): wst:InvalidRequest in the Feb 2005 namespace,
    and the negotiations of others untouched."""
    clock = Clock()
    service = _service(clock)
    invalid = f"{{{SC_2005_02.trust}}}InvalidRequest"
    negotiation = NegotiatedBootstrap(_client_mechanism()).negotiation(SC_1_3, SOAP12, ADDRESS)
    first, _ = negotiation.first()
    reply = service.receive(first)
    assert _fault_code(service.receive(first)) == invalid  # the same RST again
    second, _ = negotiation.receive(reply.reply.data)  # type: ignore[union-attr, misc]
    stray = second.replace(negotiation.initiator.context.encode(), b"uuid-unknown")
    assert _fault_code(service.receive(stray)) == invalid
    bystander = NegotiatedBootstrap(_client_mechanism()).negotiation(SC_2005_02, SOAP12, ADDRESS)
    bystander_reply = service.receive(bystander.first()[0])
    clock.advance(seconds=61)  # NegotiationTimeout: one minute
    assert _fault_code(service.receive(second)) == invalid
    assert _fault_code(service.receive(bystander.receive(bystander_reply.reply.data)[0])) == invalid  # type: ignore[union-attr, index]
    fresh = NegotiatedBootstrap(_client_mechanism())
    pump(_flow_establish(_session(clock, SC_1_3, SOAP12, fresh, True)), service, [])  # room again
    assert fresh.context is not None


def test_session_context_lives_on_top_and_the_negotiated_one_is_not_renewed() -> None:
    from wssc.adapters.http_client import _flow_renew

    clock = Clock()
    service = _service(clock)
    bootstrap = NegotiatedBootstrap(_client_mechanism())
    session = _session(clock, SC_1_3, SOAP12, bootstrap, True)
    pump(_flow_establish(session), service, [])
    established = session.context
    assert established is not None
    pump(_flow_renew(session), service, [])
    assert session.context is not None and session.context.instance != established.instance
    assert service.receive(session.validate()) is not None
    session._pending = None
    event = service.receive(session.cancel())
    assert isinstance(event, TokenReply)
    renew_negotiated = _session(clock, SC_1_3, SOAP12, bootstrap, True)
    renew_negotiated.context = bootstrap.context
    refused = service.receive(renew_negotiated.renew())
    assert isinstance(refused, FaultReply) and "negotiated anew" in refused.error.detail

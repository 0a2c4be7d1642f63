"""Builders shared by the conversation-layer tests (``tests/conversation``).

Everything runs in process and sans I/O: a :class:`World` holds one :class:`SecureConversationService`
with a movable clock and makes :class:`ClientSession` objects that share that clock, so that expiry,
rollover windows and client renewal can be driven without sleeping.

The few helpers that build requests by hand (``context_signed``, ``bootstrap_signed``) go through the
public protect API exactly as a client holding the key would, so a test can reach the checks the
service makes *after* verification (RenewTarget, proof of possession, Amend endorsement).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from wssc import namespaces as ns
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession, Response
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.context import SecurityContext
from wssc.conversation.service import (
    ApplicationRequest,
    FaultReply,
    SecureConversationService,
    ServiceSettings,
)
from wssc.conversation.store import ContextStore
from wssc.errors import WsscError
from wssc.primitives import algorithms as alg
from wssc.primitives.xml import Element, parse
from wssc.security.addressing import Addressing, envelope
from wssc.security.faults import read_fault
from wssc.security.keys import ContextProtection
from wssc.security.policy import ProtectionPolicy
from wssc.security.protect import EndorsingToken, protect
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion, soap_version_of
from wssc.tokens.x509 import X509Token
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

ADDRESS = "http://localhost/echo"
ECHO_NS = "urn:example:echo"
ECHO_ACTION = ECHO_NS + ":echo"

_PAIRS = [
    (SC_1_3, SOAP12, "sc13-soap12"),
    (SC_1_3, SOAP11, "sc13-soap11"),
    (SC_2005_02, SOAP12, "sc200502-soap12"),
    (SC_2005_02, SOAP11, "sc200502-soap11"),
]
#: every (WS-SC version, SOAP version) pair, as one fixture parameter each
COMBOS = [pytest.param((version, soap), id=name) for version, soap, name in _PAIRS]
#: the same pairs for ``@pytest.mark.parametrize(("version", "soap"), VERSION_SOAP)``
VERSION_SOAP = [pytest.param(version, soap, id=name) for version, soap, name in _PAIRS]


class Clock:
    """A settable UTC clock; the service and every session of a World read the same one."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = (start or datetime.now(timezone.utc)).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def echo_body(text: str) -> bytes:
    return f'<e:echo xmlns:e="{ECHO_NS}"><e:text>{text}</e:text></e:echo>'.encode()


def echoed_text(element: Element) -> str | None:
    return element.findtext(f"{{{ECHO_NS}}}text")


@dataclasses.dataclass
class World:
    """One service, its clock and credentials, in one (WS-SC, SOAP) version pair."""

    service: SecureConversationService
    clock: Clock
    version: SCVersion
    soap: SOAPVersion
    certificate: x509.Certificate

    # -- sessions -----------------------------------------------------------------------------------------
    def session(self, *, username: str | None = None, password: str | None = None, **options: object) -> ClientSession:
        bootstrap = ClientBootstrap(self.certificate, username=username, password=password)
        settings = ClientSettings(version=self.version, soap=self.soap, **options)  # type: ignore[arg-type]
        return ClientSession(bootstrap, ADDRESS, settings, clock=self.clock)

    def establish(self, **options: object) -> ClientSession:
        session = self.session(**options)  # type: ignore[arg-type]
        event = self.service.receive(session.establish())
        assert not isinstance(event, FaultReply), repr(event.error)
        session.receive(event.reply.data)
        assert session.context is not None
        return session

    def holding(self, context: SecurityContext, **options: object) -> ClientSession:
        """Another session holding a snapshot of ``context`` (a message in flight, or a reconstructed client)."""
        session = self.session(**options)  # type: ignore[arg-type]
        session.context = context
        return session

    # -- exchanges ----------------------------------------------------------------------------------------
    def call(self, session: ClientSession, text: str = "hello") -> ApplicationRequest:
        """One application round trip; checks what the service saw and what the client verified."""
        event = self.service.receive(session.request(echo_body(text), ECHO_ACTION))
        assert isinstance(event, ApplicationRequest), repr(getattr(event, "error", type(event).__name__))
        assert event.action == ECHO_ACTION
        assert session.context is not None
        assert event.context.identifier == session.context.identifier
        assert event.message.soap is self.soap
        (payload,) = event.message.payload()
        assert echoed_text(payload) == text
        response = session.receive(self.service.respond(event, payload))
        assert isinstance(response, Response)
        assert response.message.soap is self.soap
        assert response.message.context is not None
        assert response.message.context.identifier == session.context.identifier
        (answer,) = response.message.payload()
        assert echoed_text(answer) == text
        return event

    def expect_fault(
        self,
        data: bytes,
        error: type[WsscError],
        session: ClientSession | None = None,
        *,
        soap: SOAPVersion | None = None,
        version: SCVersion | None = None,
    ) -> FaultReply:
        """``data`` is refused with ``error``'s spec fault, in the request's SOAP version; when ``session``
        is waiting for the answer, it raises ``error`` on reading the fault."""
        event = self.service.receive(data)
        assert isinstance(event, FaultReply), f"expected {error.__name__}, got {type(event).__name__}"
        assert type(event.error) is error, f"expected {error.__name__}, got {event.error!r}"
        check_fault_envelope(event.reply.data, error, soap or self.soap, version or self.version)
        assert event.reply.soap is (soap or self.soap)
        assert event.reply.status == 500
        if session is not None:
            with pytest.raises(error):
                session.receive(event.reply.data)
        return event

    def stored(self, session_or_context: ClientSession | SecurityContext) -> SecurityContext | None:
        context = session_or_context.context if isinstance(session_or_context, ClientSession) else session_or_context
        assert context is not None
        return self.service.store.get(context.identifier, self.clock())

    # -- hand-made requests ---------------------------------------------------------------------------------
    def envelope(self, body: Element | bytes, action: str) -> bytes:
        addressing = Addressing(action, to=ADDRESS, message_id="urn:uuid:" + str(uuid.uuid4()))
        return envelope(body, addressing, self.soap)

    def context_signed(
        self,
        context: SecurityContext,
        body: Element | bytes,
        action: str,
        endorsing: Sequence[EndorsingToken] = (),
    ) -> bytes:
        """A request protected (signed, encrypted, derived keys) under ``context`` as a client would."""
        token = ContextProtection(context.sct(), context.key, "local")
        return protect(
            self.envelope(body, action),
            token,
            ProtectionPolicy(),
            version=self.version,
            now=self.clock(),
            endorsing=endorsing,
        ).data

    def bootstrap_signed(self, body: Element | bytes, action: str, bootstrap: ClientBootstrap | None = None) -> bytes:
        """A request protected by the bootstrap binding (EncryptedKey to the service certificate)."""
        bootstrap = bootstrap or ClientBootstrap(self.certificate)
        return bootstrap.protect(self.envelope(body, action), self.version, self.clock())[0]


def make_world(
    version: SCVersion,
    soap: SOAPVersion,
    credentials: ServiceCredentials,
    *,
    settings: ServiceSettings | None = None,
    store: ContextStore | None = None,
    clock: Clock | None = None,
) -> World:
    clock = clock or Clock()
    settings = settings or ServiceSettings(version=version)
    service = SecureConversationService(credentials, store, settings, clock=clock)
    return World(service, clock, version, soap, credentials.certificate)


def check_fault_envelope(data: bytes, error: type[WsscError], soap: SOAPVersion, version: SCVersion) -> None:
    """A SOAP fault of ``soap``'s shape naming ``error``'s code in ``version``'s namespace, with the spec reason."""
    root = parse(data)
    assert soap_version_of(root) is soap
    fault = read_fault(root)
    assert fault is not None
    code_namespace = {"wsc": version.sc, "wst": version.trust, "wsse": ns.WSSE}[error.code_kind]
    assert fault.code == ns.qn(code_namespace, error.code), fault.code
    assert fault.error is error
    assert fault.reason == error.reason
    body = root.find(soap.qname("Body"))
    assert body is not None
    (only,) = [c for c in body if isinstance(c.tag, str)]
    assert only.tag == soap.qname("Fault")
    if soap is SOAP12:
        top = only.findtext(f"{soap.qname('Code')}/{soap.qname('Value')}")
        expected_top = soap.sender_code if error.sender_fault else soap.receiver_code
        assert top is not None and top.strip().endswith(":" + expected_top)
    else:
        assert soap is SOAP11
        assert only.find("faultcode") is not None


def endorsing_token(certificate: x509.Certificate, private_key: rsa.RSAPrivateKey) -> EndorsingToken:
    """What ClientSession.amend adds: the certificate as a BST whose key signs the primary signature."""
    token = X509Token(certificate, "X509-" + uuid.uuid4().hex[:16])
    return EndorsingToken(
        private_key, token.reference("bst"), alg.RSA_SHA1, etree.tostring(token.to_element(), encoding="unicode")
    )

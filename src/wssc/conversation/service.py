"""The service side of WS-SecureConversation, sans I/O: the gate that receives, verifies and routes every
request (WSS 1.1, WS-SP 1.2 section 7), holding a :class:`~wssc.conversation.token_service.TokenService` for
Issue, Renew, Amend, Cancel and Validate (WS-SC 1.3 sections 3-6, WS-Trust 1.3 sections 4-7).

:meth:`SecureConversationService.receive` takes the bytes of one request and returns one event: either a
finished reply (token operations, faults) or an :class:`ApplicationRequest` that the application answers
through :meth:`SecureConversationService.respond`.  Sockets, threads and asyncio live in the adapters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TypeVar

from wssc.conversation.bootstrap import USERNAME_FOR_CERTIFICATE, ServiceCredentials
from wssc.conversation.classify import (
    carries_encrypted_key,
    check_classification,
    plainly_context_message,
    soap_of_request,
    version_hint,
)
from wssc.conversation.context import Claim, SecurityContext
from wssc.conversation.events import (
    ApplicationRequest,
    Event,
    FaultReply,
    Incoming,
    Reply,
    TokenReply,
    application_request,
)
from wssc.conversation.negotiation import (
    NEGOTIATED_BOOTSTRAPS,
    TLSNEGO_BOOTSTRAP,
    NegotiationService,
    Negotiator,
    is_negotiated,
    is_negotiation_leg,
    session_claims,
)
from wssc.conversation.resolver import StoreKeyResolver
from wssc.conversation.settings import ServiceSettings
from wssc.conversation.stateless import open_cookies
from wssc.conversation.store import ContextStore, InMemoryContextStore, RequestScopedStore
from wssc.conversation.token_requests import derivation_version
from wssc.conversation.token_service import TokenService
from wssc.errors import (
    BadContextToken,
    InvalidRequest,
    InvalidSecurity,
    RequestFailed,
    WsscError,
)
from wssc.primitives.xml import Element, parse
from wssc.security import compiled
from wssc.security.addressing import Addressing, action_of, envelope
from wssc.security.faults import fault_envelope
from wssc.security.policy import TRANSPORT_POLICY, TRANSPORT_REQUIREMENTS
from wssc.security.protect import add_transport_header, protect
from wssc.security.replay import InMemoryReplayCache, ReplayCache
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP12, SOAPVersion, check_understood, soap_version_of
from wssc.security.unprotect import Attempt, Receiver
from wssc.trust import actions
from wssc.trust.elements import RequestType
from wssc.trust.rst import RequestSecurityToken
from wssc.versions import SCVersion

_log = logging.getLogger(__name__)
T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SecureConversationService:
    """Receives requests, verifies them against the published policy and routes them: token requests to
    :attr:`tokens` (its :class:`TokenService`), application messages to the application as an
    :class:`ApplicationRequest`, answered through :meth:`respond`."""

    def __init__(
        self,
        credentials: ServiceCredentials,
        store: ContextStore | None = None,
        settings: ServiceSettings | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        on_new_key: Callable[[SecurityContext], None] | None = None,
        replay_cache: ReplayCache | None = None,
        negotiator: Negotiator | None = None,
    ) -> None:
        """``store`` and ``replay_cache`` default to this process's memory; a farm shares both (Redis).
        ``negotiator``: negotiate contexts with SPNEGO or TLSNEGO too (NEGOTIATION.md); the negotiation's own
        state stays in this process, so a farm routes one client's legs to one node (its contexts, once
        negotiated, live in ``store``)."""
        self.credentials = credentials
        self.settings = settings or ServiceSettings()
        self._scope = RequestScopedStore(store if store is not None else InMemoryContextStore())
        self.store: ContextStore = self._scope
        self.clock = clock
        #: the security token service answering RSTs, sharing this service's request-scoped store
        self.tokens = TokenService(credentials, self._scope, self.settings, clock=clock, on_new_key=on_new_key)
        self._replays: ReplayCache = replay_cache if replay_cache is not None else InMemoryReplayCache()
        #: contexts and replays in this process's memory, wssc's own stores (a subclass may wait on anything): a
        #: request under a context then waits on no network
        self._in_memory = type(self._scope.base) is InMemoryContextStore and type(self._replays) is InMemoryReplayCache
        if self.settings.bootstrap == USERNAME_FOR_CERTIFICATE and credentials.users is None:
            raise ValueError("the username-for-certificate bootstrap needs the credentials' users")
        self.negotiation: NegotiationService | None = None
        #: UserNameForSslNegotiated: messages under a TLSNEGO context carry a UsernameToken for ``users``
        self._username_for_ssl = (
            negotiator is not None and negotiator.bootstrap == TLSNEGO_BOOTSTRAP and credentials.users is not None
        )
        if negotiator is not None:
            if self.settings.bootstrap not in (None, negotiator.bootstrap):
                raise ValueError(f"a {negotiator.bootstrap} negotiator with the {self.settings.bootstrap} bootstrap")
            self.negotiation = NegotiationService(negotiator, self._scope, clock)
            self.negotiation.on_new_key = on_new_key
        elif self.settings.bootstrap in NEGOTIATED_BOOTSTRAPS:
            raise ValueError(f"the {self.settings.bootstrap} bootstrap needs a Negotiator")
        # (renewing, over TLS, bootstrap message) -> the receiver demanding what the published policy says; a
        # message-security bootstrap (it carries an EncryptedKey) is held to it over HTTPS too
        self._receivers: dict[tuple[bool, bool, bool], Receiver] = {}
        for renewing in (False, True):
            resolver = StoreKeyResolver(self.store, credentials.resolver(), clock, allow_expired=renewing)
            transport = Receiver(resolver, TRANSPORT_REQUIREMENTS, replay_cache=self._replays)
            for bootstrap in (False, True):
                requirements = self.settings.request_requirements(bootstrap=bootstrap)
                receiver = Receiver(resolver, requirements, replay_cache=self._replays)
                self._receivers[(renewing, False, bootstrap)] = receiver
                self._receivers[(renewing, True, bootstrap)] = receiver if bootstrap else transport

    @property
    def on_new_key(self) -> Callable[[SecurityContext], None] | None:
        """Called with every context key the service creates (issue, renew): the key log hooks in here."""
        return self.tokens.on_new_key

    @on_new_key.setter
    def on_new_key(self, hook: Callable[[SecurityContext], None] | None) -> None:
        self.tokens.on_new_key = hook
        if self.negotiation is not None:
            self.negotiation.on_new_key = hook

    # -- entry point -----------------------------------------------------------------------------------
    def receive(self, data: bytes, *, transport_action: str | None = None, over_tls: bool = False) -> Event:
        """Process one request; never raises (the fault is the reply).

        ``transport_action`` is the action the transport carried (HTTP ``SOAPAction``, or the SOAP 1.2
        ``action`` media-type parameter), used for application messages without WS-Addressing.
        ``over_tls`` says the request arrived over HTTPS: then TransportWithMessageCredential messages are
        accepted too (the context key signs only the Timestamp; a UsernameToken may ride in clear).
        """
        if self.negotiation is None and self.settings.stateless is None and plainly_context_message(data):
            return self._receive_context_message(data, over_tls, transport_action)
        soap = SOAP12
        try:
            root = parse(data)
            soap = soap_version_of(root)
            header = root.find(soap.qname("Header"))
            if self.negotiation is not None:
                body = root.find(soap.qname("Body"))
                if body is not None and is_negotiation_leg(header, body):
                    return self.negotiation.receive(header, body, soap)
            raw_action = action_of(header)
            info = actions.operation_for_action(raw_action or "")
            renewing = info is not None and info.operation is RequestType.RENEW and not info.is_response
            bootstrap = carries_encrypted_key(root, soap)
            receiver = self._receivers[(renewing, over_tls, bootstrap)]
            seal = self.settings.stateless
            carried = open_cookies(root, seal, self.clock()) if seal is not None else None
            with self._scope.request(carried):
                message = receiver.unprotect(root, now=self.clock())
                check_classification(message, bootstrap, over_tls)
                check_understood(message.header_blocks(), self.settings.understood_headers)
                return self._dispatch(message, renewing, Incoming(transport_action, over_tls))
        except WsscError as error:
            return self.fault(error, soap, version_hint(data))
        except Exception:  # a bug of ours must not become a traceback on the wire
            _log.exception("unexpected error while processing a request")
            return self.fault(RequestFailed("internal error"), soap, version_hint(data))

    def is_light(self, data: bytes, max_bytes: int) -> bool:
        """Whether :meth:`receive` of ``data`` is bounded cheap work: at most ``max_bytes``, plainly a context
        message (no RSA key transport, no Renew: :func:`plainly_context_message`), verified by the compiled
        core (``wssc.security.compiled``), where the Python path costs several times more, under contexts and a
        replay cache held in this process's memory (a Redis store would wait on the network).  An adapter may
        run such a request on its event loop rather than hand it to a thread (``wssc.adapters.asgi``)."""
        return (
            len(data) <= max_bytes
            and self._in_memory
            and compiled.core() is not None
            and self.negotiation is None
            and self.settings.stateless is None
            and plainly_context_message(data)
        )

    def receive_light(
        self, data: bytes, *, transport_action: str | None = None, over_tls: bool = False
    ) -> Event | Callable[[], Event]:
        """:meth:`receive` of a light request (:meth:`is_light`) by the compiled core alone, bounded work: the
        event; or, where the core declined the message, the rest of its processing (the Python path, which
        costs more: an adapter runs it in a worker), continuing the same attempt (its replay check)."""
        receiver = self._receivers[(False, over_tls, False)]
        attempt = receiver.attempt(self.clock())

        def compiled_only() -> Event | None:
            message = receiver.unprotect_compiled(data, attempt)
            return None if message is None else self._context_message(message, over_tls, transport_action)

        event = self._in_request(data, compiled_only)
        if event is not None:
            return event
        return lambda: self._receive_context_message(data, over_tls, transport_action, attempt)

    def _receive_context_message(
        self, data: bytes, over_tls: bool, transport_action: str | None, attempt: Attempt | None = None
    ) -> Event:
        """:meth:`receive` for a message whose bytes show it is neither a bootstrap message nor a Renew request
        (:func:`plainly_context_message`): the receiver is chosen without parsing, and the bytes go to it, so
        that the compiled core parses and verifies them and lxml never reads the original message (docs/core.md,
        "one source of truth"); the Python path parses them once, as before."""
        receiver = self._receivers[(False, over_tls, False)]
        return self._in_request(
            data,
            lambda: self._context_message(
                receiver.unprotect(data, now=self.clock(), attempt=attempt), over_tls, transport_action
            ),
        )

    def _in_request(self, data: bytes, work: Callable[[], T]) -> T | FaultReply:
        """``work`` on the request ``data`` in the store's request scope; a failure is the fault the spec names
        (a bug of ours is RequestFailed and a log line, never a traceback on the wire)."""
        try:
            with self._scope.request(None):
                return work()
        except WsscError as error:
            return self.fault(error, soap_of_request(data), version_hint(data))
        except Exception:
            _log.exception("unexpected error while processing a request")
            return self.fault(RequestFailed("internal error"), soap_of_request(data), version_hint(data))

    def _context_message(self, message: VerifiedMessage, over_tls: bool, transport_action: str | None) -> Event:
        """The checks after a context message verified, and its dispatch."""
        check_classification(message, False, over_tls)
        check_understood(message.header_blocks(), self.settings.understood_headers)
        return self._dispatch(message, False, Incoming(transport_action, over_tls))

    def fault(self, error: WsscError, soap: SOAPVersion = SOAP12, version: SCVersion | None = None) -> FaultReply:
        """The fault reply for ``error`` (spec code and reason, never the local detail), with wsc: and wst:
        codes in the namespaces of the protocol version the request used."""
        envelope_ = fault_envelope(error, soap, version or self.settings.version)
        return FaultReply(error, Reply(envelope_, soap, 500))

    def _dispatch(self, message: VerifiedMessage, renewing: bool, incoming: Incoming) -> Event:
        if incoming.over_tls and (message.is_signed(message.body) or message.is_encrypted(message.body)):
            # Message security used over HTTPS anyway: answer with message security too.
            incoming = Incoming(incoming.transport_action, over_tls=False)
        tags = message.payload_tags()  # read without a tree where the compiled core verified the message
        only = tags[0].rpartition("}")[2] if len(tags) == 1 else None
        rst = None
        if only == "RequestSecurityToken":
            rst = RequestSecurityToken.from_element(message.payload()[0], action=action_of(message.header))
        origin = message.signature_key
        if origin is None and incoming.over_tls:
            return self._transport_bootstrap(message, rst, incoming)
        if origin is None:
            raise InvalidSecurity("requests must be signed")
        if incoming.over_tls and "Timestamp" not in message.signed_names:
            raise InvalidSecurity("over TLS the context key must sign the Timestamp")
        if only == "RequestSecurityTokenResponse":
            return self.tokens.take_on(message, message.payload()[0])
        if renewing and (rst is None or rst.request_type is not RequestType.RENEW):
            raise InvalidSecurity("the Renew action carries no Renew request")
        if origin.kind in ("encrypted-key", "x509"):
            claims = self.credentials.authenticate(message, self.clock(), bootstrap=self.settings.bootstrap)
            if rst is None:
                if not self.settings.accept_bootstrap_messages:
                    raise InvalidSecurity("only token requests are accepted without a security context")
                return application_request(message, None, incoming, claims)
            if rst.request_type is RequestType.ISSUE:
                return self.tokens.issue(message, rst, claims, incoming)
            if rst.request_type is RequestType.VALIDATE:
                return self.tokens.validate(message, rst, incoming, claims)
            raise InvalidRequest(f"{rst.request_type.value} needs the context's own key")
        if origin.kind != "context" or origin.context is None:
            raise InvalidSecurity("requests must be signed with a context or bootstrap key")
        context = self.store.get(origin.context.identifier, now := self.clock())
        if context is None:
            raise BadContextToken("unknown or cancelled context")
        self.store.mark_used(context.identifier, now)  # verified under its key: no longer pending
        if is_negotiated(context):
            return self._under_negotiated(message, rst, context, incoming)
        if rst is None:
            return application_request(message, context, incoming, over_tls=incoming.over_tls)
        if rst.request_type is RequestType.RENEW:
            return self.tokens.renew(message, rst, context, incoming)
        if rst.request_type is RequestType.CANCEL:
            return self.tokens.cancel(message, rst, context, incoming)
        if rst.request_type is RequestType.AMEND:
            return self.tokens.amend(message, rst, context, incoming)
        if rst.request_type is RequestType.VALIDATE:
            return self.tokens.validate(message, rst, incoming)
        raise InvalidRequest("a context is issued under the bootstrap binding, not under a context")

    # -- operations ---------------------------------------------------------------------------------------
    def _under_negotiated(
        self, message: VerifiedMessage, rst: RequestSecurityToken | None, context: SecurityContext, incoming: Incoming
    ) -> Event:
        """A request under a negotiated context (NEGOTIATION.md section 4): an RST/SCT for the session context
        (``establishSecurityContext=true``), Cancel or Validate of itself, or, when the service accepts them, an
        application message (``establishSecurityContext=false``).  UserNameForSslNegotiated: the request carries
        a signed and encrypted UsernameToken the service's users verify (section 5)."""
        user: tuple[Claim, ...] = ()
        if self._username_for_ssl and (rst is None or rst.request_type is RequestType.ISSUE):
            user = self.credentials.authenticate(message, self.clock())
        if rst is None:
            if not self.settings.accept_bootstrap_messages:
                raise InvalidSecurity("a negotiated context only establishes a security context here")
            return application_request(message, replace(context, claims=context.claims + user), incoming)
        if rst.request_type is RequestType.ISSUE:
            return self.tokens.issue(message, rst, session_claims(context) + user, incoming, under=context)
        if rst.request_type is RequestType.CANCEL:
            return self.tokens.cancel(message, rst, context, incoming)
        if rst.request_type is RequestType.VALIDATE:
            return self.tokens.validate(message, rst, incoming)
        raise InvalidRequest(f"a negotiated context is negotiated anew, not sent {rst.request_type.value}")

    def _transport_bootstrap(
        self, message: VerifiedMessage, rst: RequestSecurityToken | None, incoming: Incoming
    ) -> Event:
        """TransportWithMessageCredential bootstrap: TLS protects the request, a UsernameToken (or the TLS
        client certificate, at the transport) authenticates it (WS-SP 1.2 section 7.3)."""
        claims = self.credentials.authenticate(message, self.clock(), over_tls=True, bootstrap=self.settings.bootstrap)
        if rst is not None and rst.request_type is RequestType.ISSUE:
            return self.tokens.issue(message, rst, claims, incoming)
        if rst is not None and rst.request_type is RequestType.VALIDATE:
            return self.tokens.validate(message, rst, incoming, claims)
        if rst is None and self.settings.accept_bootstrap_messages:
            return application_request(message, None, incoming, claims, over_tls=True)
        raise InvalidSecurity("without a context key only token requests are accepted over TLS")

    def respond(
        self,
        request: ApplicationRequest,
        body: Element | bytes | list[Element] | tuple[bytes, ...],
        action: str | None = None,
    ) -> bytes:
        """Protect the application's answer under the request's context (same key instance), or under the
        request's bootstrap key with SignatureConfirmation when it came without a context."""
        response_action = action or ((request.action or "") + "Response")
        data = envelope(
            body,
            Addressing(response_action, relates_to=request.message_id, reply_to_anonymous=False),
            request.message.soap,
        )
        if request.context is None and request.over_tls:
            return add_transport_header(data, now=self.clock())
        if request.context is None:
            protection, signer = self.credentials.response_security(request.message, self.settings.policy)
            return protect(
                data,
                protection,
                self.settings.policy,
                version=derivation_version(request.message) or self.settings.version,
                now=self.clock(),
                signature_confirmations=(request.message.signature_value,),
                signer=signer,
            ).data
        now = self.clock()
        token = self.tokens.under(request.context, request.message, now)
        policy = TRANSPORT_POLICY if request.over_tls else self.settings.policy
        return protect(data, token, policy, version=request.context.version, now=now).data


__all__ = [
    "ApplicationRequest",
    "Event",
    "FaultReply",
    "Reply",
    "SecureConversationService",
    "ServiceSettings",
    "TokenReply",
]

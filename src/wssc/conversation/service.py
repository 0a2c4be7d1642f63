"""The service side of WS-SecureConversation, sans I/O: a token service for Issue, Renew, Amend, Cancel and
Validate (WS-SC 1.3 sections 3-8, WS-Trust 1.3 sections 4-8) and the gate for application messages.

:meth:`SecureConversationService.receive` takes the bytes of one request and returns one event: either a
finished reply (token operations, faults) or an :class:`ApplicationRequest` that the application answers
through :meth:`SecureConversationService.respond`.  Sockets, threads and asyncio live in the adapters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lxml import etree

from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.context import CONTEXT_LIFETIME, KEY_ROLLOVER_WINDOW, Claim, SecurityContext
from wssc.conversation.resolver import StoreKeyResolver
from wssc.conversation.store import ContextStore, InMemoryContextStore, StaleContext
from wssc.errors import (
    BadContextToken,
    InvalidRequest,
    InvalidSecurity,
    RequestFailed,
    UnableToRenew,
    UnsupportedContextToken,
    WsscError,
)
from wssc.primitives.xml import Element, parse
from wssc.security.addressing import Addressing, action_of, envelope, message_id_of
from wssc.security.faults import fault_envelope
from wssc.security.keys import ContextProtection, ProtectionToken
from wssc.security.policy import TRANSPORT_POLICY, TRANSPORT_REQUIREMENTS, ProtectionPolicy, Requirements
from wssc.security.protect import AsymmetricSigner, add_transport_header, protect
from wssc.security.replay import InMemoryReplayCache
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP12, SOAPVersion, soap_version_of
from wssc.security.unprotect import Receiver
from wssc.tokens import reference as strs
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.reference import Reference, SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.trust import actions
from wssc.trust.elements import Lifetime, RequestType, Status
from wssc.trust.entropy import EntropyMode, issue_key
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse, response_body
from wssc.versions import SC_1_3, VERSIONS, SCVersion, by_trust_namespace

_log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ServiceSettings:
    version: SCVersion = SC_1_3
    entropy_mode: EntropyMode = EntropyMode.COMBINED
    key_size: int = 256
    context_lifetime: timedelta = CONTEXT_LIFETIME
    rollover: timedelta = KEY_ROLLOVER_WINDOW
    #: protection of responses (RSTRs and application replies)
    policy: ProtectionPolicy = field(default_factory=ProtectionPolicy)
    #: accept application messages protected by the bootstrap binding alone (WCF establishSecurityContext=false)
    accept_bootstrap_messages: bool = False
    #: what every request must show (bootstrap and context messages alike)
    requirements: Requirements = field(default_factory=lambda: Requirements(encrypted_body=True))


@dataclass(frozen=True)
class Reply:
    """Bytes to send back, with the HTTP status: 500 for every fault, as WCF sends and expects (SOAP 1.1
    section 6.2; SOAP 1.2 part 2 section 7.5.1.2 would allow 400 for Sender faults, WCF clients do not)."""

    data: bytes
    soap: SOAPVersion
    status: int = 200


@dataclass(frozen=True)
class TokenReply:
    operation: RequestType
    context: SecurityContext | None
    reply: Reply
    #: Validate only: whether the target context is valid
    valid: bool | None = None


@dataclass(frozen=True)
class FaultReply:
    error: WsscError
    reply: Reply


@dataclass(frozen=True)
class ApplicationRequest:
    """A verified application message; answer it with ``respond``.

    ``context`` is the live security context, or None for a message protected by the bootstrap binding
    itself (a service configured without secure conversation, WCF ``establishSecurityContext=false``);
    ``claims`` are what the context, or the bootstrap credential, proved about the caller.
    """

    message: VerifiedMessage
    context: SecurityContext | None
    action: str | None
    message_id: str | None
    bootstrap_claims: tuple[Claim, ...] = ()
    #: the request came over HTTPS under TransportWithMessageCredential; the answer is protected the same way
    over_tls: bool = False

    @property
    def claims(self) -> tuple[Claim, ...]:
        return self.context.claims if self.context is not None else self.bootstrap_claims


Event = TokenReply | FaultReply | ApplicationRequest


@dataclass(frozen=True)
class _Incoming:
    """What the transport told about one request."""

    transport_action: str | None = None
    over_tls: bool = False


def _sct_versions(token_type: str | None) -> SCVersion | None:
    for version in VERSIONS:
        if token_type == version.sct_token_type:
            return version
    return None


class SecureConversationService:
    def __init__(
        self,
        credentials: ServiceCredentials,
        store: ContextStore | None = None,
        settings: ServiceSettings | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        on_new_key: Callable[[SecurityContext], None] | None = None,
    ) -> None:
        self.credentials = credentials
        self.store: ContextStore = store if store is not None else InMemoryContextStore()
        self.settings = settings or ServiceSettings()
        self.clock = clock
        #: called with every context key the service creates (issue, renew): the key log hooks in here
        self.on_new_key = on_new_key
        self._replays = InMemoryReplayCache()
        self._receivers: dict[tuple[bool, bool], Receiver] = {}
        for renewing in (False, True):
            resolver = StoreKeyResolver(self.store, credentials.resolver(), clock, allow_expired=renewing)
            for over_tls in (False, True):
                requirements = TRANSPORT_REQUIREMENTS if over_tls else self.settings.requirements
                self._receivers[(renewing, over_tls)] = Receiver(resolver, requirements, replay_cache=self._replays)

    # -- entry point -----------------------------------------------------------------------------------
    def receive(self, data: bytes, *, transport_action: str | None = None, over_tls: bool = False) -> Event:
        """Process one request; never raises (the fault is the reply).

        ``transport_action`` is the action the transport carried (HTTP ``SOAPAction``, or the SOAP 1.2
        ``action`` media-type parameter), used for application messages without WS-Addressing.
        ``over_tls`` says the request arrived over HTTPS: then TransportWithMessageCredential messages are
        accepted too (the context key signs only the Timestamp; a UsernameToken may ride in clear).
        """
        soap = SOAP12
        try:
            root = parse(data)
            soap = soap_version_of(root)
            raw_action = action_of(root.find(soap.qname("Header")))
            info = actions.operation_for_action(raw_action or "")
            renewing = info is not None and info.operation is RequestType.RENEW and not info.is_response
            receiver = self._receivers[(renewing, over_tls)]
            message = receiver.unprotect(root, now=self.clock())
            return self._dispatch(message, renewing, _Incoming(transport_action, over_tls))
        except WsscError as error:
            return self.fault(error, soap, _version_hint(data))
        except Exception:  # a bug of ours must not become a traceback on the wire
            _log.exception("unexpected error while processing a request")
            return self.fault(RequestFailed("internal error"), soap, _version_hint(data))

    def fault(self, error: WsscError, soap: SOAPVersion = SOAP12, version: SCVersion | None = None) -> FaultReply:
        """The fault reply for ``error`` (spec code and reason, never the local detail), with wsc: and wst:
        codes in the namespaces of the protocol version the request used."""
        envelope_ = fault_envelope(error, soap, version or self.settings.version)
        return FaultReply(error, Reply(envelope_, soap, 500))

    def _dispatch(self, message: VerifiedMessage, renewing: bool, incoming: _Incoming) -> Event:
        if incoming.over_tls and (message.is_signed(message.body) or message.is_encrypted(message.body)):
            # Message security used over HTTPS anyway: answer with message security too.
            incoming = _Incoming(incoming.transport_action, over_tls=False)
        payload = message.payload()
        rst = None
        if len(payload) == 1 and etree.QName(payload[0]).localname == "RequestSecurityToken":
            rst = RequestSecurityToken.from_element(payload[0], action=action_of(message.header))
        origin = message.signature_key
        if origin is None and incoming.over_tls:
            return self._transport_bootstrap(message, rst, incoming)
        if origin is None:
            raise InvalidSecurity("requests must be signed")
        if incoming.over_tls and "Timestamp" not in message.signed_names:
            raise InvalidSecurity("over TLS the context key must sign the Timestamp")
        if len(payload) == 1 and etree.QName(payload[0]).localname == "RequestSecurityTokenResponse":
            return self._take_on(message, payload[0])
        if renewing and (rst is None or rst.request_type is not RequestType.RENEW):
            raise InvalidSecurity("the Renew action carries no Renew request")
        if origin.kind in ("encrypted-key", "x509"):
            claims = self.credentials.authenticate(message)
            if rst is None:
                if not self.settings.accept_bootstrap_messages:
                    raise InvalidSecurity("only token requests are accepted without a security context")
                header = message.header
                action = action_of(header) or incoming.transport_action
                return ApplicationRequest(message, None, action, message_id_of(header), claims)
            if rst.request_type is RequestType.ISSUE:
                return self._issue(message, rst, claims, incoming)
            if rst.request_type is RequestType.VALIDATE:
                return self._validate(message, rst, incoming)
            raise InvalidRequest(f"{rst.request_type.value} needs the context's own key")
        if origin.kind != "context" or origin.context is None:
            raise InvalidSecurity("requests must be signed with a context or bootstrap key")
        context = self.store.get(origin.context.identifier, self.clock())
        if context is None:
            raise BadContextToken("unknown or cancelled context")
        if rst is None:
            header = message.header
            action = action_of(header) or incoming.transport_action
            return ApplicationRequest(message, context, action, message_id_of(header), over_tls=incoming.over_tls)
        if rst.request_type is RequestType.RENEW:
            return self._renew(message, rst, context, incoming)
        if rst.request_type is RequestType.CANCEL:
            return self._cancel(message, rst, context, incoming)
        if rst.request_type is RequestType.AMEND:
            return self._amend(message, rst, context, incoming)
        if rst.request_type is RequestType.VALIDATE:
            return self._validate(message, rst, incoming)
        raise InvalidRequest("a context is issued under the bootstrap binding, not under a context")

    # -- operations ---------------------------------------------------------------------------------------
    def _transport_bootstrap(
        self, message: VerifiedMessage, rst: RequestSecurityToken | None, incoming: _Incoming
    ) -> Event:
        """TransportWithMessageCredential bootstrap: TLS protects the request, a UsernameToken (or the TLS
        client certificate, at the transport) authenticates it (WS-SP 1.2 section 7.3)."""
        claims = self.credentials.authenticate(message, over_tls=True)
        if rst is not None and rst.request_type is RequestType.ISSUE:
            return self._issue(message, rst, claims, incoming)
        if rst is not None and rst.request_type is RequestType.VALIDATE:
            return self._validate(message, rst, incoming)
        if rst is None and self.settings.accept_bootstrap_messages:
            header = message.header
            action = action_of(header) or incoming.transport_action
            return ApplicationRequest(message, None, action, message_id_of(header), claims, over_tls=True)
        raise InvalidSecurity("without a context key only token requests are accepted over TLS")

    def _issue(
        self, message: VerifiedMessage, rst: RequestSecurityToken, claims: tuple[Claim, ...], incoming: _Incoming
    ) -> TokenReply:
        version = self._version_of(rst, message)
        if _sct_versions(rst.token_type) is None:
            raise InvalidRequest(f"this service issues security context tokens, not {rst.token_type!r}")
        try:
            issued = issue_key(rst, self.settings.entropy_mode, self.settings.key_size)
        except InvalidRequest as error:
            if rst.entropy is None and self.settings.entropy_mode is not EntropyMode.SERVER:
                raise  # the request lacks what the exchange needs: wst:InvalidRequest
            # The key size or computed-key algorithm asked for the SCT is not supported (WS-SC 1.3 s9).
            raise UnsupportedContextToken(error.detail) from None
        now = self.clock()
        context = SecurityContext.new(
            issued.key, now, lifetime=self.settings.context_lifetime, version=version, claims=claims
        )
        self.store.add(context, now)
        if self.on_new_key is not None:
            self.on_new_key(context)
        rstr = self._rstr(version, rst, context, issued.proof_token, issued.server_entropy, len(issued.key) * 8)
        if incoming.over_tls and message.signature_key is None:
            reply = self._reply(message, version, RequestType.ISSUE, rstr, None, incoming)
        else:
            protection, signer = self.credentials.response_security(message)
            reply = self._reply(message, version, RequestType.ISSUE, rstr, protection, incoming, signer)
        return TokenReply(RequestType.ISSUE, context, reply)

    def _renew(
        self, message: VerifiedMessage, rst: RequestSecurityToken, context: SecurityContext, incoming: _Incoming
    ) -> TokenReply:
        version = self._version_of(rst, message)
        self._check_target(rst.renew_target, context)
        if message.context is None or message.context.instance != context.instance:
            # Proof of possession of the *current* key (WS-SC 1.3 section 6): a rolled-over instance may
            # still carry messages in flight, but it may not renew the context away from its holder.
            raise BadContextToken("a renewal must be signed with the current key instance")
        issued = issue_key(rst, self.settings.entropy_mode, self.settings.key_size)
        now = self.clock()
        renewed = context.renewed(
            issued.key, now, lifetime=self.settings.context_lifetime, rollover=self.settings.rollover
        )
        try:
            self.store.replace(context, renewed, now)
        except StaleContext:
            raise UnableToRenew("the context changed while it was being renewed") from None
        if self.on_new_key is not None:
            self.on_new_key(renewed)
        rstr = self._rstr(version, rst, renewed, issued.proof_token, issued.server_entropy, len(issued.key) * 8)
        reply = self._reply(message, version, RequestType.RENEW, rstr, self._under(context, message), incoming)
        return TokenReply(RequestType.RENEW, renewed, reply)

    def _amend(
        self, message: VerifiedMessage, rst: RequestSecurityToken, context: SecurityContext, incoming: _Incoming
    ) -> TokenReply:
        version = self._version_of(rst, message)
        added = tuple(
            Claim("x509", origin.certificate.subject.rfc4514_string(), "endorsing-signature")
            for _, origin in message.endorsing
            if origin.certificate is not None
        )
        if not added:
            raise InvalidRequest("Amend needs an endorsing signature by the new credential")
        now = self.clock()
        amended = context.amended(added)
        try:
            self.store.replace(context, amended, now)
        except StaleContext:
            raise InvalidRequest("the context changed while it was being amended") from None
        rstr = RequestSecurityTokenResponse(
            token_type=version.sct_token_type, context=rst.context, requested_security_token=amended.sct()
        )
        reply = self._reply(message, version, RequestType.AMEND, rstr, self._under(amended, message), incoming)
        return TokenReply(RequestType.AMEND, amended, reply)

    def _cancel(
        self, message: VerifiedMessage, rst: RequestSecurityToken, context: SecurityContext, incoming: _Incoming
    ) -> TokenReply:
        version = self._version_of(rst, message)
        self._check_target(rst.cancel_target, context)
        rstr = RequestSecurityTokenResponse(context=rst.context, requested_token_cancelled=True)
        reply = self._reply(message, version, RequestType.CANCEL, rstr, self._under(context, message), incoming)
        # From here on every message and derived key of the context gets wsc:BadContextToken.
        if not self.store.remove(context.identifier):
            raise BadContextToken("the context was cancelled already")
        return TokenReply(RequestType.CANCEL, context, reply)

    def _take_on(self, message: VerifiedMessage, element: Element) -> TokenReply:
        """A context created by the sender and propagated in an unsolicited RSTR (WS-SC 1.3 section 3.3):
        its key must be encrypted for us, and the carrying message must authenticate the creator, by the
        bootstrap credential and an endorsing X.509 signature."""
        origin = message.signature_key
        if origin is None or origin.kind != "encrypted-key":
            raise InvalidSecurity("a propagated context must come under the bootstrap binding")
        creators = [o.certificate for _, o in message.endorsing if o.certificate is not None]
        if not creators:
            raise InvalidSecurity("the creator of a propagated context must endorse the message with X.509")
        claims = self.credentials.authenticate(message) + tuple(
            Claim("x509", cert.subject.rfc4514_string(), "context-creator") for cert in creators
        )
        version = by_trust_namespace(etree.QName(element).namespace) or self.settings.version
        rstr = RequestSecurityTokenResponse.from_element(element)
        sct, proof = rstr.requested_security_token, rstr.requested_proof_token
        if sct is None or not isinstance(proof, EncryptedKey):
            raise InvalidRequest("a propagated context carries its SCT and its key encrypted for the recipient")
        key = proof.decrypt(self.credentials.private_key_for(proof.key_info))
        now = self.clock()
        lifetime = rstr.lifetime
        # The creator proposes a lifetime; the service's own bound wins (and with it key renewal).
        limit = now + self.settings.context_lifetime
        expires = min(lifetime.expires, limit) if lifetime and lifetime.expires else limit
        if expires <= now:
            raise InvalidRequest("the propagated context has expired")
        context = SecurityContext(sct.identifier, key, now, expires, sct.version, sct.instance, claims, (), sct)
        try:
            self.store.add(context, now)
        except KeyError:
            raise InvalidRequest("a context with this Identifier exists already") from None
        if self.on_new_key is not None:
            self.on_new_key(context)
        ack = RequestSecurityTokenResponse(
            token_type=version.sct_token_type,
            context=rstr.context,
            requested_unattached_reference=strs.external_sct(context.identifier, version, context.instance),
        )
        protection, signer = self.credentials.response_security(message)
        reply = self._reply(message, version, RequestType.ISSUE, ack, protection, _Incoming(), signer)
        return TokenReply(RequestType.ISSUE, context, reply)

    def _validate(self, message: VerifiedMessage, rst: RequestSecurityToken, incoming: _Incoming) -> TokenReply:
        version = self._version_of(rst, message)
        identifier = _target_identifier(rst.validate_target)
        now = self.clock()
        context = self.store.get(identifier, now) if identifier else None
        valid = context is not None and not context.is_expired(now)
        status = Status(valid, "context is live" if valid else "context is unknown, expired or cancelled")
        rstr = RequestSecurityTokenResponse(
            token_type=version.trust_uri("RSTR/Status"), context=rst.context, status=status
        )
        protection: ProtectionToken | None
        signer = None
        if message.signature_key is None and incoming.over_tls:
            protection = None
        elif message.signature_key is not None and message.signature_key.kind in ("encrypted-key", "x509"):
            protection, signer = self.credentials.response_security(message)
        else:
            assert message.context is not None
            live = self.store.get(message.context.identifier, now)
            if live is None:
                raise BadContextToken("unknown or cancelled context")
            protection = self._under(live, message)
        reply = self._reply(message, version, RequestType.VALIDATE, rstr, protection, incoming, signer)
        return TokenReply(RequestType.VALIDATE, context, reply, valid)

    # -- application replies ----------------------------------------------------------------------------------
    def respond(
        self, request: ApplicationRequest, body: Element | bytes | list[Element], action: str | None = None
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
            protection, signer = self.credentials.response_security(request.message)
            return protect(
                data,
                protection,
                self.settings.policy,
                version=_derivation_version(request.message) or self.settings.version,
                now=self.clock(),
                signature_confirmations=(request.message.signature_value,),
                signer=signer,
            ).data
        token = self._under(request.context, request.message)
        policy = TRANSPORT_POLICY if request.over_tls else self.settings.policy
        return protect(data, token, policy, version=request.context.version, now=self.clock()).data

    # -- helpers ------------------------------------------------------------------------------------------------
    def _version_of(self, rst: RequestSecurityToken, message: VerifiedMessage) -> SCVersion:
        payload = message.payload()
        version = by_trust_namespace(etree.QName(payload[0]).namespace) if payload else None
        return version or _sct_versions(rst.token_type) or self.settings.version

    def _check_target(self, target: object, context: SecurityContext) -> None:
        """Renew and Cancel name the context they act on; it must be the one that signed (proof of possession)."""
        identifier = _target_identifier(target)
        if identifier != context.identifier:
            raise BadContextToken("the request's target is not the context that signed it")

    def _under(self, context: SecurityContext, message: VerifiedMessage) -> ContextProtection:
        """Answer under the key instance the request used, referencing the SCT by Identifier (as WCF does)."""
        instance = message.context.instance if message.context else context.instance
        key = context.key_for(instance, self.clock())
        if key is None:
            raise BadContextToken("the request's key instance is no longer valid")
        sct = SecurityContextToken(context.identifier, instance, None, context.version)
        return ContextProtection(sct, key, "external")

    def _rstr(
        self,
        version: SCVersion,
        rst: RequestSecurityToken,
        context: SecurityContext,
        proof: object,
        server_entropy: bytes | None,
        key_bits: int,
    ) -> RequestSecurityTokenResponse:
        sct = context.sct()
        return RequestSecurityTokenResponse(
            token_type=version.sct_token_type,
            context=rst.context,
            requested_security_token=sct,
            requested_attached_reference=strs.local(sct.wsu_id or "", None),
            requested_unattached_reference=strs.external_sct(context.identifier, version, context.instance),
            requested_proof_token=proof,  # type: ignore[arg-type]
            entropy=server_entropy,
            lifetime=Lifetime(context.created, context.expires),
            key_size=key_bits,
        )

    def _reply(
        self,
        message: VerifiedMessage,
        version: SCVersion,
        operation: RequestType,
        rstr: RequestSecurityTokenResponse,
        protection: ProtectionToken | None,
        incoming: _Incoming,
        signer: AsymmetricSigner | None = None,
    ) -> Reply:
        body = response_body(version, operation, [rstr])
        request = actions.operation_for_action(action_of(message.header) or "")
        binding = request.binding if request is not None else actions.Binding.SCT
        if operation is RequestType.VALIDATE:
            binding = actions.Binding.TRUST
        # The generic WS-Trust binding has final response actions in 1.3 (RSTRC/IssueFinal ...).
        action = actions.response_action(version, operation, binding, final=binding is actions.Binding.TRUST)
        data = envelope(
            body, Addressing(action, relates_to=message_id_of(message.header), reply_to_anonymous=False), message.soap
        )
        if protection is None:  # a TLS-protected bootstrap request: TLS protects the answer too
            return Reply(add_transport_header(data, now=self.clock()), message.soap)
        policy = TRANSPORT_POLICY if incoming.over_tls else self.settings.policy
        confirmations = () if incoming.over_tls else (message.signature_value,)
        protected = protect(
            data,
            protection,
            policy,
            version=version,
            now=self.clock(),
            signature_confirmations=confirmations,
            signer=signer,
        )
        return Reply(protected.data, message.soap)


def _derivation_version(message: VerifiedMessage) -> SCVersion | None:
    """The WS-SC version of the request's derived keys (a bootstrap reply derives its keys the same way;
    Mono's WCF, for one, reads only Feb 2005 derived keys)."""
    uri = message.algorithms.get("derivation")
    return next((v for v in VERSIONS if v.p_sha1 == uri), None)


def _version_hint(data: bytes) -> SCVersion | None:
    """The protocol version a (possibly unverifiable) request used, from the namespaces it mentions."""
    for version in VERSIONS:
        if version.sc.encode() in data or version.trust.encode() in data:
            return version
    return None


def _target_identifier(target: object) -> str | None:
    if isinstance(target, SecurityContextToken):
        return target.identifier
    if isinstance(target, SecurityTokenReference) and isinstance(target.target, Reference):
        return None if target.target.is_local else target.target.uri
    return None

"""The security token service (WS-Trust 1.3 section 3; WS-SC 1.3 sections 3-6, WS-Trust 1.3 sections 4-8):
Issue, Renew, Amend, Cancel and Validate of security context tokens, and taking on a context propagated by its
creator (WS-SC 1.3 section 3).

:class:`TokenService` answers RST messages once the request has been verified and its caller authenticated.
It holds what issuing needs and nothing more: the service credentials (to protect bootstrap replies and to
turn endorsing certificates into claims), the context store, the :class:`ServiceSettings`, a clock and the
``on_new_key`` hook.  :class:`~wssc.conversation.service.SecureConversationService` owns one and delegates
every token request to it; receiving, verifying and routing messages, and answering application messages,
stay there.  Sans I/O, like the rest of this layer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Final

from lxml import etree

from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.context import Claim, SecurityContext
from wssc.conversation.events import Incoming, Reply, TokenReply
from wssc.conversation.settings import ServiceSettings
from wssc.conversation.stateless import is_stateless, with_cookie
from wssc.conversation.store import ContextStore, StaleContext, StoreFull
from wssc.conversation.token_requests import (
    holds,
    issued_rstr,
    require_current_key,
    sct_version_of,
    target_identifier,
)
from wssc.errors import (
    BadContextToken,
    InvalidRequest,
    InvalidSecurity,
    RequestFailed,
    UnableToRenew,
    UnsupportedContextToken,
)
from wssc.primitives.memo import remembered
from wssc.primitives.xml import Element
from wssc.security.addressing import Addressing, action_of, envelope, message_id_of
from wssc.security.keys import ContextProtection, ProtectionToken
from wssc.security.policy import TRANSPORT_POLICY
from wssc.security.protect import AsymmetricSigner, add_transport_header, protect
from wssc.security.result import VerifiedMessage
from wssc.tokens import reference as strs
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.sct import SecurityContextToken
from wssc.trust import actions
from wssc.trust.elements import RequestType, Status
from wssc.trust.entropy import EntropyMode, issue_key
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse, response_body
from wssc.versions import SCVersion, by_trust_namespace

#: answer protection tokens remembered (TokenService.under): more than the contexts answered at once
_ANSWER_TOKENS: Final = 256


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TokenService:
    """Issue, Renew, Amend, Cancel, Validate and propagation, for a request already verified (its signature,
    Timestamp and replay checked) whose caller the bootstrap binding authenticated.

    ``store`` is where issued contexts live (the service passes its request-scoped store, which also sees
    the contexts stateless cookies carried); ``on_new_key`` is called with every context key created (issue,
    renew, propagation): the key log hooks in here.
    """

    def __init__(
        self,
        credentials: ServiceCredentials,
        store: ContextStore,
        settings: ServiceSettings | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        on_new_key: Callable[[SecurityContext], None] | None = None,
    ) -> None:
        self.credentials = credentials
        self.store = store
        self.settings = settings or ServiceSettings()
        self.clock = clock
        self.on_new_key = on_new_key
        #: the protection tokens answers were made under, by (Identifier, Instance, version, key): one per key
        #: instance rather than two objects per answer (both are immutable)
        self._answer_tokens: dict[tuple[str, str | None, SCVersion, bytes], ContextProtection] = {}

    def issue(
        self,
        message: VerifiedMessage,
        rst: RequestSecurityToken,
        claims: tuple[Claim, ...],
        incoming: Incoming,
        *,
        under: SecurityContext | None = None,
    ) -> TokenReply:
        """Issue (WS-SC 1.3 section 3, WS-Trust 1.3 section 4): a new context for the authenticated ``claims``,
        its key from the entropy mode the settings name (WS-Trust 1.3 section 4.4.3).  ``under``: the
        negotiated context whose key protected the request (WCF ``establishSecurityContext=true`` over SPNEGO or
        TLSNEGO), which then protects the answer too; else the bootstrap binding's key does."""
        version = self._version_of(rst, message)
        if sct_version_of(rst.token_type) is None:
            raise InvalidRequest(f"this service issues security context tokens, not {rst.token_type!r}")
        try:
            issued = issue_key(rst, self.settings.entropy_mode, self.settings.key_size)
        except InvalidRequest as error:
            if rst.entropy is None and self.settings.entropy_mode is not EntropyMode.SERVER:
                raise  # the request lacks what the exchange needs: wst:InvalidRequest
            # The key size or computed-key algorithm asked for the SCT is not supported (WS-SC 1.3 s9).
            raise UnsupportedContextToken(error.detail) from None
        now = self.clock()
        context = self._stateful_or_not(
            SecurityContext.new(issued.key, now, lifetime=self._lifetime(rst, now), version=version, claims=claims)
        )
        self._add(context, now)
        if self.on_new_key is not None:
            self.on_new_key(context)
        rstr = issued_rstr(version, rst, context, issued.proof_token, issued.server_entropy, len(issued.key) * 8)
        if incoming.over_tls and message.signature_key is None:
            reply = self._reply(message, version, RequestType.ISSUE, rstr, None, incoming)
        elif under is not None:
            reply = self._reply(message, version, RequestType.ISSUE, rstr, self.under(under, message), incoming)
        else:
            protection, signer = self.credentials.response_security(message, self.settings.policy)
            reply = self._reply(message, version, RequestType.ISSUE, rstr, protection, incoming, signer)
        return TokenReply(RequestType.ISSUE, context, reply)

    def renew(
        self, message: VerifiedMessage, rst: RequestSecurityToken, context: SecurityContext, incoming: Incoming
    ) -> TokenReply:
        """Renew (WS-SC 1.3 section 5, WS-Trust 1.3 section 5): a new key for ``context``, which signed the
        request with its current key."""
        version = self._version_of(rst, message)
        self._check_target(rst.renew_target, context, message)
        require_current_key(message, context, "a renewal")
        issued = issue_key(rst, self.settings.entropy_mode, self.settings.key_size)
        now = self.clock()
        renewed = self._stateful_or_not(
            context.renewed(issued.key, now, lifetime=self._lifetime(rst, now), rollover=self.settings.rollover)
        )
        try:
            self.store.replace(context, renewed, now)
        except StaleContext:
            raise UnableToRenew("the context changed while it was being renewed") from None
        if self.on_new_key is not None:
            self.on_new_key(renewed)
        rstr = issued_rstr(version, rst, renewed, issued.proof_token, issued.server_entropy, len(issued.key) * 8)
        reply = self._reply(message, version, RequestType.RENEW, rstr, self.under(context, message), incoming)
        return TokenReply(RequestType.RENEW, renewed, reply)

    def amend(
        self, message: VerifiedMessage, rst: RequestSecurityToken, context: SecurityContext, incoming: Incoming
    ) -> TokenReply:
        """Amend (WS-SC 1.3 section 4): the claims of the endorsing certificates join ``context``."""
        version = self._version_of(rst, message)
        require_current_key(message, context, "an amendment")
        now = self.clock()
        added = tuple(
            self.credentials.certificate_claim(origin.certificate, now, "endorsing-signature")
            for _, origin in message.endorsing
            if origin.certificate is not None
        )
        if not added:
            raise InvalidRequest("Amend needs an endorsing signature by the new credential")
        try:
            amended = self._stateful_or_not(context.amended(added))
        except ValueError as error:
            raise InvalidRequest(str(error)) from None
        try:
            self.store.replace(context, amended, now)
        except StaleContext:
            raise InvalidRequest("the context changed while it was being amended") from None
        rstr = RequestSecurityTokenResponse(
            token_type=version.sct_token_type, context=rst.context, requested_security_token=amended.sct()
        )
        reply = self._reply(message, version, RequestType.AMEND, rstr, self.under(amended, message), incoming)
        return TokenReply(RequestType.AMEND, amended, reply)

    def cancel(
        self, message: VerifiedMessage, rst: RequestSecurityToken, context: SecurityContext, incoming: Incoming
    ) -> TokenReply:
        """Cancel (WS-SC 1.3 section 6, WS-Trust 1.3 section 6): ``context`` ends; its keys are refused from now on."""
        version = self._version_of(rst, message)
        self._check_target(rst.cancel_target, context, message)
        require_current_key(message, context, "a cancellation")
        if is_stateless(context):
            raise InvalidRequest("a stateless context cannot be cancelled; it ends when it expires")
        rstr = RequestSecurityTokenResponse(context=rst.context, requested_token_cancelled=True)
        reply = self._reply(message, version, RequestType.CANCEL, rstr, self.under(context, message), incoming)
        # From here on every message and derived key of the context gets wsc:BadContextToken.  Removed only
        # as the instance the request proved (compare-and-set, as Renew and Amend): a Renew that landed
        # since keeps its new context, and this Cancel fails.
        if not self.store.remove(context.identifier, context.instance):
            raise BadContextToken("the context was cancelled or renewed meanwhile")
        return TokenReply(RequestType.CANCEL, context, reply)

    def take_on(self, message: VerifiedMessage, element: Element) -> TokenReply:
        """A context created by the sender and propagated in an unsolicited RSTR (WS-SC 1.3 section 3.3):
        its key must be encrypted for us, and the carrying message must authenticate the creator, by the
        bootstrap credential and an endorsing X.509 signature."""
        origin = message.signature_key
        if origin is None or origin.kind != "encrypted-key":
            raise InvalidSecurity("a propagated context must come under the bootstrap binding")
        creators = [o.certificate for _, o in message.endorsing if o.certificate is not None]
        if not creators:
            raise InvalidSecurity("the creator of a propagated context must endorse the message with X.509")
        now = self.clock()
        claims = self.credentials.authenticate(message, now) + tuple(
            self.credentials.certificate_claim(cert, now, "context-creator") for cert in creators
        )
        version = by_trust_namespace(etree.QName(element).namespace) or self.settings.version
        rstr = RequestSecurityTokenResponse.from_element(element)
        sct, proof = rstr.requested_security_token, rstr.requested_proof_token
        if sct is None or not isinstance(proof, EncryptedKey):
            raise InvalidRequest("a propagated context carries its SCT and its key encrypted for the recipient")
        key = proof.decrypt(self.credentials.private_key_for(proof.key_info))
        lifetime = rstr.lifetime
        # The creator proposes a lifetime; the service's own bound wins (and with it key renewal).
        limit = now + self.settings.context_lifetime
        expires = min(lifetime.expires, limit) if lifetime and lifetime.expires else limit
        if expires <= now:
            raise InvalidRequest("the propagated context has expired")
        context = SecurityContext(sct.identifier, key, now, expires, sct.version, sct.instance, claims, (), sct)
        self._add(context, now)
        if self.on_new_key is not None:
            self.on_new_key(context)
        ack = RequestSecurityTokenResponse(
            token_type=version.sct_token_type,
            context=rstr.context,
            requested_unattached_reference=strs.external_sct(context.identifier, version, context.instance),
        )
        protection, signer = self.credentials.response_security(message, self.settings.policy)
        reply = self._reply(message, version, RequestType.ISSUE, ack, protection, Incoming(), signer)
        return TokenReply(RequestType.ISSUE, context, reply)

    def validate(
        self,
        message: VerifiedMessage,
        rst: RequestSecurityToken,
        incoming: Incoming,
        caller: tuple[Claim, ...] | None = None,
    ) -> TokenReply:
        """Validate (WS-Trust 1.3 section 7) answers only a requester entitled to know: the context itself
        (``caller`` None: the request is signed with its key), or the authenticated principal who holds it
        (``caller``: the bootstrap claims).  Anyone else, anonymous clients included, learns "not valid"
        whatever the context's state, so Validate is no liveness oracle for Identifiers seen on the wire."""
        version = self._version_of(rst, message)
        identifier = target_identifier(rst.validate_target, message)
        if caller is None and (message.context is None or identifier != message.context.identifier):
            raise InvalidRequest("a context key may validate only its own context")
        now = self.clock()
        context = self.store.get(identifier, now) if identifier else None
        if caller is not None and context is not None and not holds(caller, context):
            context = None
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
            protection, signer = self.credentials.response_security(message, self.settings.policy)
        else:
            assert message.context is not None
            live = self.store.get(message.context.identifier, now)
            if live is None:
                raise BadContextToken("unknown or cancelled context")
            protection = self.under(live, message)
        reply = self._reply(message, version, RequestType.VALIDATE, rstr, protection, incoming, signer)
        return TokenReply(RequestType.VALIDATE, context, reply, valid)

    # -- helpers ------------------------------------------------------------------------------------------------
    def _stateful_or_not(self, context: SecurityContext) -> SecurityContext:
        """A new or changed context; stateless services put it in the cookie of its SCT."""
        seal = self.settings.stateless
        return context if seal is None else with_cookie(context, seal)

    def _add(self, context: SecurityContext, now: datetime) -> None:
        if is_stateless(context):
            return  # it lives in its own SCT's cookie
        try:
            self.store.add(context, now)
        except KeyError:
            raise InvalidRequest("a context with this Identifier exists already") from None
        except StoreFull:
            # WS-Trust 1.3 section 11: the request was fine, the service cannot take another context now.
            raise RequestFailed("the service holds as many security contexts as it may") from None

    def _lifetime(self, rst: RequestSecurityToken, now: datetime) -> timedelta:
        """The requested Lifetime (WS-Trust 1.3 section 4.4.2) when shorter than the service's, else the service's."""
        asked = rst.lifetime.expires if rst.lifetime is not None else None
        if asked is not None and now < asked < now + self.settings.context_lifetime:
            return asked - now
        return self.settings.context_lifetime

    def _version_of(self, rst: RequestSecurityToken, message: VerifiedMessage) -> SCVersion:
        payload = message.payload()
        version = by_trust_namespace(etree.QName(payload[0]).namespace) if payload else None
        return version or sct_version_of(rst.token_type) or self.settings.version

    def _check_target(self, target: object, context: SecurityContext, message: VerifiedMessage) -> None:
        """Renew and Cancel name the context they act on; it must be the one that signed (proof of possession)."""
        identifier = target_identifier(target, message)
        if identifier != context.identifier:
            raise BadContextToken("the request's target is not the context that signed it")

    def under(
        self, context: SecurityContext, message: VerifiedMessage, now: datetime | None = None
    ) -> ContextProtection:
        """Answer under the key instance the request used, referencing the SCT by Identifier (as WCF does);
        ``now`` (the clock's, by default) is when the answer is protected."""
        instance = message.context.instance if message.context else context.instance
        key = context.key_for(instance, self.clock() if now is None else now)
        if key is None:
            raise BadContextToken("the request's key instance is no longer valid")
        return remembered(
            self._answer_tokens,
            (context.identifier, instance, context.version, key),
            lambda: ContextProtection(
                SecurityContextToken(context.identifier, instance, None, context.version), key, "external"
            ),
            _ANSWER_TOKENS,
        )

    def _reply(
        self,
        message: VerifiedMessage,
        version: SCVersion,
        operation: RequestType,
        rstr: RequestSecurityTokenResponse,
        protection: ProtectionToken | None,
        incoming: Incoming,
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

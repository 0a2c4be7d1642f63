"""The client side of WS-SecureConversation, sans I/O (WS-SC 1.3 sections 3-8).

A :class:`ClientSession` turns intentions (establish, call, renew, amend, validate, cancel) into request
bytes and turns response bytes into events, one exchange at a time.  It never touches a socket: the
httpx adapter and the CLI drive it.  Faults come back as the typed errors of :mod:`wssc.errors`;
``wsc:RenewNeeded`` and ``wsc:BadContextToken`` tell the driver to renew or to establish anew.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.conversation.bootstrap import Bootstrap, ResponseCheck
from wssc.conversation.client_events import (
    Amended,
    Cancelled,
    Established,
    Event,
    Renewed,
    Response,
    Validated,
)
from wssc.conversation.client_settings import DEFAULT_CLIENT_SETTINGS, ClientSettings
from wssc.conversation.client_tokens import amended_context, issued_context, unprotect_under
from wssc.conversation.context import SecurityContext
from wssc.conversation.stateless import is_stateless
from wssc.errors import BadContextToken, InvalidSecurity, RequestFailed
from wssc.primitives.xml import Element, parse
from wssc.security.addressing import Addressing, action_of, envelope, header_text
from wssc.security.faults import read_fault
from wssc.security.keys import ContextProtection, SCTReferenceStyle
from wssc.security.policy import Requirements
from wssc.security.protect import EndorsingToken, protect
from wssc.security.result import VerifiedMessage
from wssc.tokens import reference as strs
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.x509 import X509Token
from wssc.trust import actions
from wssc.trust.elements import Lifetime, RequestType
from wssc.trust.entropy import proof_key
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse, parse_response

__all__ = [
    "Amended",
    "Cancelled",
    "ClientSession",
    "ClientSettings",
    "Established",
    "Event",
    "Renewed",
    "Response",
    "Validated",
]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class _Pending:
    operation: RequestType | None  # None: an application call
    message_id: str
    rst: RequestSecurityToken | None = None
    bootstrap: ResponseCheck | None = None
    signature_value: bytes | None = None
    #: a context we created and propagated: it becomes ours once the service acknowledges it
    created: SecurityContext | None = None


class ClientSession:
    """One security context with one service, from establishment to cancellation."""

    def __init__(
        self,
        bootstrap: Bootstrap,
        address: str,
        settings: ClientSettings = DEFAULT_CLIENT_SETTINGS,
        *,
        clock: Callable[[], datetime] = _utcnow,
        on_new_key: Callable[[SecurityContext], None] | None = None,
        on_plaintext: Callable[[str, bytes], None] | None = None,
        **options: Any,
    ) -> None:
        """``settings`` configure the conversation; the bootstrap binding (credentials), the ``clock``, ``on_new_key``
        (called with every context key the client learns: the key log) and ``on_plaintext`` (with ``"request"`` and
        each envelope before protection, ``"response"`` and each one verified: the trace) are collaborators.
        ``options``: the fields of :class:`ClientSettings` as keywords, deprecated (one release) for ``settings``."""
        if options:
            warnings.warn(
                "ClientSession keyword options are deprecated: pass settings=ClientSettings(...)",
                DeprecationWarning,
                stacklevel=2,
            )
            settings = replace(settings, **options)
        self.settings = settings
        self.bootstrap = bootstrap
        self.address = address
        self.clock = clock
        self.on_new_key = on_new_key
        self.on_plaintext = on_plaintext
        self.context: SecurityContext | None = None
        #: the WS-Addressing action of the last request, for transports that repeat it (SOAPAction)
        self.last_action = ""
        #: "issuer" or "service": where the last request must go
        self.last_target = "service"
        self._pending: _Pending | None = None

    # -- state ----------------------------------------------------------------------------------------
    @property
    def established(self) -> bool:
        return self.context is not None

    @property
    def stateless(self) -> bool:
        """The context is a cookie-mode one (its SCT carries a ``dnse:Cookie``): it is not cancelled, it expires."""
        return self.context is not None and is_stateless(self.context)

    def needs_renewal(self) -> bool:
        """True once the client renewal interval (WCF: 10 hours) has passed or the key is about to expire."""
        if self.context is None:
            return False
        now, interval = self.clock(), self.settings.renewal_interval
        return now >= self.context.created + interval or now >= self.context.expires - timedelta(minutes=1)

    def _start(self, pending: _Pending) -> None:
        if self._pending is not None:
            raise RuntimeError("one exchange at a time: receive the previous response first")
        self._pending = pending

    def abandon(self) -> None:
        """Forget the request in flight: its response will never come (the transport failed or timed out), and
        the next exchange must not be refused for it.  The service may still have carried it out."""
        self._pending = None

    def _require_context(self) -> SecurityContext:
        if self.context is None:
            raise RuntimeError("no security context: establish one first")
        return self.context

    def _addressing(self, action: str, *, token_operation: bool = False) -> Addressing:
        self.last_action = action
        to_issuer = token_operation and self.settings.issuer_address is not None
        self.last_target = "issuer" if to_issuer else "service"
        to = self.settings.issuer_address if to_issuer else self.address
        return Addressing(action, to=to, message_id="urn:uuid:" + str(uuid.uuid4()))

    # -- requests -------------------------------------------------------------------------------------
    def establish(self) -> bytes:
        """The RST/SCT request (WS-SC 1.3 section 3.2), protected by the bootstrap binding; AppliesTo names
        the service the context is for (what a separate STS needs to know)."""
        rst = self.settings.token_request(RequestType.ISSUE, self.clock, applies_to=self.address)
        return self._bootstrap_request(RequestType.ISSUE, rst)

    def validate(self, *, under_bootstrap: bool | None = None) -> bytes:
        """RST/Validate for our context (WS-Trust 1.3 section 7): signed with the context key while it is
        live by our clock (a service answers a context about itself), else protected by the bootstrap
        binding (a service answers an authenticated principal about the contexts issued to it, and an
        anonymous client about none).  ``under_bootstrap`` forces one way or the other."""
        context = self._require_context()
        rst = RequestSecurityToken(
            request_type=RequestType.VALIDATE,
            token_type=self.settings.version.trust_uri("RSTR/Status"),
            context="uuid-" + str(uuid.uuid4()),
            validate_target=strs.external_sct(context.identifier, self.settings.version),
        )
        if under_bootstrap if under_bootstrap is not None else context.is_expired(self.clock()):
            return self._bootstrap_request(RequestType.VALIDATE, rst)
        return self._context_request(RequestType.VALIDATE, rst)

    def _bootstrap_request(self, operation: RequestType, rst: RequestSecurityToken) -> bytes:
        action = actions.request_action(self.settings.version, operation, self.settings.binding(operation))
        addressing = self._addressing(action, token_operation=True)
        data = self._plain(envelope(rst.to_element(self.settings.version), addressing, self.settings.soap))
        protected, pending = self.bootstrap.protect(data, self.settings.version, self.clock())
        assert addressing.message_id is not None
        self._start(_Pending(operation, addressing.message_id, rst, bootstrap=pending))
        return protected

    def request(self, body: Element | bytes | list[Element], action: str, headers: Sequence[Element] = ()) -> bytes:
        """An application message protected under the context (or the bootstrap binding, without one).

        ``headers`` are application SOAP headers: carried after the WS-Addressing ones and signed."""
        addressing, soap = self._addressing(action), self.settings.soap
        if not self.settings.establish_security_context:
            if headers:
                raise ValueError("application headers need a security context (establish_security_context)")
            data, pending = self.bootstrap.protect(
                self._plain(envelope(body, addressing, soap)), self.settings.version, self.clock()
            )
            assert addressing.message_id is not None
            self._start(_Pending(None, addressing.message_id, bootstrap=pending))
            return data
        context = self._require_context()
        signed = tuple(h.tag for h in headers if isinstance(h.tag, str))
        data = self._plain(envelope(body, addressing, soap, headers=headers))
        protected = self._protect_under(context, data, signed_headers=signed)
        assert addressing.message_id is not None
        self._start(_Pending(None, addressing.message_id, signature_value=protected[1]))
        return protected[0]

    def renew(self) -> bytes:
        """RST/SCT/Renew (WS-SC 1.3 section 6), signed with the current key as proof of possession."""
        context = self._require_context()
        rst = self.settings.token_request(
            RequestType.RENEW,
            self.clock,
            renew_target=strs.external_sct(context.identifier, self.settings.version, context.instance),
        )
        return self._context_request(RequestType.RENEW, rst)

    def cancel(self) -> bytes:
        """RST/SCT/Cancel (WS-SC 1.3 section 8), signed with the context key."""
        context = self._require_context()
        rst = RequestSecurityToken(
            request_type=RequestType.CANCEL,
            context="uuid-" + str(uuid.uuid4()),
            cancel_target=strs.external_sct(context.identifier, self.settings.version, context.instance),
        )
        return self._context_request(RequestType.CANCEL, rst)

    def amend(self, certificate: x509.Certificate, private_key: rsa.RSAPrivateKey) -> bytes:
        """RST/SCT/Amend (WS-SC 1.3 section 5): the certificate's key endorses the context-key signature."""
        endorsing = self._x509_endorsement(certificate, private_key)
        token_type, context = self.settings.version.sct_token_type, "uuid-" + str(uuid.uuid4())
        rst = RequestSecurityToken(request_type=RequestType.AMEND, token_type=token_type, context=context)
        return self._context_request(RequestType.AMEND, rst, (endorsing,))

    def propagate(
        self,
        certificate: x509.Certificate,
        private_key: rsa.RSAPrivateKey,
        *,
        lifetime: timedelta = timedelta(hours=10),
    ) -> bytes:
        """Create a context here and propagate it to the service in an unsolicited RSTR (WS-SC 1.3
        section 3.3): the key travels encrypted to the service certificate, the carrying message is
        protected by the bootstrap binding and endorsed by ``certificate`` to authenticate us as creator."""
        now = self.clock()
        key = os.urandom(self.settings.key_size // 8)
        context = SecurityContext.new(key, now, lifetime=lifetime, version=self.settings.version)
        service_cert = self.bootstrap.service_certificate
        if service_cert is None:
            raise RuntimeError("propagating a context needs the service certificate")
        proof, _ = EncryptedKey.create(service_cert, X509Token(service_cert).reference("thumbprint"), secret=key)
        sct = context.sct()
        rstr = RequestSecurityTokenResponse(
            token_type=self.settings.version.sct_token_type,
            context="uuid-" + str(uuid.uuid4()),
            requested_security_token=sct,
            requested_attached_reference=strs.local(sct.wsu_id or "", None),
            requested_unattached_reference=strs.external_sct(context.identifier, self.settings.version),
            requested_proof_token=proof,
            lifetime=Lifetime(context.created, context.expires),
        )
        action = actions.response_action(self.settings.version, RequestType.ISSUE)
        addressing = self._addressing(action, token_operation=True)
        data = self._plain(envelope(rstr.to_element(self.settings.version), addressing, self.settings.soap))
        protected, pending = self.bootstrap.protect(
            data, self.settings.version, now, endorsing=(self._x509_endorsement(certificate, private_key),)
        )
        assert addressing.message_id is not None
        self._start(_Pending(RequestType.ISSUE, addressing.message_id, None, bootstrap=pending, created=context))
        return protected

    def _plain(self, data: bytes) -> bytes:
        if self.on_plaintext is not None:
            self.on_plaintext("request", data)
        return data

    def _x509_endorsement(self, certificate: x509.Certificate, private_key: rsa.RSAPrivateKey) -> EndorsingToken:
        return EndorsingToken.x509(certificate, private_key, self.settings.message_policy.suite.asymmetric_signature)

    def _context_request(
        self, operation: RequestType, rst: RequestSecurityToken, endorsing: tuple[EndorsingToken, ...] = ()
    ) -> bytes:
        context = self._require_context()
        action = actions.request_action(self.settings.version, operation, self.settings.binding(operation))
        addressing = self._addressing(action, token_operation=True)
        data = self._plain(envelope(rst.to_element(self.settings.version), addressing, self.settings.soap))
        data, signature_value = self._protect_under(context, data, endorsing)
        assert addressing.message_id is not None
        self._start(_Pending(operation, addressing.message_id, rst, signature_value=signature_value))
        return data

    def _protect_under(
        self,
        context: SecurityContext,
        data: bytes,
        endorsing: tuple[EndorsingToken, ...] = (),
        signed_headers: tuple[str, ...] = (),
    ) -> tuple[bytes, bytes | None]:
        sct = context.sct()
        style: SCTReferenceStyle = "local" if sct.wsu_id else "external"
        policy = self.settings.message_policy
        if signed_headers:
            policy = replace(policy, signed_headers=policy.signed_headers + signed_headers)
        protected = protect(
            data,
            ContextProtection(sct, context.key, style),
            policy,
            version=self.settings.version,
            now=self.clock(),
            endorsing=endorsing,
        )
        return protected.data, protected.signature_value

    # -- responses ------------------------------------------------------------------------------------
    def receive(self, data: bytes) -> Event:
        """Process the response to the pending request; raises the fault's error, or a verification error."""
        pending = self._pending
        if pending is None:
            raise RuntimeError("no request is waiting for a response")
        self._pending = None
        root = parse(data)
        fault = read_fault(root)
        if fault is not None:
            if (
                pending.operation is RequestType.VALIDATE
                and pending.bootstrap is None
                and fault.error is BadContextToken
            ):
                # Asked under the context key: a service that no longer knows the context can only say so.
                return Validated(False, fault.reason)
            raise fault.to_error(RequestFailed)
        requirements = self.settings.response_requirements()
        if pending.bootstrap is not None:
            message = pending.bootstrap.unprotect(data, requirements, self.clock())
        else:
            message = self._unprotect_under(data, requirements)
        if self.on_plaintext is not None:
            self.on_plaintext("response", message.to_bytes())
        if header_text(message.header, "RelatesTo") != pending.message_id:
            raise InvalidSecurity("the response does not relate to our request")
        if pending.operation is None:
            return Response(message)
        return self._token_response(pending, message)

    def _unprotect_under(self, data: bytes, requirements: Requirements) -> VerifiedMessage:
        return unprotect_under(self._require_context(), data, requirements, self.clock())

    def _token_response(self, pending: _Pending, message: VerifiedMessage) -> Event:
        if pending.created is not None:
            self.context = pending.created
            if self.on_new_key is not None:
                self.on_new_key(self.context)
            return Established(self.context)
        assert pending.rst is not None and pending.operation is not None
        action = action_of(message.header)
        accepted = actions.accepted_response_actions(
            self.settings.version, pending.operation, self.settings.binding(pending.operation)
        )
        if action is not None and action not in accepted:
            raise InvalidSecurity(f"unexpected response action {action!r}")
        payload = message.payload()
        if len(payload) != 1:
            raise InvalidSecurity("a token response has exactly one body element")
        responses = parse_response(payload[0])
        if not responses:
            raise RequestFailed("empty token response")
        rstr = responses[0]
        operation = pending.operation
        if operation in (RequestType.ISSUE, RequestType.RENEW):
            old = None if operation is RequestType.ISSUE else self._require_context()
            key = proof_key(pending.rst, rstr, self.settings.key_size, expected_mode=self.settings.entropy_mode)
            self.context = issued_context(rstr, key, old, self.clock())
            if self.on_new_key is not None:
                self.on_new_key(self.context)
            return Established(self.context) if old is None else Renewed(self.context)
        if operation is RequestType.AMEND:
            self.context = amended_context(rstr, self._require_context())
            return Amended(self.context)
        if operation is RequestType.CANCEL:
            if not rstr.requested_token_cancelled:
                raise RequestFailed("the cancel response does not say RequestedTokenCancelled")
            identifier = self._require_context().identifier
            self.context = None
            return Cancelled(identifier)
        status = rstr.status
        if status is None:
            raise RequestFailed("the validate response has no Status")
        return Validated(status.valid, status.reason)

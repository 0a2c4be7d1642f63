"""The service's side of negotiations, sans I/O: WCF's ``NegotiationTokenAuthenticator`` with
``SspiNegotiationTokenAuthenticator`` (NEGOTIATION.md sections 1.4, 3, 4 and 7).

:class:`NegotiationAcceptor` holds every pending negotiation keyed by its ``wst:Context`` and answers one leg at a
time: :meth:`NegotiationAcceptor.receive` takes the action and body element of an unsecured leg and returns an
:class:`AcceptorReply` (the next RSTR, or the final RSTRC with the issued context).  Rules, after WCF:

- an RST opens a negotiation; an RST for a Context already pending, or an RSTR for none (or for one that timed
  out, finished or failed), is refused (``NegotiationStateAlreadyPresent``, ``CannotFindNegotiationState``);
- at most :data:`MAX_PENDING_NEGOTIATIONS` are pending, each for at most :data:`NEGOTIATION_TIMEOUT`; beyond
  that a new RST gets :class:`~wssc.errors.ServerTooBusy` and nothing pending is touched;
- RST checks (section 1.4 step 3): RequestType absent or Issue, a BinaryExchange of the configured mechanism
  (a Feb 2005 service takes both TLSNEGO spellings and echoes the client's, a 1.3 service only the plain one,
  section 9), KeySize a multiple of 8 the suite allows, AppliesTo remembered and echoed;
- any failure ends that negotiation: its state is dropped, the other negotiations are untouched;
- the final RSTRC is written in WCF's order with an SCT whose Identifier is ``urn:uuid:...`` and whose lifetime
  is :data:`NEGOTIATED_CONTEXT_LIFETIME`, the proof key wrapped by the mechanism, and the Authenticator.

A failure the mechanism reports (a wrong password, an unknown principal, an untrusted certificate) is
:class:`~wssc.errors.TrustFailedAuthentication`; anything else malformed is :class:`~wssc.errors.InvalidRequest`;
the conversation layer writes both in the Feb 2005 trust namespace as WCF does (section 7).  The legs are
unauthenticated until the mechanism completes, so nothing here costs more than the mechanism's own step.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Final

from lxml import etree

from wssc.errors import FailedAuthentication, InvalidRequest, ServerTooBusy, TrustFailedAuthentication, WsscError
from wssc.primitives.xml import Element
from wssc.tokens import reference as strs
from wssc.tokens.sct import SecurityContextToken, new_identifier
from wssc.trust.elements import BinaryExchange, Lifetime, RequestType
from wssc.trust.negotiation.authenticator import ExchangeHash
from wssc.trust.negotiation.legs import DEFAULT_KEY_SIZE, Leg, Negotiated, final_action, leg_action, wrapped_proof
from wssc.trust.negotiation.mechanism import TLSNEGO, WRAP_ALGORITHMS, NegotiationMechanism, value_type
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse, RequestSecurityTokenResponseCollection
from wssc.versions import SC_2005_02, SCVersion, by_trust_namespace

#: WCF ``LocalServiceSecuritySettings.NegotiationTimeout``: a negotiation's state lives one minute.
NEGOTIATION_TIMEOUT: Final = timedelta(minutes=1)
#: WCF ``LocalServiceSecuritySettings.MaxStatefulNegotiations``: 128 pending negotiations at most.
MAX_PENDING_NEGOTIATIONS: Final = 128
#: WCF ``LocalServiceSecuritySettings.IssuedCookieLifetime``: a negotiated SCT lives 10 hours (section 4).
NEGOTIATED_CONTEXT_LIFETIME: Final = timedelta(hours=10)
#: Legs one negotiation may send the service (WCF has no limit, section 1.3 step 4): see
#: :data:`wssc.trust.negotiation.initiator.MAX_REPLIES`.
MAX_CLIENT_LEGS: Final = 8
#: Contexts of started negotiations remembered for :data:`NEGOTIATION_TIMEOUT`, so that an RST replaying one
#: (finished, failed or pending) is refused; a bound of its own, four times the pending ones, oldest forgotten first.
MAX_CONTEXTS_REMEMBERED: Final = 4 * MAX_PENDING_NEGOTIATIONS


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _State:
    """One pending negotiation (``SspiNegotiationTokenAuthenticatorState``)."""

    mechanism: NegotiationMechanism
    version: SCVersion
    value_type: str
    key_size: int
    applies_to: str | None
    expires: datetime
    hash: ExchangeHash = field(default_factory=ExchangeHash)
    legs: int = 1


@dataclass(frozen=True)
class AcceptorReply:
    """The service's answer to one leg: the leg to send back and, on the final leg, the negotiated context."""

    leg: Leg
    version: SCVersion
    negotiated: Negotiated | None = None


class NegotiationAcceptor:
    """Every negotiation a service has pending, for one mechanism (module docstring).

    ``new_mechanism`` makes the acceptor side of a fresh negotiation (:class:`~wssc.trust.negotiation.tls.
    TlsAcceptor`, :class:`~wssc.trust.negotiation.spnego.SpnegoAcceptor`).  Thread-safe: a leg takes its
    negotiation out of the table while it runs, so a concurrent leg of the same Context finds none.
    """

    def __init__(
        self,
        new_mechanism: Callable[[], NegotiationMechanism],
        mechanism: str,
        *,
        clock: Callable[[], datetime] = _utcnow,
        timeout: timedelta = NEGOTIATION_TIMEOUT,
        max_pending: int = MAX_PENDING_NEGOTIATIONS,
        lifetime: timedelta = NEGOTIATED_CONTEXT_LIFETIME,
        default_key_size: int = DEFAULT_KEY_SIZE,
        allowed_key_sizes: frozenset[int] = frozenset({DEFAULT_KEY_SIZE}),
    ) -> None:
        if mechanism not in WRAP_ALGORITHMS:
            raise ValueError(f"unknown negotiation mechanism {mechanism!r}")
        self.new_mechanism = new_mechanism
        self.mechanism = mechanism
        self.clock = clock
        self.timeout = timeout
        self.max_pending = max_pending
        self.lifetime = lifetime
        self.default_key_size = default_key_size
        self.allowed_key_sizes = allowed_key_sizes
        self._pending: OrderedDict[str, _State] = OrderedDict()
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """How many negotiations are pending (expired ones not yet purged included)."""
        with self._lock:
            return len(self._pending)

    def receive(self, action: str, body: Element) -> AcceptorReply:
        """Answer one leg: ``action`` is its WS-Addressing action, ``body`` its body element.

        Raises :class:`~wssc.errors.WsscError` (the negotiation, if any, is over), never anything else from
        the mechanism."""
        version = by_trust_namespace(etree.QName(body).namespace)
        if version is None:
            raise InvalidRequest("a negotiation leg must be a WS-Trust RST or RSTR")
        if action == version.action("RST/Issue") and body.tag == version.trust_qname("RequestSecurityToken"):
            return self._first(version, body)
        if action == leg_action(version) and body.tag == version.trust_qname("RequestSecurityTokenResponse"):
            return self._next(version, body)
        raise InvalidRequest("a negotiation leg is an RST/Issue RST or an RSTR/Issue RSTR")

    # -- legs -----------------------------------------------------------------------------------------------
    def _first(self, version: SCVersion, body: Element) -> AcceptorReply:
        rst = RequestSecurityToken.from_element(body)
        if rst.request_type is not RequestType.ISSUE:
            raise InvalidRequest("a negotiation's RST must request Issue")
        context = _context(rst.context)
        exchange = rst.binary_exchange
        if exchange is None:
            raise InvalidRequest("a negotiation's RST needs a BinaryExchange")
        self._check_value_type(exchange, version)
        key_size = rst.key_size or self.default_key_size
        if key_size % 8 or key_size not in self.allowed_key_sizes:
            raise InvalidRequest(f"KeySize {key_size} is not supported by the algorithm suite")
        now = self.clock()
        with self._lock:
            self._purge(now)
            if context in self._pending or context in self._seen:
                raise InvalidRequest("a negotiation with this Context exists or existed")
            if len(self._pending) >= self.max_pending:
                raise ServerTooBusy(f"{len(self._pending)} negotiations pending")
            # The Context is spent from here on: a concurrent or replayed RST for it is refused above.
            self._seen[context] = now + self.timeout
            while len(self._seen) > MAX_CONTEXTS_REMEMBERED:
                self._seen.popitem(last=False)
        state = _State(self.new_mechanism(), version, exchange.value_type, key_size, rst.applies_to, now + self.timeout)
        state.hash.add(body)  # the RST goes into the hash before the mechanism runs (line 197)
        return self._advance(context, state, exchange.data)

    def _next(self, version: SCVersion, body: Element) -> AcceptorReply:
        response = RequestSecurityTokenResponse.from_element(body)
        context = _context(response.context)
        now = self.clock()
        with self._lock:
            state = self._pending.pop(context, None)
        if state is None or state.expires <= now or state.version is not version:
            raise InvalidRequest("no negotiation is pending for this Context")
        exchange = response.binary_exchange
        state.legs += 1
        if exchange is None or exchange.value_type != state.value_type:
            raise InvalidRequest("a negotiation leg needs a BinaryExchange of the negotiation's ValueType")
        if state.legs > MAX_CLIENT_LEGS:
            raise InvalidRequest(f"the negotiation did not finish within {MAX_CLIENT_LEGS} legs")
        state.hash.add(body)
        return self._advance(context, state, exchange.data)

    def _advance(self, context: str, state: _State, token: bytes) -> AcceptorReply:
        try:
            out = state.mechanism.step(token)
        except FailedAuthentication as error:
            raise TrustFailedAuthentication(error.detail) from None
        except WsscError:
            raise
        except Exception:  # a mechanism's own failure: an SSPI error is FailedAuthentication in WCF (section 7)
            raise TrustFailedAuthentication("the negotiation mechanism failed") from None
        if not state.mechanism.complete:
            if out is None:
                raise TrustFailedAuthentication("the mechanism expects more but has nothing to send")
            rstr = RequestSecurityTokenResponse(context=context, binary_exchange=BinaryExchange(state.value_type, out))
            element = rstr.to_element(state.version)
            state.hash.add(element)  # our own serialisation (line 376)
            with self._lock:
                self._pending[context] = state
            return AcceptorReply(Leg(leg_action(state.version), element), state.version)
        return self._complete(context, state, out)

    def _complete(self, context: str, state: _State, out: bytes | None) -> AcceptorReply:
        """The final RSTRC (section 1.4 step 4): RSTR#1 in WCF's order, RSTR#2 with the Authenticator."""
        version = state.version
        now = self.clock()
        key = os.urandom(state.key_size // 8)
        try:
            wrapped = state.mechanism.wrap_key(key)
        except WsscError:
            raise
        except Exception:
            raise TrustFailedAuthentication("the negotiation mechanism could not wrap the key") from None
        token = SecurityContextToken(new_identifier(), None, "uuid-" + secrets.token_hex(16), version)
        lifetime = Lifetime(now, now + self.lifetime)
        exchange = None if out is None else BinaryExchange(state.value_type, out)
        first = RequestSecurityTokenResponse(
            token_type=version.sct_token_type,
            context=context,
            requested_security_token=token,
            applies_to=state.applies_to,
            requested_attached_reference=strs.local(token.wsu_id or "", None),
            requested_unattached_reference=strs.external_sct(token.identifier, version),
            requested_proof_token=wrapped_proof(WRAP_ALGORITHMS[self.mechanism], wrapped),
            lifetime=lifetime,
            key_size=state.key_size,
            binary_exchange=exchange,
        )
        collection = RequestSecurityTokenResponseCollection((first,)).to_element(version)
        first_element = collection[0]
        state.hash.add_final(first_element, version)
        second = RequestSecurityTokenResponse(context=context, authenticator=state.hash.combined_hash(key))
        second.to_element(version, collection)
        negotiated = Negotiated(token, key, lifetime, version, state.mechanism, context)
        return AcceptorReply(Leg(final_action(version), collection), version, negotiated)

    # -- checks and bookkeeping ----------------------------------------------------------------------------
    def _check_value_type(self, exchange: BinaryExchange, version: SCVersion) -> None:
        """The configured mechanism's ValueType; Feb 2005 TLSNEGO in either spelling (section 9 item 4)."""
        accepted = {value_type(self.mechanism, version)}
        if self.mechanism == TLSNEGO and version is SC_2005_02:
            accepted.add(TLSNEGO)
        if exchange.value_type not in accepted:
            raise InvalidRequest(f"this service negotiates {self.mechanism}, not {exchange.value_type!r}")

    def _purge(self, now: datetime) -> None:
        for context in [c for c, s in self._pending.items() if s.expires <= now]:
            del self._pending[context]
        for context in [c for c, until in self._seen.items() if until <= now]:
            del self._seen[context]


def _context(value: str | None) -> str:
    """The wst:Context every leg must carry: the key of the negotiation's state (section 1.4 step 1)."""
    if not value or len(value) > 512:
        raise InvalidRequest("a negotiation leg needs a Context attribute")
    return value

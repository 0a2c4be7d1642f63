"""The client's side of a negotiation, sans I/O: WCF's ``SspiNegotiationTokenProvider`` (NEGOTIATION.md section 1.3).

:class:`NegotiationInitiator` turns a mechanism's tokens into legs and the service's legs back into tokens, until
the service's final leg yields a :class:`~wssc.trust.negotiation.legs.Negotiated` context::

    initiator = NegotiationInitiator(TlsInitiator(...), SC_1_3)
    leg = initiator.first_leg()                      # RST/Issue with the first BinaryExchange
    while True:
        result = initiator.receive(<body element of the reply>)
        if isinstance(result, Negotiated):
            break
        leg = result                                 # RSTR/Issue with the next BinaryExchange

Every check WCF's client makes, in its order, failing closed with a typed error that names what was wrong:
the reply's Context and exact ValueType (the Feb 2005 TLSNEGO spelling included), the mechanism's completion
(and, inside it, mutual authentication), the final RSTR read in ServerEntropy mode (SCT token type,
RequestedSecurityToken and an EncryptedKey proof wrapped by the mechanism, no Entropy), the unwrapped key's size
for the suite, and the Authenticator's CombinedHash over the exchange (section 3).  Faults in a leg are the
caller's to read (they are SOAP, not WS-Trust); a structural error is :class:`~wssc.errors.InvalidRequest`, an
authentication error :class:`~wssc.errors.FailedAuthentication`.
"""

from __future__ import annotations

import uuid
from typing import Final

from lxml import etree

from wssc.errors import FailedAuthentication, InvalidRequest
from wssc.primitives.xml import Element
from wssc.trust.elements import BinaryExchange, RequestType
from wssc.trust.negotiation.authenticator import ExchangeHash
from wssc.trust.negotiation.legs import (
    DEFAULT_KEY_SIZE,
    Leg,
    Negotiated,
    first_action,
    leg_action,
    proof_token,
)
from wssc.trust.negotiation.mechanism import WRAP_ALGORITHMS, NegotiationMechanism, value_type
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse
from wssc.versions import SCVersion

#: Replies one negotiation consumes.  WCF has no limit (section 1.3 step 4); Kerberos needs one, NTLM two, a TLS
#: handshake two or three (a TLS 1.3 HelloRetryRequest adds one): eight is far above every mechanism.
MAX_REPLIES: Final = 8


class NegotiationInitiator:
    """One negotiation from the client: the legs it sends and the checks on every reply (module docstring)."""

    def __init__(
        self,
        mechanism: NegotiationMechanism,
        version: SCVersion,
        *,
        key_size: int = DEFAULT_KEY_SIZE,
        allowed_key_sizes: frozenset[int] | None = None,
        context: str | None = None,
    ) -> None:
        """``key_size``: the RST's KeySize, the suite's default symmetric key length in bits (Basic256: 256);
        ``allowed_key_sizes``: the proof key sizes the suite accepts (default: ``key_size`` alone, as Basic256
        accepts only 256 bits); ``context``: the wst:Context (default ``uuid-<random>``, as WCF)."""
        self.mechanism = mechanism
        self.version = version
        self.key_size = key_size
        self.allowed_key_sizes = allowed_key_sizes or frozenset({key_size})
        self.context = context or "uuid-" + str(uuid.uuid4())
        self.value_type = value_type(mechanism.mechanism, version)
        self._hash = ExchangeHash()
        self._replies = 0
        self._started = False
        self._finished = False

    def first_leg(self) -> Leg:
        """The RST: Context, TokenType, RequestType, KeySize and the mechanism's first token; no AppliesTo,
        no Entropy (section 1.3 step 2)."""
        if self._started:
            raise RuntimeError("the first leg was already sent")
        self._started = True
        token = self.mechanism.step(None)
        if token is None:
            raise InvalidRequest("the negotiation mechanism produced no first token")
        rst = RequestSecurityToken(
            RequestType.ISSUE,
            token_type=self.version.sct_token_type,
            context=self.context,
            key_size=self.key_size,
            binary_exchange=BinaryExchange(self.value_type, token),
        )
        body = rst.to_element(self.version)
        self._hash.add(body)
        return Leg(first_action(self.version), body)

    def receive(self, body: Element) -> Leg | Negotiated:
        """Take the body element of the service's reply: the next leg to send, or the negotiated context."""
        if not self._started or self._finished:
            raise RuntimeError("no leg is awaiting a reply")
        self._replies += 1
        if self._replies > MAX_REPLIES:
            self._finished = True
            raise InvalidRequest(f"the negotiation did not finish within {MAX_REPLIES} legs")
        try:
            local = etree.QName(body).localname
            if body.tag == self.version.trust_qname("RequestSecurityTokenResponseCollection"):
                return self._final(body)
            if body.tag == self.version.trust_qname("RequestSecurityTokenResponse"):
                return self._intermediate(body)
            raise InvalidRequest(f"a negotiation reply must be an RSTR or RSTRC of this version, not {local}")
        except BaseException:
            self._finished = True
            raise

    # -- legs ----------------------------------------------------------------------------------------------
    def _intermediate(self, body: Element) -> Leg:
        """An RSTR: hash it as received, feed its token, answer with ours (lines 295-351)."""
        response = self._checked(body)
        self._hash.add(body)
        if response.binary_exchange is None:
            raise InvalidRequest("an intermediate negotiation leg carries no BinaryExchange")
        token = self.mechanism.step(response.binary_exchange.data)
        if token is None:
            raise InvalidRequest("the service expects another leg but the mechanism has nothing to send")
        exchange = BinaryExchange(self.value_type, token)
        reply = RequestSecurityTokenResponse(context=self.context, binary_exchange=exchange).to_element(self.version)
        self._hash.add(reply)
        return Leg(leg_action(self.version), reply)

    def _final(self, body: Element) -> Negotiated:
        """The RSTRC: the negotiation RSTR and the Authenticator RSTR of the same Context (lines 273-390)."""
        self._finished = True
        children = [c for c in body if isinstance(c.tag, str)]
        rstr_tag = self.version.trust_qname("RequestSecurityTokenResponse")
        if len(children) != 2 or any(c.tag != rstr_tag for c in children):
            raise InvalidRequest("the final negotiation leg must hold exactly two RSTRs")
        first, second = children
        response = self._checked(first)
        authenticator = RequestSecurityTokenResponse.from_element(second)
        if authenticator.context != self.context:
            raise InvalidRequest("the Authenticator RSTR names another Context")
        exchange = response.binary_exchange
        if exchange is not None and self.mechanism.step(exchange.data) is not None:
            raise InvalidRequest("the service finished but the mechanism still has a token to send")
        if not self.mechanism.complete:
            raise FailedAuthentication("the service finished a negotiation the mechanism did not complete")
        if response.token_type != self.version.sct_token_type:
            raise InvalidRequest("the negotiated token is not a security context token of this version")
        token = response.requested_security_token
        if token is None:
            raise InvalidRequest("the final negotiation RSTR carries no RequestedSecurityToken")
        key = self.mechanism.unwrap_key(proof_token(response, WRAP_ALGORITHMS[self.mechanism.mechanism]))
        if len(key) * 8 not in self.allowed_key_sizes:
            raise InvalidRequest(f"a {len(key) * 8}-bit proof key is not allowed by the algorithm suite")
        self._hash.add_final(first, self.version)
        if authenticator.authenticator is None or not self._hash.verify(key, authenticator.authenticator):
            raise FailedAuthentication("the final leg's Authenticator (CombinedHash) does not match the exchange")
        return Negotiated(token, key, response.lifetime, self.version, self.mechanism, self.context)

    def _checked(self, element: Element) -> RequestSecurityTokenResponse:
        """A negotiation RSTR of our Context whose BinaryExchange, if any, has exactly our ValueType."""
        response = RequestSecurityTokenResponse.from_element(element)
        if response.context != self.context:
            raise InvalidRequest("the negotiation reply names another Context")
        exchange = response.binary_exchange
        if exchange is not None and exchange.value_type != self.value_type:
            raise InvalidRequest(f"the reply's BinaryExchange ValueType {exchange.value_type!r} is not ours")
        return response

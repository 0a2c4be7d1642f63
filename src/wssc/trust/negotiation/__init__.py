"""Layer 4: negotiation of a security context inside WS-Trust, sans I/O.

What lives here: the third way a context is established (WS-SC 1.3 section 3, "created through
negotiation/exchanges"): RST and RSTR legs that carry a mechanism's tokens in ``wst:BinaryExchange``
(WS-Trust 1.3 section 8.3; Feb 2005 WS-Trust section 8) until the service answers with the context and
a proof token wrapped by the negotiated mechanism.  WCF's two mechanisms, SPNEGO (to be driven by
pyspnego) and TLSNEGO (to be driven by ``ssl.MemoryBIO``), sit behind one interface,
:class:`~wssc.trust.negotiation.mechanism.NegotiationMechanism`, for both the client (initiator) and the
service (acceptor) leg.  Today: that interface and the URIs of both mechanisms in both WS-Trust versions
(NEGOTIATION.md sections 1.1 and 2.1, beside SPEC-NOTES), TLSNEGO (:mod:`wssc.trust.negotiation.tls`:
:class:`TlsInitiator`, :class:`TlsAcceptor`) and SPNEGO with Kerberos and NTLM
(:mod:`wssc.trust.negotiation.spnego`: :class:`SpnegoInitiator`, :class:`SpnegoAcceptor`, :func:`target_name`);
the legs come with the rest of issue 9.

What it may import: :mod:`wssc.primitives`, :mod:`wssc.tokens`, :mod:`wssc.security` and the rest of
:mod:`wssc.trust` (RST, RSTR, BinaryExchange, entropy); never :mod:`wssc.conversation` or
:mod:`wssc.adapters`, which drive a negotiation from above.
"""

from wssc.trust.negotiation.mechanism import (
    GSS_WRAP,
    SPNEGO,
    TLS_WRAP,
    TLSNEGO,
    TLSNEGO_FEB2005_WRITTEN,
    WRAP_ALGORITHMS,
    NegotiationMechanism,
    value_type,
)
from wssc.trust.negotiation.spnego import SpnegoAcceptor, SpnegoInitiator
from wssc.trust.negotiation.spnego_names import target_name
from wssc.trust.negotiation.tls import TlsAcceptor, TlsInitiator

__all__ = [
    "GSS_WRAP",
    "SPNEGO",
    "TLSNEGO",
    "TLSNEGO_FEB2005_WRITTEN",
    "TLS_WRAP",
    "WRAP_ALGORITHMS",
    "NegotiationMechanism",
    "SpnegoAcceptor",
    "SpnegoInitiator",
    "TlsAcceptor",
    "TlsInitiator",
    "target_name",
    "value_type",
]

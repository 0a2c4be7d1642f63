"""One interface for a negotiation mechanism, and the URIs that name WCF's two mechanisms on the wire.

URIs (NEGOTIATION.md sections 1.1 and 2.1, read from WCF's reference source; SPEC-NOTES section 1), checked
against the captures in ``vectors/wcf-negotiation-captures`` and ``vectors/mono-wcf-captures``:

- the ``wst:BinaryExchange`` ValueType (WS-Trust 1.3 section 8.3) is the same Feb 2005 URI in both WS-Trust
  versions, ``TrustApr2004Dictionary`` in WCF (``SM/XD.cs:1399-1400``, ``SM/ServiceModelStringsVersion1.cs:225-226``);
  not the ``http://schemas.microsoft.com/net/2004/07/secext/WS-SPNego`` strings of ``TrustFeb2005Dictionary``,
  which negotiation never uses;
- WCF writes the Feb 2005 TLSNEGO ValueType with a leading space (``SMS/TlsnegoTokenProvider.cs:91-105``), and
  a WCF client compares ValueTypes exactly, so a Feb 2005 peer must be answered with that spelling;
- the proof token is an ``xenc:EncryptedKey`` whose EncryptionMethod names the mechanism's wrap
  (``SMS/SspiNegotiationTokenAuthenticator.cs:94``, ``SMS/WSSecurityJan2004.cs:528-541``); these two URIs have
  no ``/ws/`` segment.
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

from wssc.versions import SC_2005_02, SCVersion

#: ``wst:BinaryExchange`` ValueType of SPNEGO (RFC 4178 tokens), both WS-Trust versions.
SPNEGO: Final = "http://schemas.xmlsoap.org/ws/2005/02/trust/spnego"
#: ``wst:BinaryExchange`` ValueType of TLSNEGO (TLS handshake records), as WS-Trust 1.3 writes it and as
#: :attr:`wssc.trust.elements.BinaryExchange.mechanism` reports it in both versions.
TLSNEGO: Final = "http://schemas.xmlsoap.org/ws/2005/02/trust/tlsnego"
#: The TLSNEGO ValueType WCF writes in Feb 2005 WS-Trust, leading space included.
TLSNEGO_FEB2005_WRITTEN: Final = " " + TLSNEGO
#: EncryptionMethod of the proof key wrapped by the SPNEGO security context (SSPI EncryptMessage).
GSS_WRAP: Final = "http://schemas.xmlsoap.org/2005/02/trust/spnego#GSS_Wrap"
#: EncryptionMethod of the proof key sent as TLS application data on the TLSNEGO session.
TLS_WRAP: Final = "http://schemas.xmlsoap.org/2005/02/trust/tlsnego#TLS_Wrap"
#: The proof token's wrap, by mechanism.
WRAP_ALGORITHMS: Final = {SPNEGO: GSS_WRAP, TLSNEGO: TLS_WRAP}


def value_type(mechanism: str, version: SCVersion) -> str:
    """The ValueType WCF writes for ``mechanism`` (:data:`SPNEGO` or :data:`TLSNEGO`) in ``version``."""
    if mechanism not in WRAP_ALGORITHMS:
        raise ValueError(f"unknown negotiation mechanism {mechanism!r}")
    return TLSNEGO_FEB2005_WRITTEN if mechanism == TLSNEGO and version is SC_2005_02 else mechanism


@runtime_checkable
class NegotiationMechanism(Protocol):
    """One side of one security context being negotiated: the initiator (client) or the acceptor (service).

    The legs carry what :meth:`step` returns in ``wst:BinaryExchange`` (NEGOTIATION.md sections 1.3, 1.4):
    the initiator starts with ``step(None)``; each side feeds the peer's token to :meth:`step` until
    :attr:`complete`, and a leg with nothing to send returns None.  Once complete, the acceptor wraps the
    issued key for the proof token and the initiator unwraps it (section 2).  Failures raise
    :class:`wssc.errors.WsscError` subclasses, never an I/O error: nothing here touches the network.
    """

    @property
    def mechanism(self) -> str:
        """:data:`SPNEGO` or :data:`TLSNEGO`: the ValueType this mechanism's tokens travel under."""
        ...

    @property
    def complete(self) -> bool:
        """True once the security context is established (no further token is expected)."""
        ...

    def step(self, in_token: bytes | None) -> bytes | None:
        """Consume the peer's token (None for the initiator's first step); return the next token, if any."""
        ...

    def wrap_key(self, key: bytes) -> bytes:
        """The acceptor's proof: ``key`` wrapped by the established context (:data:`GSS_WRAP`, :data:`TLS_WRAP`)."""
        ...

    def unwrap_key(self, blob: bytes) -> bytes:
        """The initiator's inverse of :meth:`wrap_key`."""
        ...

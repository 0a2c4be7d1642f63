"""TLSNEGO: a TLS handshake carried in ``wst:BinaryExchange`` legs, sans I/O (NEGOTIATION.md sections 1.3-1.5, 2.3, 5).

:class:`TlsInitiator` is WCF's ``TlsnegoTokenProvider`` side (the client), :class:`TlsAcceptor` its
``TlsnegoTokenAuthenticator`` side (the service); both drive the standard library's ``ssl`` over two
``ssl.MemoryBIO`` objects (``SSLContext.wrap_bio``): no socket, no thread.  :meth:`step` writes the peer's records
to the incoming BIO, runs ``do_handshake()`` and returns what the outgoing BIO holds.  Leg patterns (section 1.5):
TLS 1.2 (RFC 5246 section 7.3) ends with the service's ChangeCipherSpec + Finished in the final RSTRC; TLS 1.3
(RFC 8446 section 2) ends with the client's Finished, and the final RSTRC carries no BinaryExchange.

What the two sides check, after WCF:

- the service never issues session tickets (section 1.5: ``OP_NO_TICKET``, and ``num_tickets = 0`` for TLS 1.3,
  RFC 8446 section 4.6.1), so its last flight is handshake only and TLS_Wrap is the first application record;
- the client sends no SNI unless told (``TlsSspiNegotiation`` target name is empty, section 1.5) and validates the
  service certificate after the handshake (section 5): it must exist, chain to what the caller's context trusts
  and, when a pin is given, have that SHA-256 over its DER (failing closed);
- with a client certificate required (MutualSslNegotiated, section 5), an acceptor completing without one
  refuses, as WCF does (``SecurityTokenValidationException`` -> FailedAuthentication);
- TLS_Wrap (section 2.3) is exactly one TLS application-data record (RFC 5246 section 6.2, RFC 8446 section 5),
  written once by the acceptor and demanded as such by the initiator.

A handshake failure is :class:`~wssc.errors.FailedAuthentication` (WCF maps an SSPI failure to that fault,
section 7); a token that is not whole TLS records is :class:`~wssc.errors.InvalidRequest`.  ``ssl.SSLError`` never
leaves this module, and no message carries key material or the peer's bytes.  Which proof key size the suite
allows, and the Authenticator, belong to the message layer (sections 1.3 and 3).
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from datetime import datetime, timezone
from typing import Final

from cryptography import x509

from wssc.errors import FailedAuthentication, InvalidRequest, RequestFailed, WsscError
from wssc.limits import MAX_DERIVED_KEY_LENGTH
from wssc.tokens.x509_trust import CertificateTrust
from wssc.trust.negotiation.mechanism import TLSNEGO

#: Oldest protocol either side completes with unless the caller lowers it: TLS 1.2 (RFC 8996 deprecates 1.0 and
#: 1.1; WCF's captures of 2007 and 2015 show TLS 1.0, which a caller must opt into knowingly).
MIN_TLS_VERSION: Final = ssl.TLSVersion.TLSv1_2
#: Largest TLS record on the wire: 2^14 + 2048 bytes of fragment (RFC 5246 section 6.2.3; RFC 8446 section 5.2
#: allows 2^14 + 256), plus the 5-byte header.
MAX_RECORD_BYTES: Final = 2**14 + 2048 + 5
#: Bytes one leg may carry: OpenSSL's default bound on a peer's certificate chain (``SSL_MAX_CERT_LIST_DEFAULT``,
#: 100 KiB) plus room for the rest of a flight.  WCF bounds legs only by the transport quota (section 7).
MAX_TOKEN_BYTES: Final = 128 * 1024
#: Legs one side consumes: a full handshake needs two from the client and one or two from the service, three
#: with a TLS 1.3 HelloRetryRequest (RFC 8446 section 4.1.4).  WCF has no leg limit (section 1.3 step 4).
MAX_LEGS: Final = 6
#: Longest proof key wrapped or unwrapped: WCF's key is KeySize/8 bytes (section 2.1), at most 256 bits for
#: every suite; the library's bound on any symmetric key applies.
MAX_KEY_BYTES: Final = MAX_DERIVED_KEY_LENGTH

_CHANGE_CIPHER_SPEC, _ALERT, _HANDSHAKE, _APPLICATION_DATA = 20, 21, 22, 23
_VERSIONS: Final = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def tls_records(data: bytes) -> list[tuple[int, int]]:
    """``(content type, fragment length)`` of each record in ``data`` (RFC 5246 section 6.2.1, RFC 8446 section 5.1).

    Raises :class:`InvalidRequest` unless ``data`` is a sequence of whole records of known types.
    """
    records: list[tuple[int, int]] = []
    offset = 0
    while offset < len(data):
        header = data[offset : offset + 5]
        if len(header) < 5:
            raise InvalidRequest("TLSNEGO token ends inside a TLS record header")
        content_type, major, length = header[0], header[1], int.from_bytes(header[3:5], "big")
        if content_type not in (_CHANGE_CIPHER_SPEC, _ALERT, _HANDSHAKE, _APPLICATION_DATA) or major != 3:
            raise InvalidRequest("TLSNEGO token is not a sequence of TLS records")
        if length + 5 > MAX_RECORD_BYTES:
            raise InvalidRequest("TLSNEGO token holds a TLS record longer than RFC 5246 allows")
        offset += 5 + length
        if offset > len(data):
            raise InvalidRequest("TLSNEGO token ends inside a TLS record")
        records.append((content_type, length))
    return records


class _TlsEndpoint:
    """What both sides share: the BIO pair, the handshake loop and the checks made on completion."""

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None,
        minimum_version: ssl.TLSVersion,
    ) -> None:
        self._min_version = minimum_version
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side, server_hostname=server_hostname
        )
        self._complete = False
        self._failed = False
        self._legs = 0
        self._wrapped = False
        self._peer: x509.Certificate | None = None

    @property
    def mechanism(self) -> str:
        """:data:`~wssc.trust.negotiation.mechanism.TLSNEGO`."""
        return TLSNEGO

    @property
    def complete(self) -> bool:
        """True once the handshake is done and the completion checks passed."""
        return self._complete

    @property
    def peer_certificate(self) -> x509.Certificate | None:
        """The peer's certificate once complete: the service's (initiator), the client's if any (acceptor)."""
        return self._peer

    @property
    def tls_version(self) -> str | None:
        """The negotiated protocol (``"TLSv1.2"``, ``"TLSv1.3"``) once the handshake is done."""
        return self._tls.version() if self._complete else None

    def step(self, in_token: bytes | None) -> bytes | None:
        """Feed the peer's records, drive the handshake, return this side's next flight (None when it has none).

        Any refusal ends the negotiation: later calls fail too (WCF disposes the state, NEGOTIATION.md section 7).
        """
        self._usable()
        try:
            return self._step(in_token)
        except WsscError:
            self._failed = True
            raise

    def _step(self, in_token: bytes | None) -> bytes | None:
        if in_token is not None:
            if len(in_token) > MAX_TOKEN_BYTES:
                raise InvalidRequest("TLSNEGO token is longer than this side accepts")
            self._legs += 1
            if self._legs > MAX_LEGS:
                raise InvalidRequest("TLSNEGO handshake takes more legs than TLS needs")
            if not in_token or not tls_records(in_token):
                raise InvalidRequest("TLSNEGO token is empty")
            if self._complete:
                raise InvalidRequest("TLSNEGO token after the handshake completed")
            self._incoming.write(in_token)
        elif not self._first_step_without_token():
            raise InvalidRequest("TLSNEGO leg carries no token")
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLError, OSError) as error:  # SSLCertVerificationError included: no trust for the peer
            reason = getattr(error, "reason", None) or type(error).__name__  # an OpenSSL reason code, no data
            raise FailedAuthentication(f"TLSNEGO handshake failed: {reason}") from None
        else:
            self._finish()
        out = self._outgoing.read() or None
        if out is None and not self._complete:
            raise InvalidRequest("TLSNEGO token left the handshake waiting: truncated or out of order")
        return out

    def _first_step_without_token(self) -> bool:
        return False

    def _usable(self) -> None:
        if self._failed:
            raise FailedAuthentication("TLSNEGO negotiation already failed")

    def _finish(self) -> None:
        version = _VERSIONS.get(self._tls.version() or "")
        if version is None or version < self._min_version:
            raise FailedAuthentication("TLSNEGO negotiated a protocol older than this side allows")
        der = self._tls.getpeercert(binary_form=True)
        try:
            self._peer = x509.load_der_x509_certificate(der) if der else None
            self._check_peer(der)
        except FailedAuthentication:
            self._peer = None
            raise
        except ValueError:
            self._peer = None
            raise FailedAuthentication("TLSNEGO peer certificate does not parse") from None
        self._complete = True

    def _check_peer(self, der: bytes | None) -> None:
        raise NotImplementedError

    def _require_complete(self) -> None:
        """TLS_Wrap happens once, on an established session (NEGOTIATION.md section 2.3)."""
        self._usable()
        if not self._complete:
            raise InvalidRequest("TLS_Wrap before the TLSNEGO handshake completed")
        if self._wrapped:
            raise InvalidRequest("TLS_Wrap happens once per negotiation")


class TlsInitiator(_TlsEndpoint):
    """The client side of TLSNEGO (WCF ``TlsnegoTokenProvider``, NEGOTIATION.md sections 1.3 and 5).

    ``context`` is a client context (``ssl.PROTOCOL_TLS_CLIENT``) the caller configured: trust (``cafile`` or
    ``load_verify_locations``), the client certificate for MutualSslNegotiated (``load_cert_chain``), versions
    and ciphers; :func:`client_context` builds one.  ``pinned_sha256``, the SHA-256 of the service
    certificate's DER, is checked after the handshake; with a pin the context may skip chain validation
    (``CERT_NONE``), without one it must validate.  ``server_hostname`` is sent as SNI and checked when the
    context's ``check_hostname`` says so; WCF sends none (section 1.5).  A handshake that settles on a protocol
    older than ``minimum_version`` fails, whatever the context allowed.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        pinned_sha256: bytes | None = None,
        server_hostname: str | None = None,
        minimum_version: ssl.TLSVersion = MIN_TLS_VERSION,
    ) -> None:
        if context.verify_mode == ssl.CERT_NONE and pinned_sha256 is None:
            raise ValueError("TLSNEGO initiator needs a trusted CA or a pinned service certificate")
        if pinned_sha256 is not None and len(pinned_sha256) != hashlib.sha256().digest_size:
            raise ValueError("pinned_sha256 must be a SHA-256 digest (32 bytes)")
        self._pin = pinned_sha256
        self._started = False
        super().__init__(context, server_side=False, server_hostname=server_hostname, minimum_version=minimum_version)

    def _first_step_without_token(self) -> bool:
        first = not self._started
        self._started = True
        return first

    def step(self, in_token: bytes | None) -> bytes | None:
        """``step(None)`` is the ClientHello; then each service leg in turn."""
        if in_token is not None:
            self._started = True
        return super().step(in_token)

    def _check_peer(self, der: bytes | None) -> None:
        if not der:  # WCF: the service certificate must exist (TlsnegoTokenProvider.cs:161-184)
            raise FailedAuthentication("TLSNEGO service presented no certificate")
        if self._pin is not None and not hmac.compare_digest(hashlib.sha256(der).digest(), self._pin):
            raise FailedAuthentication("TLSNEGO service certificate does not match the pin")

    def unwrap_key(self, blob: bytes) -> bytes:
        """The proof key from the acceptor's TLS_Wrap: exactly one application-data record (section 2.3)."""
        self._require_complete()
        if [content_type for content_type, _ in tls_records(blob)] != [_APPLICATION_DATA]:
            raise InvalidRequest("TLS_Wrap proof is not exactly one TLS application-data record")
        self._wrapped = self._failed = True  # from here on, the session is spent whatever the outcome
        self._incoming.write(blob)
        try:
            key = self._tls.read(MAX_RECORD_BYTES)
        except ssl.SSLWantReadError:
            key = b""  # a record with no application data (e.g. a TLS 1.3 ticket): no key
        except (ssl.SSLError, OSError):
            raise FailedAuthentication("TLS_Wrap proof does not decrypt under the TLSNEGO session") from None
        if self._incoming.pending or not 0 < len(key) <= MAX_KEY_BYTES:
            raise InvalidRequest("TLS_Wrap proof key has an unacceptable length")
        self._failed = False
        return key

    def wrap_key(self, key: bytes) -> bytes:
        """Only the service wraps the proof key (section 3: only the service sends the proof)."""
        raise InvalidRequest("the TLSNEGO initiator does not wrap a proof key")


class TlsAcceptor(_TlsEndpoint):
    """The service side of TLSNEGO (WCF ``TlsnegoTokenAuthenticator``, NEGOTIATION.md sections 1.4 and 5).

    ``context`` is a server context (``ssl.PROTOCOL_TLS_SERVER``) holding the service certificate; the acceptor
    turns session tickets off on it (section 1.5).  With ``require_client_certificate`` (MutualSslNegotiated) the
    context must ask for one (``verify_mode`` not ``CERT_NONE``, trust loaded: :func:`server_context` does it) and
    completion without one fails; ``client_trust`` then checks the certificate after the handshake as WCF's
    X509 authenticator does (``TlsnegoTokenAuthenticator.cs:209-251``).  ``minimum_version`` as for the initiator.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        require_client_certificate: bool = False,
        client_trust: CertificateTrust | None = None,
        minimum_version: ssl.TLSVersion = MIN_TLS_VERSION,
    ) -> None:
        if require_client_certificate and context.verify_mode == ssl.CERT_NONE:
            raise ValueError("TLSNEGO acceptor requiring a client certificate needs a context that asks for one")
        context.options |= ssl.OP_NO_TICKET
        context.num_tickets = 0
        self._require_client = require_client_certificate
        self._client_trust = client_trust
        super().__init__(context, server_side=True, server_hostname=None, minimum_version=minimum_version)

    def _check_peer(self, der: bytes | None) -> None:
        if not der:
            if self._require_client:
                raise FailedAuthentication("TLSNEGO client presented no certificate")
            return
        if self._client_trust is not None and self._peer is not None:
            self._client_trust.check(self._peer, datetime.now(timezone.utc))

    def wrap_key(self, key: bytes) -> bytes:
        """``key`` as the session's next application-data record: exactly one record (section 2.3)."""
        self._require_complete()
        if not 0 < len(key) <= MAX_KEY_BYTES:
            raise ValueError("TLS_Wrap key length out of range")
        if self._outgoing.pending:
            raise RequestFailed("TLSNEGO acceptor has unsent TLS data before TLS_Wrap")
        self._wrapped = True
        try:
            self._tls.write(key)
        except (ssl.SSLError, OSError):
            self._failed = True
            raise RequestFailed("TLS_Wrap failed") from None
        blob = self._outgoing.read()
        try:
            one_record = [content_type for content_type, _ in tls_records(blob)] == [_APPLICATION_DATA]
        except InvalidRequest:
            one_record = False
        if not one_record:
            self._failed = True
            raise RequestFailed("TLS_Wrap did not produce exactly one application-data record")
        return blob

    def unwrap_key(self, blob: bytes) -> bytes:
        """Only the client unwraps the proof key."""
        raise InvalidRequest("the TLSNEGO acceptor does not unwrap a proof key")


def client_context(
    *,
    cafile: str | None = None,
    cadata: str | bytes | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    check_hostname: bool = False,
) -> ssl.SSLContext:
    """A TLSNEGO client context: TLS 1.2 or later, the service trusted by ``cafile``/``cadata`` (or only by a pin,
    when neither is given: chain validation off, see :class:`TlsInitiator`), an optional client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = MIN_TLS_VERSION
    context.check_hostname = check_hostname
    if cafile is not None or cadata is not None:
        context.load_verify_locations(cafile=cafile, cadata=cadata)
    else:
        context.verify_mode = ssl.CERT_NONE
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile)
    return context


def server_context(
    certfile: str,
    keyfile: str | None = None,
    *,
    client_cafile: str | None = None,
    client_cadata: str | bytes | None = None,
) -> ssl.SSLContext:
    """A TLSNEGO service context: TLS 1.2 or later, no tickets, and, with client CAs, a client certificate
    requested and validated against them (MutualSslNegotiated)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_TLS_VERSION
    context.options |= ssl.OP_NO_TICKET
    context.num_tickets = 0
    context.load_cert_chain(certfile, keyfile)
    if client_cafile is not None or client_cadata is not None:
        context.load_verify_locations(cafile=client_cafile, cadata=client_cadata)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


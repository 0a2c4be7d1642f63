"""The SSPI side of the negotiation driver: SPNEGO via pyspnego, TLSNEGO via ``ssl.MemoryBIO`` (§1.5, §2, §5, §6).

Section numbers (§) are those of ``/work/shared/NEGOTIATION.md``.
"""

from __future__ import annotations

import ssl
import struct
from typing import Any, Protocol

import spnego
from spnego import ContextReq, NegotiateOptions

from negotiation_driver_xml import DriverError

TLS_APPLICATION_DATA = 23
TLS_RECORD_HEADER = 5
#: §2.2: the proof token is at most a 256-bit key plus the mechanism's framing; a cap for the TLS read
MAX_PROOF_BYTES = 4096


def tls_records(data: bytes) -> list[tuple[int, int, int]]:
    """(content type, version, length) of each TLS record in ``data``; DriverError when it does not split exactly."""
    records, offset = [], 0
    while offset < len(data):
        if len(data) - offset < TLS_RECORD_HEADER:
            raise DriverError("truncated TLS record header")
        kind, ver, length = struct.unpack_from("!BHH", data, offset)
        offset += TLS_RECORD_HEADER + length
        if offset > len(data):
            raise DriverError("truncated TLS record")
        records.append((kind, ver, length))
    return records


class Initiator(Protocol):
    """The client mechanism: step, completion, validation of the peer, unwrap of the proof (§1.3)."""

    complete: bool

    def step(self, blob: bytes | None) -> bytes | None: ...
    def validate(self) -> None: ...
    def unwrap(self, cipher: bytes) -> bytes: ...


class Acceptor(Protocol):
    """The service mechanism: step, completion, the claims of the peer, wrap of the key (§1.4, §2)."""

    complete: bool

    def step(self, blob: bytes | None) -> bytes | None: ...
    def claims(self) -> dict[str, Any]: ...
    def wrap(self, key: bytes) -> bytes: ...


class SpnegoInitiator:
    """§6: package Negotiate (or Kerberos), target ``service/hostname``, MutualAuth requested and required (§6.4-6.5).

    NTLM through pyspnego does not report MutualAuth, so NTLM runs pass ``require_mutual_auth=False`` (whether
    Windows NTLM reports it is [not verified] in §6.5)."""

    def __init__(
        self,
        username: str | None,
        password: str | None,
        hostname: str,
        service: str = "host",
        protocol: str = "negotiate",
        options: NegotiateOptions = NegotiateOptions.none,
        require_mutual_auth: bool = True,
    ) -> None:
        # §6.4: Confidentiality|ReplayDetect|SequenceDetect|MutualAuth (+ integrity, which sealing implies)
        req = ContextReq.mutual_auth | ContextReq.replay_detect | ContextReq.sequence_detect
        req |= ContextReq.confidentiality | ContextReq.integrity
        self._ctx = spnego.client(
            username, password, hostname=hostname, service=service, protocol=protocol, options=options, context_req=req
        )
        self._require_mutual = require_mutual_auth
        self.complete = False

    def step(self, blob: bytes | None) -> bytes | None:
        try:
            out = self._ctx.step(blob)
        except spnego.exceptions.SpnegoError as exc:
            raise DriverError(f"SPNEGO step failed: {type(exc).__name__}") from None
        self.complete = self._ctx.complete
        return out or None

    def validate(self) -> None:
        if self._require_mutual and not self._ctx.context_attr & ContextReq.mutual_auth:
            raise DriverError("Cannot authenticate the other party: MutualAuth not granted (§6.5)")

    def unwrap(self, cipher: bytes) -> bytes:
        """GSS_Unwrap of one self-delimiting wrap token that must have been sealed (§2.2)."""
        try:
            result = self._ctx.unwrap(cipher)
        except spnego.exceptions.SpnegoError as exc:
            raise DriverError(f"GSS_Wrap proof does not unwrap: {type(exc).__name__}") from None
        if not result.encrypted:
            raise DriverError("GSS_Wrap proof was not sealed (§2.2 QOP 0 = confidentiality)")
        return bytes(result.data)


class SpnegoAcceptor:
    """§6.6: Negotiate acceptor; credentials from the environment (keytab via KRB5_KTNAME, NTLM via NTLM_USER_FILE)."""

    def __init__(
        self,
        hostname: str = "unspecified",
        service: str = "host",
        protocol: str = "negotiate",
        options: NegotiateOptions = NegotiateOptions.none,
    ) -> None:
        self._ctx = spnego.server(hostname=hostname, service=service, protocol=protocol, options=options)
        self.complete = False

    def step(self, blob: bytes | None) -> bytes | None:
        out = self._ctx.step(blob)  # failures propagate: the service maps them to FailedAuthentication (§7)
        self.complete = self._ctx.complete
        return out or None

    def claims(self) -> dict[str, Any]:
        """§4: SPNEGO → the client's Windows identity; here the principal and the inner protocol."""
        return {"principal": self._ctx.client_principal, "protocol": self._ctx.negotiated_protocol}

    def wrap(self, key: bytes) -> bytes:
        """GSS_Wrap with confidentiality, the acceptor's first per-message operation (§2.2)."""
        result = self._ctx.wrap(key, encrypt=True)
        if not result.encrypted:
            raise DriverError("GSS_Wrap did not seal")
        return bytes(result.data)


def tls_client_context(
    ca_pem: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    maximum: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """§5, §2.3: a client context; the server certificate is checked after the handshake against ``ca_pem`` (chain;
    WCF checks identity separately, so no host name check) or a pinned DER in TlsInitiator."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if ca_pem is None:
        ctx.verify_mode = ssl.CERT_NONE  # then TlsInitiator must pin the server certificate
    else:
        ctx.load_verify_locations(cadata=ca_pem)
    if cert_file is not None:
        ctx.load_cert_chain(cert_file, key_file)
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def tls_server_context(
    cert_file: str, key_file: str, client_ca_pem: str | None = None, maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """§1.5: tickets off (OP_NO_TICKET, num_tickets = 0) so the final flight is CCS+Finished (TLS 1.2) or nothing
    (TLS 1.3); §5: a client certificate is required when ``client_ca_pem`` is given (ASC_REQ_MUTUAL_AUTH)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    ctx.options |= ssl.OP_NO_TICKET
    ctx.num_tickets = 0
    if client_ca_pem is not None:
        ctx.load_verify_locations(cadata=client_ca_pem)
        ctx.verify_mode = ssl.CERT_REQUIRED
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


class _Tls:
    def __init__(self, ctx: ssl.SSLContext, server_side: bool) -> None:
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        # §1.5: no SNI (TlsSspiNegotiation target name is String.Empty)
        self._obj = ctx.wrap_bio(self._in, self._out, server_side=server_side, server_hostname=None)
        self.complete = False

    def _step(self, blob: bytes | None) -> bytes | None:
        if self.complete:
            raise DriverError("TLS handshake already complete, unexpected BinaryExchange")
        if blob:
            self._in.write(blob)
        try:
            self._obj.do_handshake()
            self.complete = True
        except ssl.SSLWantReadError:
            pass
        return self._out.read() or None

    def peer_der(self) -> bytes | None:
        return self._obj.getpeercert(binary_form=True)


class TlsInitiator(_Tls):
    """TLSNEGO client (§2.3, §5): unwraps exactly one application-data record; checks the server certificate."""

    def __init__(self, ctx: ssl.SSLContext, pinned_server_der: bytes | None = None) -> None:
        super().__init__(ctx, server_side=False)
        if ctx.verify_mode == ssl.CERT_NONE and pinned_server_der is None:
            raise DriverError("TLSNEGO client needs a CA or a pinned server certificate (§5)")
        self._pinned = pinned_server_der

    def step(self, blob: bytes | None) -> bytes | None:
        try:
            return self._step(blob)
        except ssl.SSLError as exc:
            raise DriverError(f"TLS handshake failed: {exc.reason}") from None

    def validate(self) -> None:
        """§5 last item: the server certificate must exist (chain checked by ssl) and match the pin if any."""
        der = self.peer_der()
        if der is None:
            raise DriverError("no server certificate (§5)")
        if self._pinned is not None and der != self._pinned:
            raise DriverError("server certificate is not the pinned one (§5)")

    def unwrap(self, cipher: bytes) -> bytes:
        """TLS_Wrap (§2.3): exactly one application-data record, read with one SSLObject.read."""
        records = tls_records(cipher)
        if [r[0] for r in records] != [TLS_APPLICATION_DATA]:
            raise DriverError("TLS_Wrap proof is not exactly one application-data record (§2.3)")
        self._in.write(cipher)
        try:
            key = self._obj.read(MAX_PROOF_BYTES)
        except ssl.SSLError as exc:
            raise DriverError(f"TLS_Wrap proof does not decrypt: {exc.reason}") from None
        if self._in.pending or self._obj.pending():
            raise DriverError("TLS_Wrap proof left unread data")
        return key


class TlsAcceptor(_Tls):
    """TLSNEGO service (§1.5, §2.3, §5)."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        super().__init__(ctx, server_side=True)
        self._require_client = ctx.verify_mode == ssl.CERT_REQUIRED

    def step(self, blob: bytes | None) -> bytes | None:
        return self._step(blob)  # ssl.SSLError propagates → FailedAuthentication (§7)

    def claims(self) -> dict[str, Any]:
        """§4: anonymous → no claims; MutualSslNegotiated → the validated client certificate (§5)."""
        der = self.peer_der()
        if self._require_client and der is None:
            raise DriverError("client certificate required (§5)")
        return {} if der is None else {"client_certificate_der": der}

    def wrap(self, key: bytes) -> bytes:
        """One SSLObject.write → exactly one application-data record (§2.3)."""
        self._obj.write(key)
        cipher = self._out.read()
        if [r[0] for r in tls_records(cipher)] != [TLS_APPLICATION_DATA]:
            raise DriverError("TLS wrap produced more than one record")
        return cipher

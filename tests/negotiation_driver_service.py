"""An independent WCF SPNEGO/TLSNEGO negotiation service (NEGOTIATION.md §1.4, §4, §7), to check wssc's client.

No wssc imports; section numbers (§) are those of ``/work/shared/NEGOTIATION.md``.
"""

from __future__ import annotations

import itertools
import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lxml import etree
from spnego import NegotiateOptions

from negotiation_driver import DriverClient, DriverResult
from negotiation_driver_mech import Acceptor, SpnegoAcceptor, TlsAcceptor, tls_server_context
from negotiation_driver_shape import shape_problems
from negotiation_driver_xml import (
    VERSIONS,
    WRAP_URIS,
    WSA,
    WSP,
    WSSE,
    DriverError,
    Envelope,
    Issued,
    c14n,
    combined_hash,
    envelope,
    fault,
    final_rstr,
    header_text,
    read_binary_exchange,
    rstr1_for_hash,
    rstr_leg,
    rstrc,
    split_envelope,
)

#: §7 defaults of WCF's NegotiationTokenAuthenticator
NEGOTIATION_TIMEOUT_SECONDS = 60.0  # NegotiationTimeout 1 min: state-cache entry lifetime
MAX_STATEFUL_NEGOTIATIONS = 128  # MaxStatefulNegotiations
ISSUED_COOKIE_LIFETIME = timedelta(hours=10)  # §4 IssuedCookieLifetime
DEFAULT_KEY_BITS = 256  # §2.1: the suite default (Basic256)
_ID_PREFIX = f"uuid-{uuid.uuid4()}-"  # §4: wsu:Id = SecurityUtils.GenerateId() = "uuid-<process guid>-<n>"
_ID_COUNTER = itertools.count(1)


class _Refuse(Exception):
    """A negotiation failure and the §7 fault subcode it maps to."""

    def __init__(self, subcode: str, why: str, *, dispose: bool = True) -> None:
        super().__init__(why)
        self.subcode = subcode
        self.dispose = dispose  # False when WCF's negotiation host would not even take the message (§1.2)


@dataclass
class NegotiatedContext:
    """What the service issued (§4): the SCT Identifier and wsu:Id, the key, the claims, the lifetime."""

    identifier: str
    sct_id: str
    key: bytes
    claims: dict[str, Any]
    created: datetime
    expires: datetime
    context: str  # the negotiation Context attribute


@dataclass
class _State:
    mech: Acceptor
    value_type: str
    key_size: int
    applies_to: etree._Element | None
    hashed: list[bytes] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


class DriverService:
    """WCF's service side (§1.4): ``handle(envelope_bytes) -> (http_status, response_bytes)``.

    SPNEGO acceptor credentials come from the environment (``NTLM_USER_FILE`` for pyspnego NTLM, ``KRB5_KTNAME``
    for a keytab); ``spnego_options=NegotiateOptions.use_negotiate`` selects pyspnego's own SPNEGO (NTLM without a
    KDC).  TLSNEGO: ``tls_cert_file``/``tls_key_file``; ``client_ca_pem`` requires a client certificate (§5).
    ``contexts`` maps each issued SCT Identifier to its :class:`NegotiatedContext`.  ``too_busy`` makes every
    request fail with Receiver/ServerTooBusy (§7: WCF's QuotaExceededException path, simulated); ``last_refusal``
    says why the last fault was sent.  ``strict`` additionally refuses requests not in WCF's exact element order
    (negotiation_driver_shape), to check another client; WCF itself is lenient.
    """

    def __init__(
        self,
        mechanism: str,
        version: str = "1.3",
        *,
        key_size: int = DEFAULT_KEY_BITS,
        lifetime: timedelta = ISSUED_COOKIE_LIFETIME,
        spnego_hostname: str = "unspecified",
        spnego_service: str = "host",
        spnego_protocol: str = "negotiate",
        spnego_options: NegotiateOptions = NegotiateOptions.none,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        client_ca_pem: str | None = None,
        tls_maximum: ssl.TLSVersion | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        strict: bool = False,
    ) -> None:
        if mechanism not in WRAP_URIS:
            raise ValueError(f"unknown mechanism {mechanism!r}")
        self.mechanism, self.version, self.key_size, self.lifetime, self.clock = (
            mechanism,
            VERSIONS[version],
            key_size,
            lifetime,
            clock,
        )
        self._spnego = (spnego_hostname, spnego_service, spnego_protocol, spnego_options)
        self._tls: ssl.SSLContext | None = None
        if mechanism == "tlsnego":
            if tls_cert_file is None or tls_key_file is None:
                raise ValueError("TLSNEGO needs tls_cert_file and tls_key_file")
            self._tls = tls_server_context(tls_cert_file, tls_key_file, client_ca_pem, tls_maximum)
        self.contexts: dict[str, NegotiatedContext] = {}
        self.too_busy = False
        self.strict = strict
        self.last_refusal: str | None = None  # why the last fault was sent (never key material)
        self.states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def _acceptor(self) -> Acceptor:
        if self._tls is not None:
            return TlsAcceptor(self._tls)
        hostname, service, protocol, options = self._spnego
        return SpnegoAcceptor(hostname, service, protocol, options)

    def handle(self, data: bytes) -> tuple[int, bytes]:
        """One negotiation message in, one reply out (HTTP 200, or 500 with a §7 fault; 400 for a non-envelope)."""
        try:
            env = split_envelope(data)
        except DriverError:
            return 400, b""
        message_id = header_text(env, "MessageID")
        if self.too_busy:
            return 500, fault(env.soap, "ServerTooBusy", message_id)
        context = env.body.get("Context")
        with self._lock:
            try:
                return 200, self._dispatch(env, message_id)
            except _Refuse as refusal:
                self.last_refusal = str(refusal)
                if refusal.dispose:
                    self.states.pop(context or "", None)  # §7: any failure disposes the negotiation state
                return 500, fault(env.soap, refusal.subcode, message_id)

    def _value_type(self, parent: etree._Element) -> tuple[str, bytes]:
        exchange = read_binary_exchange(parent, self.version)
        if exchange is None or not self.version.accepts_value_type(self.mechanism, exchange[0]):
            raise _Refuse("InvalidRequest", "BinaryExchange missing or of the wrong ValueType (§1.4 step 3, §9.4)")
        return exchange

    def _dispatch(self, env: Envelope, message_id: str | None) -> bytes:
        version = self.version
        if f"{{{WSSE}}}Security" in env.headers:  # §1.2: negotiation legs carry no wsse:Security
            raise _Refuse("InvalidRequest", "negotiation leg with a Security header", dispose=False)
        action = header_text(env, "Action")
        wanted = {version.rst_action: "RequestSecurityToken", version.rstr_action: "RequestSecurityTokenResponse"}
        if action not in wanted or env.body.tag != version.t(wanted[action]):  # §1.4 step 1: dispatch by Action
            raise _Refuse("InvalidRequest", "Action/body is not RST or RSTR of this version", dispose=False)
        problems = shape_problems(env.body, version) if self.strict else []
        if problems:
            raise _Refuse("InvalidRequest", "not WCF's shape: " + "; ".join(problems))
        context = env.body.get("Context")  # §1.4 step 1: by local name, unqualified
        if not context:
            raise _Refuse("InvalidRequest", "no Context")
        now = time.monotonic()
        for expired in [c for c, s in self.states.items() if now - s.started > NEGOTIATION_TIMEOUT_SECONDS]:
            del self.states[expired]
        if action == version.rst_action:
            if context in self.states:  # §1.4 step 2: NegotiationStateAlreadyPresent
                raise _Refuse("InvalidRequest", "negotiation state already present")
            if len(self.states) >= MAX_STATEFUL_NEGOTIATIONS:  # §7: full cache → InvalidRequest [inference]
                raise _Refuse("InvalidRequest", "too many negotiations")
            state = self._start(env, context)
        else:
            found = self.states.pop(context, None)
            if found is None:  # §1.4 step 2: CannotFindNegotiationState
                raise _Refuse("InvalidRequest", "no negotiation state for this Context")
            state = found
        value_type, blob = self._value_type(env.body)
        state.value_type = value_type  # §9.4: echo what the client sent
        state.hashed.append(c14n(env.body))  # §3: as received; the RST before SSPI runs (§1.4 step 3)
        try:
            out = state.mech.step(blob)
        except Exception as exc:  # SSPI failure (Win32Exception) → FailedAuthentication (§7)
            raise _Refuse("FailedAuthentication", type(exc).__name__) from None
        if not state.mech.complete:
            if out is None:
                raise _Refuse("FailedAuthentication", "SSPI incomplete without output")
            reply = rstr_leg(version, context, value_type, out)  # §1.4 step 4
            state.hashed.append(c14n(reply))  # §3: its own serialisation
            self.states[context] = state
            return envelope(env.soap, version.rstr_action, reply, relates_to=message_id)
        return self._issue(env, context, state, out, message_id)

    def _start(self, env: Envelope, context: str) -> _State:
        """§1.4 step 3: RequestType absent or Issue; KeySize 0/absent or a supported multiple of 8; AppliesTo kept."""
        version, body = self.version, env.body
        request_type = body.findtext(version.t("RequestType"))
        if request_type is not None and request_type.strip() != version.request_type:
            raise _Refuse("InvalidRequest", "RequestType is not Issue")
        key_size = self.key_size
        size_text = body.findtext(version.t("KeySize"))
        if size_text is not None:
            try:
                requested = int(size_text.strip())
            except ValueError:
                raise _Refuse("InvalidRequest", "KeySize is not an integer") from None
            if requested != 0:
                if requested % 8 or requested != self.key_size:  # Basic256 supports only 256 (§1.3 step 3)
                    raise _Refuse("InvalidRequest", "KeySize not supported")
                key_size = requested
        applies_to = body.find(f"{{{WSP}}}AppliesTo")
        if applies_to is not None and applies_to.find(f"{{{WSA}}}EndpointReference") is None:
            applies_to = None  # only an EPR of the message's addressing version is echoed
        return _State(self._acceptor(), "", key_size, applies_to)

    def _issue(self, env: Envelope, context: str, state: _State, out: bytes | None, message_id: str | None) -> bytes:
        """Complete: issue the SCT (§4), wrap the key (§2), RSTRC with the authenticator (§1.4 step 4, §3)."""
        try:
            claims = state.mech.claims()
        except DriverError as exc:  # e.g. no client certificate → SecurityTokenValidationException (§5)
            raise _Refuse("FailedAuthentication", str(exc)) from None
        key = os.urandom(state.key_size // 8)
        now = self.clock().astimezone(timezone.utc)
        created = now.replace(microsecond=now.microsecond // 1000 * 1000)  # §1.1 captures: millisecond precision
        issued = Issued(
            identifier=f"urn:uuid:{uuid.uuid4()}",
            sct_id=f"{_ID_PREFIX}{next(_ID_COUNTER)}",
            wrap_uri=WRAP_URIS[self.mechanism],
            cipher=state.mech.wrap(key),
            created=created,
            expires=created + self.lifetime,
            key_size=state.key_size,
            value_type=state.value_type,
            final_blob=out,
            applies_to=state.applies_to,
        )
        rstr1 = final_rstr(self.version, context, issued)
        authenticator = combined_hash(key, [*state.hashed, c14n(rstr1_for_hash(rstr1, self.version))])
        body = rstrc(self.version, rstr1, context, authenticator)
        self.contexts[issued.identifier] = NegotiatedContext(
            issued.identifier, issued.sct_id, key, claims, issued.created, issued.expires, context
        )
        return envelope(env.soap, self.version.final_action, body, relates_to=message_id)


@contextmanager
def serve_driver(service: DriverService, path: str = "/service") -> Iterator[str]:
    """``service`` behind a threaded http.server on 127.0.0.1 (a free port); yields its URL.  Replies use the
    request's SOAP content type (SOAP 1.2 application/soap+xml, SOAP 1.1 text/xml)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body = service.handle(data)
            soap12 = (self.headers.get("Content-Type") or "").startswith("application/soap+xml")
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/soap+xml; charset=utf-8" if soap12 else "text/xml; charset=utf-8"
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def in_process(service: DriverService) -> Callable[[bytes, str], bytes]:
    """A ``post`` for DriverClient.negotiate that calls ``service.handle`` directly."""
    return lambda data, _action: service.handle(data)[1]


def kerberos_round_trip(
    principal: str | None,
    password: str | None,
    hostname: str,
    *,
    version: str = "1.3",
    soap: str = "1.2",
    service: str = "host",
    protocol: str = "negotiate",
) -> tuple[DriverResult, NegotiatedContext]:
    """Driver client ↔ driver service over real Kerberos (§1.5 first row: one RST, one RSTRC carrying the AP-REP).

    For a KDC fixture (tests/kdc_support.py): the caller sets KRB5_CONFIG and KRB5_KTNAME (a keytab holding
    ``service/hostname@REALM``) and passes the client principal and password (None, None → the default ccache).
    GSSAPI (not pyspnego's own SPNEGO) runs on both sides and the client requires MutualAuth (§6.4-6.5).
    """
    acceptor = DriverService(
        "spnego", version, spnego_hostname=hostname, spnego_service=service, spnego_protocol=protocol
    )
    client = DriverClient(
        "spnego",
        version,
        soap,
        username=principal,
        password=password,
        hostname=hostname,
        service=service,
        spnego_protocol=protocol,
    )
    result = client.negotiate(in_process(acceptor))
    if result.legs != ("RST", "RSTRC") or not result.final_blob:
        raise DriverError(f"Kerberos took the legs {result.legs}, not RST → RSTRC with the AP-REP (§1.5)")
    issued = acceptor.contexts[result.identifier]
    if issued.key != result.key or issued.claims.get("protocol") != "kerberos":
        raise DriverError("the service issued another key or did not run Kerberos")
    return result, issued


__all__ = ["DriverService", "NegotiatedContext", "in_process", "kerberos_round_trip", "serve_driver"]

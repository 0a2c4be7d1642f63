"""TLSNEGO sans I/O (wssc.trust.negotiation.tls): handshakes in memory, TLS_Wrap, and every refusal.

NEGOTIATION.md sections 1.5 (leg patterns, no tickets), 2.3 (TLS_Wrap: exactly one record) and 5 (server
certificate validated by the client, client certificate demanded by a MutualSslNegotiated service).  The
interop tests drive one side with a plain ``ssl`` socket in a thread, the classic way.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from pki import CLIENT, OTHER_ROOT, ROOT, STRANGER, issue, key_pem, pem
from wssc.errors import FailedAuthentication, InvalidRequest, WsscError
from wssc.primitives import xml as wx
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.x509_trust import CertificateTrust
from wssc.trust.negotiation import TLSNEGO, NegotiationMechanism
from wssc.trust.negotiation.tls import (
    MAX_KEY_BYTES,
    MAX_TOKEN_BYTES,
    TlsAcceptor,
    TlsInitiator,
    client_context,
    server_context,
    tls_records,
)
from wssc.trust.rstr import parse_response

SERVICE = issue("service.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["service.example"])
VERSIONS = [pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"), pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3")]
CCS, HANDSHAKE, APPLICATION_DATA = 20, 22, 23


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("tlsnego")
    written: dict[str, str] = {}
    for name, data in {
        "service.pem": pem(SERVICE[0]),
        "service.key": key_pem(SERVICE[1]),
        "client.pem": pem(CLIENT[0]),
        "client.key": key_pem(CLIENT[1]),
        "stranger.pem": pem(STRANGER[0]),
        "stranger.key": key_pem(STRANGER[1]),
    }.items():
        path = folder / name
        path.write_bytes(data)
        written[name] = str(path)
    return written


def _server(files: dict[str, str], version: ssl.TLSVersion | None = None, client_ca: bool = False) -> ssl.SSLContext:
    context = server_context(
        files["service.pem"], files["service.key"], client_cadata=pem(ROOT[0]).decode() if client_ca else None
    )
    if version is not None:
        context.minimum_version = context.maximum_version = version
    return context


def _client(
    files: dict[str, str], *, anchor: x509.Certificate | None = ROOT[0], cert: str | None = None
) -> ssl.SSLContext:
    return client_context(
        cadata=pem(anchor).decode() if anchor is not None else None,
        certfile=files[f"{cert}.pem"] if cert else None,
        keyfile=files[f"{cert}.key"] if cert else None,
    )


def negotiate(initiator: TlsInitiator, acceptor: TlsAcceptor) -> list[bytes | None]:
    """Run the legs as NEGOTIATION.md section 1.3 does; return every token in order (C, S, C, S...)."""
    legs: list[bytes | None] = []
    token = initiator.step(None)
    legs.append(token)
    while token is not None:
        token = acceptor.step(token)
        legs.append(token)
        if token is None:
            break
        token = initiator.step(token)
        legs.append(token)
    return legs


def _service_sha256() -> bytes:
    return hashlib.sha256(SERVICE[0].public_bytes(serialization.Encoding.DER)).digest()


@pytest.mark.parametrize("version", VERSIONS)
def test_handshake_and_tls_wrap(files: dict[str, str], version: ssl.TLSVersion) -> None:
    initiator = TlsInitiator(_client(files))
    acceptor = TlsAcceptor(_server(files, version))
    assert isinstance(initiator, NegotiationMechanism) and isinstance(acceptor, NegotiationMechanism)
    assert initiator.mechanism == acceptor.mechanism == TLSNEGO
    legs = negotiate(initiator, acceptor)
    assert initiator.complete and acceptor.complete
    assert initiator.tls_version == acceptor.tls_version == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
    if version is ssl.TLSVersion.TLSv1_2:
        # C ClientHello, S ServerHello..Done, C ClientKeyExchange+CCS+Finished, S CCS+Finished, C nothing
        assert len(legs) == 5 and legs[-1] is None
        final = legs[-2]
        assert final is not None and [t for t, _ in tls_records(final)] == [CCS, HANDSHAKE]  # no NewSessionTicket
    else:
        # C ClientHello, S ServerHello..Finished, C Finished, S nothing: the final RSTRC carries no BinaryExchange
        assert len(legs) == 4 and legs[-1] is None
    assert initiator.peer_certificate == SERVICE[0] and acceptor.peer_certificate is None
    key = os.urandom(32)
    blob = acceptor.wrap_key(key)
    records = tls_records(blob)
    assert len(records) == 1 and records[0][0] == APPLICATION_DATA
    assert key not in blob
    assert initiator.unwrap_key(blob) == key
    with pytest.raises(InvalidRequest, match="once"):  # TLS_Wrap is the one application record each way
        acceptor.wrap_key(key)
    with pytest.raises(InvalidRequest, match="once"):
        initiator.unwrap_key(blob)


@pytest.mark.parametrize("version", VERSIONS)
def test_no_session_ticket(files: dict[str, str], version: ssl.TLSVersion) -> None:
    """The acceptor issues no ticket: TLS 1.3 NewSessionTicket count 0 (RFC 8446 section 4.6.1), TLS 1.2 none either."""
    context = _server(files, version)
    context.options &= ~ssl.OP_NO_TICKET
    context.num_tickets = 2  # the acceptor turns both off again
    initiator, acceptor = TlsInitiator(_client(files)), TlsAcceptor(context)
    negotiate(initiator, acceptor)
    assert context.options & ssl.OP_NO_TICKET and context.num_tickets == 0
    key = os.urandom(32)
    assert initiator.unwrap_key(acceptor.wrap_key(key)) == key  # a ticket before the key would make it two records
    session = initiator._tls.session
    assert session is not None and not session.has_ticket


def test_hostname_checked_when_the_context_says_so(files: dict[str, str]) -> None:
    context = _client(files)
    context.check_hostname = True
    assert negotiate(TlsInitiator(context, server_hostname="service.example"), TlsAcceptor(_server(files)))
    initiator = TlsInitiator(context, server_hostname="other.example")
    with pytest.raises(FailedAuthentication):
        negotiate(initiator, TlsAcceptor(_server(files)))


def test_untrusted_service_certificate(files: dict[str, str]) -> None:
    initiator = TlsInitiator(_client(files, anchor=OTHER_ROOT[0]))
    with pytest.raises(FailedAuthentication) as caught:
        negotiate(initiator, TlsAcceptor(_server(files)))
    assert not isinstance(caught.value, ssl.SSLError) and caught.value.__cause__ is None
    assert not initiator.complete
    with pytest.raises(FailedAuthentication):  # a failed negotiation stays failed
        initiator.step(b"\x16\x03\x03\x00\x00")


def test_pinned_service_certificate(files: dict[str, str]) -> None:
    pinned_only = _client(files, anchor=None)
    assert pinned_only.verify_mode == ssl.CERT_NONE
    initiator = TlsInitiator(pinned_only, pinned_sha256=_service_sha256())
    negotiate(initiator, TlsAcceptor(_server(files)))
    assert initiator.complete and initiator.peer_certificate == SERVICE[0]
    for context in (pinned_only, _client(files)):  # a wrong pin fails with or without a trusted chain
        wrong = TlsInitiator(context, pinned_sha256=hashlib.sha256(b"another certificate").digest())
        with pytest.raises(FailedAuthentication, match="pin"):
            negotiate(wrong, TlsAcceptor(_server(files)))
        assert not wrong.complete and wrong.peer_certificate is None
    with pytest.raises(ValueError, match="trusted CA or a pinned"):
        TlsInitiator(pinned_only)
    with pytest.raises(ValueError, match="SHA-256"):
        TlsInitiator(pinned_only, pinned_sha256=b"short")


@pytest.mark.parametrize("version", VERSIONS)
def test_mutual_ssl(files: dict[str, str], version: ssl.TLSVersion) -> None:
    initiator = TlsInitiator(_client(files, cert="client"))
    acceptor = TlsAcceptor(_server(files, version, client_ca=True), require_client_certificate=True)
    negotiate(initiator, acceptor)
    assert acceptor.complete and acceptor.peer_certificate == CLIENT[0]
    key = os.urandom(32)
    assert initiator.unwrap_key(acceptor.wrap_key(key)) == key


@pytest.mark.parametrize("version", VERSIONS)
def test_client_certificate_required(files: dict[str, str], version: ssl.TLSVersion) -> None:
    acceptor = TlsAcceptor(_server(files, version, client_ca=True), require_client_certificate=True)
    with pytest.raises(FailedAuthentication):
        negotiate(TlsInitiator(_client(files)), acceptor)
    assert not acceptor.complete
    untrusted = TlsAcceptor(_server(files, version, client_ca=True), require_client_certificate=True)
    with pytest.raises(FailedAuthentication):
        negotiate(TlsInitiator(_client(files, cert="stranger")), untrusted)
    with pytest.raises(ValueError, match="asks for one"):
        TlsAcceptor(_server(files), require_client_certificate=True)


def test_client_trust_checked_after_the_handshake(files: dict[str, str]) -> None:
    """OpenSSL accepts the chain, the service's CertificateTrust (WCF's X509 authenticator) does not."""
    acceptor = TlsAcceptor(
        _server(files, client_ca=True),
        require_client_certificate=True,
        client_trust=CertificateTrust(anchors=[OTHER_ROOT[0]]),
    )
    with pytest.raises(FailedAuthentication):
        negotiate(TlsInitiator(_client(files, cert="client")), acceptor)
    assert not acceptor.complete and acceptor.peer_certificate is None
    trusted = TlsAcceptor(
        _server(files, client_ca=True),
        require_client_certificate=True,
        client_trust=CertificateTrust(anchors=[ROOT[0]]),
    )
    negotiate(TlsInitiator(_client(files, cert="client")), trusted)
    assert trusted.complete


def test_minimum_version_enforced_after_the_handshake(files: dict[str, str]) -> None:
    acceptor = TlsAcceptor(_server(files, ssl.TLSVersion.TLSv1_2), minimum_version=ssl.TLSVersion.TLSv1_3)
    with pytest.raises(FailedAuthentication, match="older"):
        negotiate(TlsInitiator(_client(files)), acceptor)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"GET / HTTP/1.1\r\n\r\n", id="not-tls"),
        pytest.param(b"\x16\x03", id="truncated-header"),
        pytest.param(b"\x16\x03\x03\x01\x00" + b"\x01" * 10, id="truncated-record"),
        pytest.param(b"\x16\x03\x03\xff\xff" + b"\x00" * 0xFFFF, id="record-too-long"),
        pytest.param(b"\x16\x03\x03\x00\x00" * (MAX_TOKEN_BYTES // 5 + 1), id="leg-too-long"),
    ],
)
def test_malformed_tokens_are_invalid_requests(files: dict[str, str], token: bytes) -> None:
    acceptor = TlsAcceptor(_server(files))
    with pytest.raises(InvalidRequest):
        acceptor.step(token)
    hello = TlsInitiator(_client(files)).step(None)
    with pytest.raises(FailedAuthentication, match="already failed"):  # the state is spent, as WCF disposes it
        acceptor.step(hello)


def test_truncated_flight_and_garbage_records(files: dict[str, str]) -> None:
    hello = TlsInitiator(_client(files)).step(None)
    assert hello is not None
    records = tls_records(hello)
    assert records and all(t == HANDSHAKE for t, _ in records)
    first = hello[: 5 + records[0][1]]
    half = first[:5] + first[5 : 5 + records[0][1] // 2]
    with pytest.raises(InvalidRequest):
        TlsAcceptor(_server(files)).step(half)  # ends inside a record
    short = bytearray(first[:5] + first[5 : 5 + 40])
    short[3:5] = (40).to_bytes(2, "big")
    with pytest.raises(WsscError) as caught:  # whole record, half a ClientHello: OpenSSL fails or waits
        TlsAcceptor(_server(files)).step(bytes(short))
    assert isinstance(caught.value, FailedAuthentication | InvalidRequest)
    with pytest.raises(FailedAuthentication):
        TlsAcceptor(_server(files)).step(b"\x16\x03\x03\x00\x08" + b"\xff" * 8)  # a framed but bogus handshake


@pytest.mark.parametrize("version", VERSIONS)
def test_tampered_leg_fails_the_handshake(files: dict[str, str], version: ssl.TLSVersion) -> None:
    """A byte changed in the service's flight (here inside ServerHello.random) breaks the Finished check."""
    initiator, acceptor = TlsInitiator(_client(files)), TlsAcceptor(_server(files, version))
    flight = acceptor.step(initiator.step(None))
    assert flight is not None
    tampered = flight[:20] + bytes([flight[20] ^ 1]) + flight[21:]
    with pytest.raises(FailedAuthentication):
        acceptor.step(initiator.step(tampered))
    assert not (initiator.complete and acceptor.complete)


def test_out_of_order_calls(files: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        TlsAcceptor(_server(files)).step(None)  # the service always answers a token
    initiator = TlsInitiator(_client(files))
    initiator.step(None)
    with pytest.raises(InvalidRequest):
        initiator.step(None)
    initiator = TlsInitiator(_client(files))
    with pytest.raises(InvalidRequest, match="before"):
        initiator.unwrap_key(b"\x17\x03\x03\x00\x01\x00")
    with pytest.raises(InvalidRequest, match="before"):
        TlsAcceptor(_server(files)).wrap_key(b"k" * 32)
    with pytest.raises(InvalidRequest):
        initiator.wrap_key(b"k" * 32)
    with pytest.raises(InvalidRequest):
        TlsAcceptor(_server(files)).unwrap_key(b"")


@pytest.fixture
def established(files: dict[str, str]) -> Iterator[tuple[TlsInitiator, TlsAcceptor]]:
    initiator, acceptor = TlsInitiator(_client(files)), TlsAcceptor(_server(files))
    negotiate(initiator, acceptor)
    yield initiator, acceptor


def test_tls_wrap_refusals(established: tuple[TlsInitiator, TlsAcceptor]) -> None:
    initiator, acceptor = established
    for wrong in (b"", os.urandom(MAX_KEY_BYTES + 1)):
        with pytest.raises(ValueError, match="length"):
            acceptor.wrap_key(wrong)
    blob = acceptor.wrap_key(os.urandom(32))
    with pytest.raises(InvalidRequest, match="exactly one"):
        initiator.unwrap_key(blob + blob)
    with pytest.raises(InvalidRequest, match="exactly one"):
        initiator.unwrap_key(b"\x16" + blob[1:])
    with pytest.raises(InvalidRequest):
        initiator.unwrap_key(blob[:-1])
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(FailedAuthentication) as caught:
        initiator.unwrap_key(tampered)
    assert not isinstance(caught.value, ssl.SSLError) and caught.value.__cause__ is None


def test_no_key_material_in_errors(established: tuple[TlsInitiator, TlsAcceptor]) -> None:
    initiator, acceptor = established
    key = os.urandom(32)
    blob = acceptor.wrap_key(key)
    with pytest.raises(InvalidRequest) as caught:
        initiator.unwrap_key(blob + blob)
    for text in (str(caught.value), caught.value.detail, repr(caught.value)):
        assert key.hex() not in text and blob.hex() not in text and repr(key) not in text


def test_records_of_the_2007_wcf_final_leg(vector_path: Callable[[str], Path]) -> None:
    """SChannel's final flight is CCS + Finished, its TLS_Wrap one application-data record (NEGOTIATION.md 1.5, 2.3):
    what this side emits and :meth:`TlsInitiator.unwrap_key` demands (TLS 1.0 there: RC4-128-MD5, 32 + 16 bytes)."""
    path = vector_path("mono-wcf-captures/tlsnego_final_rstrc_feb2005.xml")
    first, _ = parse_response(wx.parse(path.read_bytes()))
    assert first.binary_exchange is not None and isinstance(first.requested_proof_token, EncryptedKey)
    assert tls_records(first.binary_exchange.data) == [(CCS, 1), (HANDSHAKE, 32)]
    assert tls_records(first.requested_proof_token.cipher_value) == [(APPLICATION_DATA, 48)]


# --- interop: one side is a plain ssl socket in a thread --------------------------------------------------


def _read_flight(sock: socket.socket) -> bytes:
    """Everything the peer writes until it goes quiet (one flight; TLS writes a flight at once)."""
    data = b""
    while select.select([sock], [], [], 0.3 if data else 5)[0]:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("version", VERSIONS)
def test_acceptor_against_a_plain_ssl_client(files: dict[str, str], version: ssl.TLSVersion) -> None:
    ours, theirs = socket.socketpair()
    received: list[bytes] = []

    def client() -> None:
        context = _client(files)
        context.maximum_version = version
        with context.wrap_socket(theirs) as tls:
            received.append(tls.recv(64))

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    acceptor = TlsAcceptor(_server(files))
    try:
        while not acceptor.complete:
            reply = acceptor.step(_read_flight(ours))
            if reply is not None:
                ours.sendall(reply)
        key = os.urandom(32)
        ours.sendall(acceptor.wrap_key(key))
        thread.join(10)
        assert received == [key]
        assert acceptor.tls_version == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
    finally:
        ours.close()
        theirs.close()


def test_initiator_against_a_plain_ssl_server(files: dict[str, str], tmp_path: Path) -> None:
    ours, theirs = socket.socketpair()
    key = os.urandom(32)

    def server() -> None:
        with _server(files).wrap_socket(theirs, server_side=True) as tls:
            tls.sendall(key)

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    initiator = TlsInitiator(_client(files))
    try:
        token = initiator.step(None)
        while token is not None:
            ours.sendall(token)
            if initiator.complete:
                break
            token = initiator.step(_read_flight(ours))
        assert initiator.complete
        assert initiator.unwrap_key(_read_flight(ours)) == key  # the server's first write: one record
        thread.join(10)
    finally:
        ours.close()
        theirs.close()

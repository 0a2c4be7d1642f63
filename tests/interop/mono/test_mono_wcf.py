"""wssc against Mono's WCF (System.ServiceModel 4.0, Mono 6.8) on WCF's AnonymousForCertificate binding
without secure conversation (``establishSecurityContext=false``): every message is protected by the
symmetric binding over an EncryptedKey to the service certificate, with derived keys and an encrypted
signature; SOAP 1.2, WS-Addressing 1.0, HTTP, WS-SC February 2005 (Mono knows no other DerivedKeyToken).

Two of Mono's habits shaped wssc's defaults (the ``default_policy`` tests hold them in place):

- Mono re-serializes the WS-Addressing headers it reads before checking the signature, writing the
  wsu:Id attribute with WCF's prefix ``u``; a header signed with any other prefix no longer matches
  its digest.  wssc therefore declares the utility namespace as ``u`` too.
- A Mono service replaces the ``a:Action`` header by the ``action`` parameter of the SOAP 1.2
  Content-Type when there is one, dropping its wsu:Id ("Malformed reference"); wssc's HTTP client
  does not send that optional parameter.  (The tests with ``MONO_COMPATIBLE_POLICY`` also cover a
  policy that leaves WS-A headers unsigned.)
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from mono_wcf import (
    ACTION,
    COMPAT_PATH,
    ECHO_NS,
    MONO_COMPATIBLE_POLICY,
    REPLY_ACTION,
    STRICT_PATH,
    XENC,
    ClientRun,
    Exchange,
    MonoService,
    ServiceCertificate,
    WsscServer,
    is_soap_fault,
    run_client,
    tamper_body,
    wssc_service,
)

from wssc import namespaces as ns
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import ClientBootstrap
from wssc.conversation.client import ClientSession, Response
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.service import ApplicationRequest, FaultReply
from wssc.errors import WsscError
from wssc.security.addressing import action_of
from wssc.security.keys import StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP12
from wssc.security.unprotect import Receiver
from wssc.versions import SC_2005_02

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SC_FEB2005 = "http://schemas.xmlsoap.org/ws/2005/02/sc"
WSA = "http://www.w3.org/2005/08/addressing"
THUMBPRINT = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
TAMPERING = ["iv-bitflip", "ciphertext-byte"]

#: what Mono says when a digest of a re-serialized WS-A header fails, and when a signed header lost its Id
SIGNATURE_INVALID = "Message signature is invalid."
MALFORMED_REFERENCE = "Malformed reference element."


class KnownIncompatibility(Exception):
    """The documented Mono incompatibility happened (any other failure fails the xfail tests for real)."""


def wssc_call_or_known(client: WsscClient, text: str, *known: str) -> VerifiedMessage:
    try:
        return client.call(echo_payload(text), ACTION)
    except WsscError as error:
        if str(error) in known or error.reason in known:
            raise KnownIncompatibility(str(error)) from error
        raise


def echo_payload(text: str) -> bytes:
    return f'<echo xmlns="{ECHO_NS}"><text>{text}</text></echo>'.encode()


def echoed_text(run: ClientRun) -> str | None:
    response = run.line("RESPONSE")
    if response is None:
        return None
    root = etree.fromstring(response.encode())
    assert root.tag == f"{{{ECHO_NS}}}echo", response
    return root.findtext(f"{{{ECHO_NS}}}text")


def payload_text(message: VerifiedMessage) -> str | None:
    payload = message.payload()
    assert len(payload) == 1 and payload[0].tag == f"{{{ECHO_NS}}}echo"
    return payload[0].findtext(f"{{{ECHO_NS}}}text")


def describe(run: ClientRun) -> str:
    return f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr (tail):\n{run.stderr[-3000:]}"


# -- (a) Mono client -> wssc service --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mono_call(mono_exe: Path, service_cert: ServiceCertificate, wssc_server: WsscServer) -> tuple[ClientRun, Exchange]:
    """One Mono client call to the Mono-compatible wssc service, with the exchange as it crossed the wire."""
    before = len(wssc_server.recorder.exchanges)
    run = run_client(mono_exe, wssc_server.url(COMPAT_PATH), service_cert.pem_path, "hello from Mono")
    exchanges = wssc_server.recorder.exchanges[before:]
    assert len(exchanges) == 1, describe(run)
    return run, exchanges[0]


def test_mono_client_calls_wssc_service(mono_call: tuple[ClientRun, Exchange]) -> None:
    run, exchange = mono_call
    assert run.returncode == 0, describe(run)
    assert exchange.status == 200
    assert run.line("ACTION") == REPLY_ACTION
    assert echoed_text(run) == "hello from Mono"


def test_mono_request_layout(mono_call: tuple[ClientRun, Exchange], service_cert: ServiceCertificate) -> None:
    """What Mono's AnonymousForCertificate puts on the wire, and that wssc verifies all of it."""
    _, exchange = mono_call
    assert exchange.headers["content-type"].startswith("application/soap+xml")
    root = etree.fromstring(exchange.request)
    header = root.find("{*}Header")
    assert header is not None
    security = header.find(f"{{{WSSE}}}Security")
    assert security is not None
    children = [etree.QName(c).localname for c in security]
    # Strict layout, one derived key for both signature and encryption, the signature encrypted.
    assert children == ["Timestamp", "EncryptedKey", "DerivedKeyToken", "ReferenceList", "EncryptedData"]
    encrypted_key = security.find(f"{{{XENC}}}EncryptedKey")
    assert encrypted_key is not None
    method = encrypted_key.find(f"{{{XENC}}}EncryptionMethod")
    assert method is not None and method.get("Algorithm") == "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
    identifier = encrypted_key.find(f".//{{{WSSE}}}KeyIdentifier")
    assert identifier is not None and identifier.get("ValueType") == THUMBPRINT
    der = service_cert.certificate.public_bytes(serialization.Encoding.DER)
    assert (identifier.text or "").strip() == base64.b64encode(hashlib.sha1(der).digest()).decode()
    dkt = security.find(f"{{{SC_FEB2005}}}DerivedKeyToken")
    assert dkt is not None
    assert dkt.findtext(f"{{{SC_FEB2005}}}Length") == "32"
    assert dkt.find(f"{{{SC_FEB2005}}}Offset") is None and dkt.find(f"{{{SC_FEB2005}}}Label") is None
    reference = dkt.find(f"{{{WSSE}}}SecurityTokenReference/{{{WSSE}}}Reference")
    assert reference is not None and reference.get("URI") == "#" + (encrypted_key.get("Id") or "")
    signature_data = security.find(f"{{{XENC}}}EncryptedData")
    assert signature_data is not None and signature_data.get("Type") == "http://www.w3.org/2001/04/xmlenc#Element"
    body = root.find("{*}Body")
    assert body is not None
    body_data = body.find(f"{{{XENC}}}EncryptedData")
    assert body_data is not None and body_data.get("Type") == "http://www.w3.org/2001/04/xmlenc#Content"
    assert {etree.QName(h).localname for h in header if etree.QName(h).namespace == WSA} == {
        "Action",
        "MessageID",
        "ReplyTo",
        "To",
    }

    receiver = Receiver(
        StaticKeys(key_pairs=[(service_cert.certificate, service_cert.private_key)]),
        Requirements(encrypted_body=True, derived_keys=True),
    )
    verified = receiver.unprotect(exchange.request)
    assert {"Timestamp", "Body", "Action", "MessageID", "ReplyTo", "To"} <= set(verified.signed_names)
    assert {"Body", "Signature"} <= set(verified.encrypted_names)
    assert verified.signature_key is not None and verified.signature_key.kind == "encrypted-key"
    assert payload_text(verified) == "hello from Mono"


def test_wssc_response_to_mono_confirms_signature(mono_call: tuple[ClientRun, Exchange]) -> None:
    _, exchange = mono_call
    root = etree.fromstring(exchange.response)
    security = root.find(f"{{*}}Header/{{{WSSE}}}Security")
    assert security is not None
    # wssc answers under the request's EncryptedKey, referenced by its SHA-1, with SignatureConfirmation.
    assert security.find(f"{{{XENC}}}EncryptedKey") is None
    assert f"{ns.ENCRYPTED_KEY_SHA1}".encode() in exchange.response
    assert security.find("{*}SignatureConfirmation") is not None


def test_mono_client_calls_wssc_service_default_policy(
    mono_exe: Path, service_cert: ServiceCertificate, wssc_server: WsscServer
) -> None:
    run = run_client(mono_exe, wssc_server.url(STRICT_PATH), service_cert.pem_path, "strict")
    if run.line("ERROR") is not None and SIGNATURE_INVALID in (run.line("ERROR") or ""):
        raise KnownIncompatibility(run.line("ERROR"))
    assert run.returncode == 0, describe(run)
    assert echoed_text(run) == "strict"


# -- (b) wssc client -> Mono service --------------------------------------------------------------------------
def _without_action_parameter(request: httpx.Request) -> None:
    """Send ``application/soap+xml`` without the optional ``action`` parameter (WS-A carries the action)."""
    content_type = request.headers.get("content-type", "")
    kept = [p for p in content_type.split(";") if not p.strip().lower().startswith("action=")]
    request.headers["content-type"] = ";".join(kept)


@pytest.fixture
def plain_http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60.0, event_hooks={"request": [_without_action_parameter]}) as client:
        yield client


def _client(
    url: str, cert: ServiceCertificate, policy: ProtectionPolicy | None, http: httpx.Client | None = None
) -> WsscClient:
    bootstrap = ClientBootstrap(cert.certificate, policy=policy or ProtectionPolicy())
    return WsscClient(url, bootstrap, soap=SOAP12, version=SC_2005_02, establish_security_context=False, http=http)


def test_wssc_client_calls_mono_service(mono_service: MonoService, service_cert: ServiceCertificate) -> None:
    client = _client(mono_service.url, service_cert, MONO_COMPATIBLE_POLICY)
    with client:
        for n in range(2):
            verified = client.call(echo_payload(f"hello Mono {n}"), ACTION)
            assert payload_text(verified) == f"hello Mono {n}"
            assert action_of(verified.header) == REPLY_ACTION
            assert {"Timestamp", "Body", "Action", "RelatesTo", "SignatureConfirmation"} <= set(verified.signed_names)
            assert {"Body", "Signature", "SignatureConfirmation"} <= set(verified.encrypted_names)


def test_wssc_client_default_policy_mono_service(
    mono_service: MonoService, service_cert: ServiceCertificate, plain_http: httpx.Client
) -> None:
    with _client(mono_service.url, service_cert, None, plain_http) as client:
        assert payload_text(wssc_call_or_known(client, "strict", SIGNATURE_INVALID)) == "strict"


def test_wssc_client_default_policy_and_http_mono_service(
    mono_service: MonoService, service_cert: ServiceCertificate
) -> None:
    with _client(mono_service.url, service_cert, None) as client:
        reply = wssc_call_or_known(client, "strict", MALFORMED_REFERENCE, SIGNATURE_INVALID)
        assert payload_text(reply) == "strict"


# -- (c) tampering ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", TAMPERING)
def test_wssc_service_rejects_tampered_mono_message(
    mono_call: tuple[ClientRun, Exchange], service_cert: ServiceCertificate, how: str
) -> None:
    _, exchange = mono_call
    tampered = tamper_body(exchange.request, how)
    assert tampered != exchange.request
    # Fresh services that have not seen the message, so neither answer is about replay.
    event = wssc_service(service_cert, MONO_COMPATIBLE_POLICY).receive(tampered)
    assert isinstance(event, FaultReply), event
    assert event.reply.status == 500 and is_soap_fault(event.reply.data)
    assert b"hello from Mono" not in event.reply.data
    control = wssc_service(service_cert, MONO_COMPATIBLE_POLICY).receive(exchange.request)
    assert isinstance(control, ApplicationRequest), control


@pytest.mark.parametrize("how", TAMPERING)
def test_mono_service_rejects_tampered_wssc_message(
    mono_service: MonoService, service_cert: ServiceCertificate, how: str
) -> None:
    """Mono answers a bit-flipped IV (well-formed plaintext, wrong digest) with a SOAP fault; a garbled
    ciphertext block (plaintext no longer XML) makes it drop the request and answer an empty HTTP 200.
    Either way the operation must not run: the service logs every Echo it executes."""
    text = f"tamper me {how}"
    session = ClientSession(
        ClientBootstrap(service_cert.certificate, policy=MONO_COMPATIBLE_POLICY),
        mono_service.url,
        ClientSettings(version=SC_2005_02, soap=SOAP12, establish_security_context=False),
    )
    request = session.request(echo_payload(text), ACTION)
    tampered = tamper_body(request, how)
    headers = {"Content-Type": SOAP12.content_type}
    with httpx.Client(timeout=60.0) as http:
        rejected = http.post(mono_service.url, content=tampered, headers=headers)
        if how == "iv-bitflip":
            assert rejected.status_code == 500 and is_soap_fault(rejected.content), rejected.text
        else:
            assert rejected.content == b"" or is_soap_fault(rejected.content), rejected.text
        assert text not in mono_service.echoed()
        # The untampered bytes of the same request go through: the rejection was the tampering.
        accepted = http.post(mono_service.url, content=request, headers=headers)
    assert accepted.status_code == 200, accepted.text
    event = session.receive(accepted.content)
    assert isinstance(event, Response)
    assert payload_text(event.message) == text
    assert mono_service.echoed().count(text) == 1

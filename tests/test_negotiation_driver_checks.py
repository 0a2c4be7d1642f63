"""The independent negotiation driver's checks fail when they must: a tampered final leg, wrong Context, wrong proof
method, RelatesTo and server-certificate checks on the client; state rules and §7 faults on the service."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from negotiation_driver import DriverClient, DriverError, DriverFault
from negotiation_driver_pairs import ntlm_pair, ntlm_users, recording, tls_pair  # noqa: F401 - a fixture
from negotiation_driver_service import in_process
from negotiation_driver_xml import (
    BASE64_ENCODING,
    VERSIONS,
    WRAP_URIS,
    WSSE,
    WSU,
    Issued,
    c14n,
    envelope,
    final_rstr,
    parse,
    read_fault,
    read_timestamp,
    rstr1_for_hash,
    rstr_leg,
    split_envelope,
    sub,
    timestamp,
)
from pki import issue


def _first(root: etree._Element, local: str) -> etree._Element:
    return next(root.iter(f"{{*}}{local}"))


def _rstrs(root: etree._Element) -> list[etree._Element]:
    return list(root.iter("{*}RequestSecurityTokenResponse"))


def _set_text(local: str, text: str) -> Callable[[etree._Element], None]:
    def mutate(root: etree._Element) -> None:
        _first(root, local).text = text

    return mutate


def _all_contexts(root: etree._Element) -> None:
    for rstr in _rstrs(root):
        rstr.set("Context", "uuid-x")


def _second_context(root: etree._Element) -> None:
    _rstrs(root)[1].set("Context", "uuid-x")


def _proof_method(root: etree._Element) -> None:
    _first(root, "EncryptionMethod").set("Algorithm", "http://www.w3.org/2001/04/xmlenc#kw-aes256")


def _no_authenticator(root: etree._Element) -> None:
    second = _rstrs(root)[1]
    parent = second.getparent()
    assert parent is not None
    parent.remove(second)


TAMPERING: dict[str, tuple[Callable[[etree._Element], None], str]] = {
    "expires": (_set_text("Expires", "2099-01-01T00:00:00.000Z"), "CombinedHash"),
    "combined-hash": (_set_text("CombinedHash", base64.b64encode(bytes(32)).decode()), "CombinedHash"),
    "context": (_all_contexts, "Context"),
    "second-context": (_second_context, "Context"),
    "proof-method": (_proof_method, "EncryptionMethod"),
    "no-authenticator": (_no_authenticator, "exactly two"),
    "token-type": (_set_text("TokenType", "urn:other"), "TokenType"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
@pytest.mark.usefixtures("ntlm_users")
def test_client_detects_a_tampered_final_leg(case: str) -> None:
    mutate, message = TAMPERING[case]
    client, service = ntlm_pair("1.3", "1.2", strict=False)  # WCF's own (lenient) checks must catch each case
    with pytest.raises(DriverError, match=message):
        client.negotiate(recording(service, [], mutate))


def test_client_detects_a_tampered_tls_proof() -> None:
    def flip(root: etree._Element) -> None:
        cipher = bytearray(base64.b64decode(_first(root, "CipherValue").text or ""))
        cipher[-1] ^= 1
        _first(root, "CipherValue").text = base64.b64encode(bytes(cipher)).decode()

    client, service = tls_pair("2005-02", "1.1")
    with pytest.raises(DriverError, match="does not decrypt"):
        client.negotiate(recording(service, [], flip))


@pytest.mark.usefixtures("ntlm_users")
def test_client_checks_relates_to_and_pinned_server_certificate() -> None:
    client, service = ntlm_pair("1.3", "1.1")
    with pytest.raises(DriverError, match="RelatesTo"):
        client.negotiate(recording(service, [], _set_text("RelatesTo", "urn:uuid:other")))
    _, service = tls_pair("1.3", "1.2")
    stranger = issue("stranger.example", None)[0].public_bytes(Encoding.DER)
    client = DriverClient("tlsnego", "1.3", "1.2", pinned_server_der=stranger)
    with pytest.raises(DriverError, match="pinned"):
        client.negotiate(in_process(service))


def _fault_of(status_and_body: tuple[int, bytes]) -> tuple[int, str, str]:
    fault = read_fault(split_envelope(status_and_body[1]))
    return status_and_body[0], fault.code, fault.subcode


@pytest.mark.parametrize("soap", ["1.1", "1.2"])
@pytest.mark.usefixtures("ntlm_users")
def test_service_faults(soap: str) -> None:
    """§1.2, §1.4 step 2-3, §7: state rules, Security header, authentication failures, ServerTooBusy."""
    version = VERSIONS["1.3"]
    client, service = ntlm_pair("1.3", soap)
    leg = envelope(
        soap,
        version.rstr_action,
        rstr_leg(version, "uuid-unknown", version.value_type("spnego"), b"x"),
        message_id="urn:uuid:1",
    )
    invalid = (500, "Sender", "InvalidRequest")
    assert _fault_of(service.handle(leg)) == invalid and service.last_refusal == "no negotiation state for this Context"
    first: list[bytes] = []

    def not_soap(data: bytes, _action: str) -> bytes:
        first.append(data)
        return b"<not-soap/>"

    with pytest.raises(DriverError, match="not a SOAP"):
        client.negotiate(not_soap)
    assert service.handle(first[0])[0] == 200
    secured = first[0].replace(b"</s:Header>", f'<o:Security xmlns:o="{WSSE}"/></s:Header>'.encode())
    assert _fault_of(service.handle(secured)) == invalid and "Security header" in (service.last_refusal or "")
    assert len(service.states) == 1  # §1.2: such a message never reaches the negotiation
    assert _fault_of(service.handle(first[0])) == invalid
    assert service.last_refusal == "negotiation state already present"
    assert service.states == {}  # §7: the failure disposed the state
    other_key = first[0].replace(b"KeySize>256<", b"KeySize>128<")
    assert _fault_of(service.handle(other_key)) == invalid and service.last_refusal == "KeySize not supported"
    client, service = ntlm_pair("1.3", soap, password="wrong")
    with pytest.raises(DriverFault) as failed:
        client.negotiate(in_process(service))
    assert (failed.value.code, failed.value.subcode) == ("Sender", "FailedAuthentication")
    client, service = tls_pair("2005-02", soap, mutual=True, send_cert=False, maximum=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(DriverFault) as anonymous:
        client.negotiate(in_process(service))
    assert anonymous.value.subcode == "FailedAuthentication"
    client, service = ntlm_pair("2005-02", soap)
    service.too_busy = True
    with pytest.raises(DriverFault) as busy:
        client.negotiate(in_process(service))
    assert (busy.value.code, busy.value.subcode) == ("Receiver", "ServerTooBusy")


@pytest.mark.usefixtures("ntlm_users")
def test_fault_subcode_namespace_is_feb2005_in_both_versions() -> None:
    """§7: the subcode namespace is the Feb-2005 trust namespace even for WS-Trust 1.3."""
    _, service = ntlm_pair("1.3", "1.2")
    status, body = service.handle(envelope("1.2", "urn:wrong", etree.Element("x"), message_id="urn:uuid:2"))
    subcode = split_envelope(body).body.find(".//{*}Subcode/{*}Value")
    assert status == 500 and subcode is not None
    assert subcode.nsmap[(subcode.text or "").split(":")[0]] == "http://schemas.xmlsoap.org/ws/2005/02/trust"


def test_hashed_rstr1_is_the_dummy_and_keeps_received_whitespace() -> None:
    """§3: the service's dummy RSTR (Context, TokenType, references, Lifetime, KeySize, BinaryExchange in writer
    order, never the token or proof) equals RSTR#1 minus its two children when written without whitespace; a
    pretty-printed RSTR#1 keeps its whitespace in the client's view (tails kept), so the two views then differ."""
    version = VERSIONS["2005-02"]
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    issued = Issued("urn:uuid:1", "uuid-1-1", WRAP_URIS["tlsnego"], b"\x17", moment, moment, 256, " vt", b"\x14")
    dummy = etree.Element(
        version.t("RequestSecurityTokenResponse"), {"Context": "c"}, nsmap={"t": version.trust, "o": WSSE, "u": WSU}
    )
    sub(dummy, version.t("TokenType"), version.token_type)
    attached = sub(sub(dummy, version.t("RequestedAttachedReference")), f"{{{WSSE}}}SecurityTokenReference")
    sub(attached, f"{{{WSSE}}}Reference", URI="#uuid-1-1")
    unattached = sub(sub(dummy, version.t("RequestedUnattachedReference")), f"{{{WSSE}}}SecurityTokenReference")
    sub(unattached, f"{{{WSSE}}}Reference", URI="urn:uuid:1", ValueType=version.token_type)
    lifetime = sub(dummy, version.t("Lifetime"))
    for name in ("Created", "Expires"):
        sub(lifetime, f"{{{WSU}}}{name}", "2026-01-02T03:04:05.678Z")
    sub(dummy, version.t("KeySize"), "256")
    sub(dummy, version.t("BinaryExchange"), "FA==", ValueType=" vt", EncodingType=BASE64_ENCODING)
    rstr1 = final_rstr(version, "c", issued)
    assert c14n(rstr1_for_hash(rstr1, version)) == c14n(dummy)
    received = rstr1_for_hash(parse(etree.tostring(rstr1, pretty_print=True)), version)
    assert b"</t:TokenType>\n  \n  <t:RequestedAttachedReference>" in c14n(received)
    assert c14n(received) != c14n(dummy)


def test_lifetime_times() -> None:
    """WCF writes milliseconds (§4 captures); another service may omit the fraction; a local time is refused."""
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    assert read_timestamp(timestamp(moment)) == moment and timestamp(moment) == "2026-01-02T03:04:05.678Z"
    assert read_timestamp("2026-01-02T03:04:05Z") == moment.replace(microsecond=0)
    with pytest.raises(DriverError, match="xsd:dateTime"):
        read_timestamp("2026-01-02T03:04:05+01:00")

"""The independent negotiation driver (tests/negotiation_driver*.py): full exchanges and the real WCF artefacts.

The driver is the second implementation the lead uses to check wssc's SPNEGO/TLSNEGO client and service; these tests
show it agrees with NEGOTIATION.md (§ numbers) and with the real WCF captures.  Its failure checks are in
tests/test_negotiation_driver_checks.py.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from negotiation_driver import DriverError, DriverFault, http_poster, read_final
from negotiation_driver_mech import tls_records
from negotiation_driver_pairs import BOTH, ntlm_pair, ntlm_users, recording, tls_pair  # noqa: F401 - a fixture
from negotiation_driver_service import in_process, serve_driver
from negotiation_driver_xml import SOAP_NS, VERSIONS, p_sha1, parse, split_envelope
from pki import CLIENT

TLS_VERSIONS = {"tls12": ssl.TLSVersion.TLSv1_2, "tls13": ssl.TLSVersion.TLSv1_3}


def test_p_sha1_matches_the_dotnet_known_answer(vector_path: Callable[[str], Path]) -> None:
    kat = json.loads(vector_path("mono-wcf-captures/psha1_derivedkey_kat.json").read_text())
    seed = kat["label_utf8"].encode() + bytes.fromhex(kat["nonce_hex"])
    assert p_sha1(base64.b64decode(kat["secret_b64"]), seed, kat["length_bytes"]).hex() == kat["expected_hex"]


@pytest.mark.parametrize(("version", "soap"), BOTH)
@pytest.mark.usefixtures("ntlm_users")
def test_spnego_ntlm_negotiates_in_four_legs(version: str, soap: str) -> None:
    client, service = ntlm_pair(version, soap)
    result = client.negotiate(in_process(service))
    assert result.legs == ("RST", "RSTR", "RSTR", "RSTRC")  # §1.5 SPNEGO/NTLM
    assert result.final_blob  # NegTokenResp(accept-completed, mechListMIC)
    issued = service.contexts[result.identifier]
    assert issued.key == result.key and len(result.key) == 32
    assert issued.claims == {"principal": "alice", "protocol": "ntlm"}
    assert result.lifetime[1] - result.lifetime[0] == timedelta(hours=10)  # §4
    sct = etree.fromstring(result.sct_element_bytes)
    assert sct.tag == f"{{{VERSIONS[version].sc}}}SecurityContextToken"
    assert result.identifier.startswith("urn:uuid:") and result.sct_id == issued.sct_id
    assert service.states == {}


@pytest.mark.parametrize("mutual", [False, True], ids=["anonymous", "client-cert"])
@pytest.mark.parametrize("tls_version", list(TLS_VERSIONS))
@pytest.mark.parametrize(("version", "soap"), BOTH)
def test_tlsnego_negotiates(version: str, soap: str, tls_version: str, mutual: bool) -> None:
    client, service = tls_pair(version, soap, mutual=mutual, maximum=TLS_VERSIONS[tls_version])
    log: list[bytes] = []
    result = client.negotiate(recording(service, log))
    assert result.legs == ("RST", "RSTR", "RSTR", "RSTRC")
    assert service.contexts[result.identifier].key == result.key
    claims = service.contexts[result.identifier].claims
    assert claims["client_certificate_der"] == CLIENT[0].public_bytes(Encoding.DER) if mutual else claims == {}
    rstr1 = split_envelope(log[-1]).body[0]
    exchange = rstr1.find(VERSIONS[version].t("BinaryExchange"))
    proof = rstr1.findtext(".//{http://www.w3.org/2001/04/xmlenc#}CipherValue")
    assert [r[0] for r in tls_records(base64.b64decode(proof or ""))] == [23]  # §2.3 one application-data record
    if tls_version == "tls12":  # §1.5: final flight CCS + Finished; TLS 1.3: the client's flight is last
        assert exchange is not None and [r[0] for r in tls_records(base64.b64decode(exchange.text or ""))] == [20, 22]
    else:
        assert exchange is None and not result.final_blob


def test_value_types_on_the_wire() -> None:
    """§1.1 / §9.4: Feb-2005 TLSNEGO writes the leading space; a Feb-2005 service echoes the no-space form, a 1.3
    service refuses the leading-space form."""
    for version, expected in (
        ("2005-02", " http://schemas.xmlsoap.org/ws/2005/02/trust/tlsnego"),
        ("1.3", "http://schemas.xmlsoap.org/ws/2005/02/trust/tlsnego"),
    ):
        client, service = tls_pair(version, "1.2")
        log: list[bytes] = []
        client.negotiate(recording(service, log))
        for message in log:
            body = split_envelope(message).body
            for exchange in body.iter(VERSIONS[version].t("BinaryExchange")):
                assert exchange.get("ValueType") == expected
    plain = "http://schemas.xmlsoap.org/ws/2005/02/trust/tlsnego"
    client, service = tls_pair("2005-02", "1.2", value_type=plain, maximum=ssl.TLSVersion.TLSv1_2)
    log = []
    client.negotiate(recording(service, log))
    echoed = split_envelope(log[-1]).body[0].find(VERSIONS["2005-02"].t("BinaryExchange"))
    assert echoed is not None and echoed.get("ValueType") == plain
    client, service = tls_pair("1.3", "1.2", value_type=" " + plain)
    with pytest.raises(DriverFault) as refused:
        client.negotiate(in_process(service))
    assert (refused.value.code, refused.value.subcode) == ("Sender", "InvalidRequest")


def test_wcf_2007_final_leg_parses(vector_path: Callable[[str], Path]) -> None:
    """The .NET 3.0 TLSNEGO final RSTRC (CAP): two RSTRs with one Context, leading-space ValueType, TLS_Wrap proof of
    one 48-byte application-data record, CCS + Finished, 10 h lifetime, 32-byte CombinedHash."""
    rstrc = parse(vector_path("mono-wcf-captures/tlsnego_final_rstrc_feb2005.xml").read_bytes())
    context = "uuid-d88a7f14-97b7-4663-a548-c59a2a1c652f"
    version = VERSIONS["2005-02"]
    leg = read_final(rstrc, version, context, version.value_type("tlsnego"))
    final = leg.issued
    assert final.wrap_uri == "http://schemas.xmlsoap.org/2005/02/trust/tlsnego#TLS_Wrap"
    assert tls_records(final.cipher) == [(23, 0x0301, 48)]
    assert tls_records(final.final_blob or b"") == [(20, 0x0301, 1), (22, 0x0301, 32)]
    assert final.expires - final.created == timedelta(hours=10) and final.key_size == 256
    assert final.identifier == "urn:uuid:6ee2d642-484a-4e08-a9f4-a2bfe4f2d540" and len(leg.authenticator) == 32
    assert final.sct_id == "uuid-8921c433-1f44-4ff1-99c7-c70ba90c56c3-1"
    with pytest.raises(DriverError, match="ValueType"):  # §1.3: the client compares exactly
        read_final(rstrc, version, context, "http://schemas.xmlsoap.org/ws/2005/02/trust/tlsnego")
    with pytest.raises(DriverError, match="Context"):
        read_final(rstrc, version, "uuid-other", version.value_type("tlsnego"))


def _wild(text: str | None) -> bool:
    """A value that differs per run: a {placeholder}, a uuid, base64 (elided with "..." or not), a timestamp."""
    if text is None:
        return False
    return bool(
        re.search(r"\{|uuid|\.\.\.|\d{4}-\d\d-\d\dT", text) or re.fullmatch(r"[A-Za-z0-9+/]{20,}=*", text.strip())
    )


def _values(el: etree._Element) -> list[str | None]:
    return [el.text, *(el.get(k) for k in sorted(el.attrib))]


def assert_same_shape(ours: etree._Element, template: etree._Element) -> None:
    """The same element sequence with the same attribute names; a text or attribute value is compared only where the
    template's is a constant (see _wild)."""
    mine, theirs = (
        [e for e in ours.iter() if isinstance(e.tag, str)],
        [e for e in template.iter() if isinstance(e.tag, str)],
    )
    assert [(e.tag, sorted(e.attrib)) for e in mine] == [(e.tag, sorted(e.attrib)) for e in theirs]
    for a, b in zip(mine, theirs, strict=True):
        for x, y in zip(_values(a), _values(b), strict=True):
            assert _wild(y) or (x or "").strip() == (y or "").strip(), (a.tag, x, y)


@pytest.mark.usefixtures("ntlm_users")
def test_first_leg_has_the_shape_of_the_adfs_template(vector_path: Callable[[str], Path]) -> None:
    template = parse(
        vector_path("wcf-negotiation-captures/adfs-policystoretransfer-spnego-rst-template.xml").read_bytes()
    )
    client, _ = ntlm_pair("2005-02", "1.2")
    sent: list[bytes] = []

    def first_only(data: bytes, _action: str) -> bytes:
        sent.append(data)
        raise DriverError("stop after the first leg")

    with pytest.raises(DriverError, match="stop after"):
        client.negotiate(first_only)
    assert_same_shape(parse(sent[0]), template)
    request = parse(sent[0]).find(".//{*}RequestSecurityToken")
    assert request is not None and request.nsmap == {
        "t": VERSIONS["2005-02"].trust,
        **{"s": SOAP_NS["1.2"], "a": "http://www.w3.org/2005/08/addressing"},
    }


def test_tls12_legs_have_the_shape_of_the_2015_exchange(vector_path: Callable[[str], Path]) -> None:
    """The four Feb-2005 TLSNEGO bodies of a real 2015 WCF UserNameForSsl exchange (base64 elided by its author):
    element order, attribute names and constant values of every leg, incl. the final RSTRC.  The capture's SCT is a
    cookie-mode one (dnse:Cookie); the driver issues session-mode SCTs (§4), so the Cookie is left out."""
    text = vector_path("wcf-negotiation-captures/wcf-2015-usernameforssl-tlsnego-abridged.txt").read_text()
    bodies = re.findall(r"<s:Body>.*?</s:Body>", text, re.S)
    soap12 = f'<s:Body xmlns:s="{SOAP_NS["1.2"]}">'
    captured = [parse(b.replace("<s:Body>", soap12).encode())[0] for b in bodies]
    for cookie in captured[3].iter("{http://schemas.microsoft.com/ws/2006/05/security}Cookie"):
        cookie.getparent().remove(cookie)  # type: ignore[union-attr]
    client, service = tls_pair("2005-02", "1.2", maximum=ssl.TLSVersion.TLSv1_2)
    log: list[bytes] = []
    client.negotiate(recording(service, log))
    assert len(captured) == len(log) == 4
    for ours, theirs in zip(log, captured, strict=True):
        assert_same_shape(split_envelope(ours).body, theirs)


@pytest.mark.usefixtures("ntlm_users")
def test_over_http() -> None:
    client, service = ntlm_pair("2005-02", "1.1")
    with serve_driver(service) as url:
        result = client.negotiate(http_poster(url, "1.1"))
    assert service.contexts[result.identifier].key == result.key
    client, service = tls_pair("1.3", "1.2", mutual=True)
    with serve_driver(service) as url:
        result = client.negotiate(http_poster(url, "1.2"))
        client, _ = ntlm_pair("1.3", "1.2")
        with pytest.raises(DriverFault, match="InvalidRequest"):  # a SPNEGO leg at a TLSNEGO service
            client.negotiate(http_poster(url, "1.2"))
    assert service.contexts[result.identifier].claims["client_certificate_der"]

"""RequestSecurityTokenResponse and the collection: round trips, WCF's child order, body shapes per version."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from lxml import etree
from trust_support import child_names, roundtrip_xml, same

from wssc import namespaces as ns
from wssc.primitives import xml as wx
from wssc.tokens import reference
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.sct import SecurityContextToken
from wssc.trust.elements import BinaryExchange, BinarySecret, ComputedKey, Lifetime, RequestType, Status
from wssc.trust.rstr import (
    ProofToken,
    RequestSecurityTokenResponse,
    RequestSecurityTokenResponseCollection,
    parse_response,
    response_body,
)
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

VERSIONS = [pytest.param(SC_1_3, id="1.3"), pytest.param(SC_2005_02, id="2005-02")]
CREATED = datetime(2026, 5, 6, 7, 8, 9, 10000, tzinfo=timezone.utc)
EXPIRES = datetime(2026, 5, 6, 17, 8, 9, 10000, tzinfo=timezone.utc)

#: SPEC-NOTES section 5 / WCF WSTrust.Driver.WriteRequestSecurityTokenResponse, then Status (not WCF)
WCF_ORDER = [
    "TokenType",
    "RequestedSecurityToken",
    "AppliesTo",
    "RequestedAttachedReference",
    "RequestedUnattachedReference",
    "RequestedProofToken",
    "Entropy",
    "Lifetime",
    "Authenticator",
    "KeySize",
    "RequestedTokenCancelled",
    "BinaryExchange",
    "Status",
]

PROOF_TOKENS: list[ProofToken] = [
    BinarySecret(os.urandom(32)),
    ComputedKey(),
    ComputedKey("urn:example:ck"),  # not CK/PSHA1: kept verbatim (proof_key refuses it)
    EncryptedKey("http://schemas.xmlsoap.org/2005/02/trust/tlsnego#TLS_Wrap", os.urandom(53)),
]


def _sct(version: SCVersion) -> SecurityContextToken:
    cookie = etree.fromstring(f'<dnse:Cookie xmlns:dnse="{ns.DNSE}">AQAAANCMnd8BFdERjHoAwE/Cl+s=</dnse:Cookie>')
    return SecurityContextToken("urn:uuid:5e0c-1", wsu_id="uuid-5e0c-1", version=version, extensions=(cookie,))


def _full(version: SCVersion, proof: ProofToken) -> RequestSecurityTokenResponse:
    sct = _sct(version)
    return RequestSecurityTokenResponse(
        token_type=version.sct_token_type,
        context="uuid-ctx-1",
        requested_security_token=sct,
        requested_attached_reference=reference.local("uuid-5e0c-1"),
        requested_unattached_reference=reference.external_sct(sct.identifier, version),
        requested_proof_token=proof,
        entropy=os.urandom(32),
        lifetime=Lifetime(CREATED, EXPIRES),
        key_size=256,
        applies_to="https://service.example/echo",
        requested_token_cancelled=True,
        status=Status(False, "expired"),
        authenticator=os.urandom(32),
        binary_exchange=BinaryExchange(version.trust + "/spnego", b"\xa1\x07token"),
        extensions=(etree.fromstring('<x:After xmlns:x="urn:x">1</x:After>'),),
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("proof", PROOF_TOKENS, ids=["binary-secret", "computed-key", "computed-key-uri", "ek"])
def test_round_trip(version: SCVersion, proof: ProofToken) -> None:
    rstr = _full(version, proof)
    el = roundtrip_xml(rstr.to_element(version))
    parsed = RequestSecurityTokenResponse.from_element(el)
    assert same(parsed, rstr)
    assert parsed.requested_proof_token == proof


@pytest.mark.parametrize("version", VERSIONS)
def test_wcf_child_order_and_uris(version: SCVersion) -> None:
    el = _full(version, ComputedKey()).to_element(version)
    assert child_names(el) == [*WCF_ORDER, "After"]
    t = version.trust_qname
    assert el.findtext(f"{t('RequestedProofToken')}/{t('ComputedKey')}") == version.trust + "/CK/PSHA1"
    assert el.find(f"{t('Entropy')}/{t('BinarySecret')}").get("Type") == version.trust + "/Nonce"  # type: ignore[union-attr]
    assert el.findtext(f"{t('Status')}/{t('Code')}") == version.trust + "/status/invalid"
    assert el.find(t("RequestedTokenCancelled")) is not None and len(el.find(t("RequestedTokenCancelled"))) == 0  # type: ignore[arg-type]


def test_computed_key_uri_normalisation() -> None:
    """The writing version's CK/PSHA1 reads back as ComputedKey(); another version's URI is kept as sent."""
    for version, other in ((SC_1_3, SC_2005_02), (SC_2005_02, SC_1_3)):
        own = RequestSecurityTokenResponse(requested_proof_token=ComputedKey(version.ck_psha1)).to_element(version)
        assert RequestSecurityTokenResponse.from_element(own).requested_proof_token == ComputedKey()
        foreign = RequestSecurityTokenResponse(requested_proof_token=ComputedKey(other.ck_psha1)).to_element(version)
        parsed = RequestSecurityTokenResponse.from_element(foreign).requested_proof_token
        assert parsed == ComputedKey(other.ck_psha1)
        assert isinstance(parsed, ComputedKey) and parsed.is_psha1
    assert not ComputedKey("urn:example:ck").is_psha1


@pytest.mark.parametrize("version", VERSIONS)
def test_binary_secret_proof_type_is_symmetric_key(version: SCVersion) -> None:
    el = RequestSecurityTokenResponse(requested_proof_token=BinarySecret(b"k" * 32)).to_element(version)
    secret = el.find(f"{version.trust_qname('RequestedProofToken')}/{version.trust_qname('BinarySecret')}")
    assert secret is not None and secret.get("Type") == version.trust + "/SymmetricKey"


@pytest.mark.parametrize("valid", [True, False])
@pytest.mark.parametrize("version", VERSIONS)
def test_status(version: SCVersion, valid: bool) -> None:
    el = RequestSecurityTokenResponse(status=Status(valid)).to_element(version)
    expected = version.trust + ("/status/valid" if valid else "/status/invalid")
    assert el.findtext(f"{version.trust_qname('Status')}/{version.trust_qname('Code')}") == expected
    assert RequestSecurityTokenResponse.from_element(el).status == Status(valid)


@pytest.mark.parametrize("version", VERSIONS)
def test_issued_token_is_echoed_verbatim(version: SCVersion) -> None:
    """The parsed SCT re-serialises to the exact element received (cookie and whitespace included)."""
    el = _full(version, BinarySecret(b"s" * 32)).to_element(version)
    rst_el = el.find(version.trust_qname("RequestedSecurityToken"))
    assert rst_el is not None
    sct_el = rst_el[0]
    sct_el.text = "\n   "  # odd whitespace must survive too
    parsed = RequestSecurityTokenResponse.from_element(el)
    assert parsed.requested_security_token is not None
    echoed = parsed.requested_security_token.to_element()
    assert wx.c14n(echoed) == wx.c14n(sct_el)


@pytest.mark.parametrize("version", VERSIONS)
def test_collection_round_trip_and_parse_response(version: SCVersion) -> None:
    first = _full(version, ComputedKey())
    second = RequestSecurityTokenResponse(context="uuid-ctx-1", authenticator=b"\x01" * 32)
    el = RequestSecurityTokenResponseCollection((first, second)).to_element(version)
    assert etree.QName(el).localname == "RequestSecurityTokenResponseCollection"
    parsed = parse_response(roundtrip_xml(el))
    assert len(parsed) == 2
    assert same(parsed[0], first) and same(parsed[1], second)
    bare = parse_response(second.to_element(version))
    assert bare == [second]


@pytest.mark.parametrize(
    ("version", "operation", "count", "final", "wrapped"),
    [
        (SC_1_3, RequestType.ISSUE, 1, True, True),  # WS-Trust 1.3 section 4.3, WCF, [MS-LWSSP]
        (SC_1_3, RequestType.RENEW, 1, True, True),
        (SC_1_3, RequestType.AMEND, 1, True, True),
        (SC_1_3, RequestType.CANCEL, 1, True, False),
        (SC_1_3, RequestType.ISSUE, 1, False, False),  # intermediate negotiation leg
        (SC_2005_02, RequestType.ISSUE, 1, True, False),  # Feb 2005: the RSTR is the body
        (SC_2005_02, RequestType.ISSUE, 2, True, True),  # negotiation's final leg: RSTR + Authenticator
    ],
)
def test_response_body_shape(
    version: SCVersion, operation: RequestType, count: int, final: bool, wrapped: bool
) -> None:
    responses = [RequestSecurityTokenResponse(context=f"c{i}", key_size=256) for i in range(count)]
    el = response_body(version, operation, responses, final=final)
    expected = "RequestSecurityTokenResponseCollection" if wrapped else "RequestSecurityTokenResponse"
    assert etree.QName(el).localname == expected
    assert parse_response(el) == responses


def test_empty_collection_cannot_be_written() -> None:
    with pytest.raises(ValueError):
        RequestSecurityTokenResponseCollection(()).to_element(SC_1_3)
    with pytest.raises(ValueError):
        response_body(SC_1_3, RequestType.ISSUE, [])

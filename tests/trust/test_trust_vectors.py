"""Real captures: Rampart sample04 (RST/RSTR issue, cancel), WCF's final TLSNEGO RSTRC (via Mono), and the
Microsoft.IdentityModel CK/PSHA1 vectors through :func:`proof_key`.  Read in place; skipped when absent."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from trust_support import action_of, body_child, roundtrip_xml, same

from wssc import namespaces as ns
from wssc.errors import RequestFailed
from wssc.primitives import xml as wx
from wssc.primitives.psha1 import derive_key
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.reference import Reference
from wssc.tokens.sct import SecurityContextToken
from wssc.trust.elements import BinarySecret, ComputedKey, RequestType
from wssc.trust.entropy import EntropyMode, proof_key, response_mode
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse, parse_response
from wssc.versions import DEFAULT_LABEL, SC_1_3, SC_2005_02

VectorPath = Callable[[str], Path]
RAMPART = "rampart-sample04-secconv"
TLSNEGO = "mono-wcf-captures/tlsnego_final_rstrc_feb2005.xml"
CK_FILE = "msidentitymodel-computedkey/computed_key_psha1_kat.json"
FEB = "http://schemas.xmlsoap.org/ws/2005/02/"
SCT_ID = "urn:uuid:20189D76AA5794EBCA12142275347662"
SCT_KEY_B64 = "WWrxszI9Rg5Iy5klit8SdFt+X05pewNBbvotsYPtX9A="
CLIENT_ENTROPY_B64 = "LvNYXcA6HKhPIAzUrsswYA=="
TLSNEGO_VALUE_TYPE = " http://schemas.xmlsoap.org/ws/2005/02/trust/tlsnego"  # WCF's leading space


def _rst04(vector_path: VectorPath) -> RequestSecurityToken:
    path = vector_path(f"{RAMPART}/rst04.xml")
    return RequestSecurityToken.from_element(body_child(path), action=action_of(path))


def test_rampart_rst04(vector_path: VectorPath) -> None:
    rst = _rst04(vector_path)
    assert rst.request_type is RequestType.ISSUE
    assert rst.token_type == FEB + "sc/sct"
    assert rst.entropy == base64.b64decode(CLIENT_ENTROPY_B64)
    assert rst.computed_key_algorithm == FEB + "trust/CK/PSHA1"
    assert rst.applies_to == "http://localhost:8081/axis2/services/sample04"
    assert rst.lifetime is not None and rst.lifetime.created is not None and rst.lifetime.expires is not None
    assert rst.lifetime.created.isoformat() == "2008-06-23T13:25:33.580000+00:00"
    assert (rst.lifetime.expires - rst.lifetime.created).total_seconds() == 300
    assert rst.key_size is None and rst.extensions == ()
    # what we write back parses to the same request, in both versions
    for version in (SC_2005_02, SC_1_3):
        assert same(RequestSecurityToken.from_element(roundtrip_xml(rst.to_element(version))), rst)


def test_rampart_rstr04_server_entropy_proof(vector_path: VectorPath) -> None:
    path = vector_path(f"{RAMPART}/rstr04.xml")
    responses = parse_response(body_child(path))
    assert len(responses) == 1
    rstr = responses[0]
    assert rstr.token_type is None  # Rampart omits it
    sct = rstr.requested_security_token
    assert sct is not None and sct.identifier == SCT_ID and sct.wsu_id == "sctId-5683514"
    attached = rstr.requested_attached_reference
    unattached = rstr.requested_unattached_reference
    assert attached is not None and attached.target == Reference("#sctId-5683514", FEB + "sc/sct")
    assert unattached is not None and unattached.target == Reference(SCT_ID, FEB + "sc/sct")
    assert rstr.requested_proof_token == BinarySecret(base64.b64decode(SCT_KEY_B64))
    assert rstr.lifetime is not None and rstr.lifetime.expires is not None
    # The client sent entropy and CK/PSHA1, Rampart answered with the whole key: use it, ignore our entropy.
    rst = _rst04(vector_path)
    assert response_mode(rstr) is EntropyMode.SERVER
    key = proof_key(rst, rstr)
    assert key == base64.b64decode(SCT_KEY_B64)
    expected = json.loads(vector_path(f"{RAMPART}/expected.json").read_text(encoding="utf-8"))
    assert key.hex() == expected["sct"]["secret_hex"]
    with pytest.raises(RequestFailed):
        proof_key(rst, rstr, expected_mode=EntropyMode.COMBINED)


def test_rampart_sct_key_derives_the_application_keys(vector_path: VectorPath) -> None:
    """The key proof_key returns is the one req04's derived keys were made from (expected.json)."""
    path = vector_path(f"{RAMPART}/rstr04.xml")
    key = proof_key(_rst04(vector_path), parse_response(body_child(path))[0])
    expected = json.loads(vector_path(f"{RAMPART}/expected.json").read_text(encoding="utf-8"))
    derived = expected["messages"]["req04.xml"]["derived_keys"]
    assert derived
    for dk in derived:
        nonce = base64.b64decode(dk["nonce_b64"])
        assert derive_key(key, DEFAULT_LABEL.encode(), nonce, dk["length"], dk["offset"]).hex() == dk["derived_key_hex"]


def test_rampart_cancel_request(vector_path: VectorPath) -> None:
    """CancelTarget references the SCT by Identifier without a ValueType (Rampart)."""
    path = vector_path(f"{RAMPART}/creq04.xml")
    decrypted = vector_path(f"{RAMPART}/decrypted/creq04.decrypted.xml")
    rst = RequestSecurityToken.from_element(body_child(decrypted), action=action_of(path))
    assert rst.request_type is RequestType.CANCEL
    assert rst.cancel_target is not None and not isinstance(rst.cancel_target, SecurityContextToken)
    assert rst.cancel_target.target == Reference(SCT_ID, None)
    assert rst.renew_target is None and rst.token_type is None


def test_rampart_cancel_response(vector_path: VectorPath) -> None:
    path = vector_path(f"{RAMPART}/decrypted/cres04.decrypted.xml")
    [rstr] = parse_response(body_child(path))
    assert rstr.requested_token_cancelled
    assert same(rstr, RequestSecurityTokenResponse(requested_token_cancelled=True))


def _tlsnego(vector_path: VectorPath) -> list[RequestSecurityTokenResponse]:
    return parse_response(wx.parse(vector_path(TLSNEGO).read_bytes()))


def test_wcf_tlsnego_final_collection(vector_path: VectorPath) -> None:
    first, second = _tlsnego(vector_path)
    context = "uuid-d88a7f14-97b7-4663-a548-c59a2a1c652f"
    assert first.context == second.context == context
    assert first.token_type == FEB + "sc/sct"
    assert first.key_size == 256
    sct = first.requested_security_token
    assert sct is not None and sct.identifier == "urn:uuid:6ee2d642-484a-4e08-a9f4-a2bfe4f2d540"
    assert [e.tag for e in sct.extensions] == [ns.qn(ns.DNSE, "Cookie")]
    attached = first.requested_attached_reference
    assert attached is not None and attached.target == Reference("#uuid-8921c433-1f44-4ff1-99c7-c70ba90c56c3-1")
    # TLS_Wrap EncryptedKey proof token without KeyInfo: one TLS 1.0 application-data record
    proof = first.requested_proof_token
    assert isinstance(proof, EncryptedKey)
    assert proof.algorithm == "http://schemas.xmlsoap.org/2005/02/trust/tlsnego#TLS_Wrap"
    assert proof.key_info is None
    assert proof.cipher_value[:5] == bytes([0x17, 0x03, 0x01, 0x00, 0x30]) and len(proof.cipher_value) == 53
    # the last TLS flight, its ValueType with WCF's leading space kept verbatim
    exchange = first.binary_exchange
    assert exchange is not None and exchange.value_type == TLSNEGO_VALUE_TYPE
    assert exchange.mechanism == TLSNEGO_VALUE_TYPE.strip()
    assert exchange.data[:6] == bytes([0x14, 0x03, 0x01, 0x00, 0x01, 0x01])  # ChangeCipherSpec
    assert second.authenticator == base64.b64decode("O6A+tpZvcUnI/+HMW2qWREreuFHDV3SVfMCJ2haq27A=")
    assert second.requested_security_token is None and second.requested_proof_token is None


def test_wcf_tlsnego_rewrites_faithfully(vector_path: VectorPath) -> None:
    """Echo: the SCT (DPAPI cookie) comes out as received, the ValueType keeps its space."""
    first, _ = _tlsnego(vector_path)
    original = wx.parse(vector_path(TLSNEGO).read_bytes())
    original_sct = original.find(f".//{{{FEB}sc}}SecurityContextToken")
    assert original_sct is not None
    el = roundtrip_xml(first.to_element(SC_2005_02))
    sct_el = el.find(f".//{{{FEB}sc}}SecurityContextToken")
    assert sct_el is not None and wx.c14n(sct_el) == wx.c14n(original_sct)
    bx = el.find(SC_2005_02.trust_qname("BinaryExchange"))
    assert bx is not None and bx.get("ValueType") == TLSNEGO_VALUE_TYPE
    assert same(RequestSecurityTokenResponse.from_element(el), first)


def test_wcf_tlsnego_proof_key_needs_the_tls_unwrap(vector_path: VectorPath) -> None:
    first, _ = _tlsnego(vector_path)
    rst = RequestSecurityToken(RequestType.ISSUE, key_size=256)
    with pytest.raises(RequestFailed):
        proof_key(rst, first)
    seen: list[bytes] = []

    def unwrap(ek: EncryptedKey) -> bytes:  # stands in for the TLS session's record decryption
        seen.append(ek.cipher_value)
        return ek.cipher_value[5:37]

    key = proof_key(rst, first, decrypt_proof=unwrap)
    assert seen == [first.requested_proof_token.cipher_value]  # type: ignore[union-attr]
    assert key == seen[0][5:37]


@pytest.mark.vector_entries(CK_FILE, "vectors", "vector", "name")
def test_computed_key_through_proof_key(vector: dict[str, Any]) -> None:
    """Microsoft.IdentityModel ComputedKeyReferences: client = requestor entropy, server = issuer entropy."""
    requestor = base64.b64decode(vector["requestor_entropy_b64"])
    issuer = base64.b64decode(vector["issuer_entropy_b64"])
    bits = vector["key_size_bits"]
    expected = base64.b64decode(vector["expected_key_b64"])
    for version in (SC_1_3, SC_2005_02):
        rst = RequestSecurityToken.from_element(
            roundtrip_xml(RequestSecurityToken(RequestType.ISSUE, entropy=requestor, key_size=bits).to_element(version))
        )
        rstr = RequestSecurityTokenResponse.from_element(
            roundtrip_xml(
                RequestSecurityTokenResponse(
                    requested_proof_token=ComputedKey(), entropy=issuer, key_size=bits
                ).to_element(version)
            )
        )
        assert proof_key(rst, rstr, expected_mode=EntropyMode.COMBINED) == expected
        # KeySize only in the request, or only as the caller's default (WCF GetIssuedToken)
        bare = RequestSecurityTokenResponse(requested_proof_token=ComputedKey(), entropy=issuer)
        assert proof_key(rst, bare) == expected
        assert proof_key(RequestSecurityToken(RequestType.ISSUE, entropy=requestor), bare, bits) == expected

"""RequestSecurityToken: round trips in both versions for every request type, WCF's child order, Amend."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from lxml import etree
from trust_support import child_names, roundtrip_xml, same

from wssc import namespaces as ns
from wssc.errors import InvalidRequest
from wssc.tokens import reference
from wssc.tokens.sct import SecurityContextToken
from wssc.trust.actions import Binding, request_action, response_action
from wssc.trust.elements import HEX_ENCODING, BinaryExchange, Lifetime
from wssc.trust.rst import RequestSecurityToken, RequestType
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

VERSIONS = [pytest.param(SC_1_3, id="1.3"), pytest.param(SC_2005_02, id="2005-02")]
CREATED = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
EXPIRES = datetime(2026, 1, 2, 13, 4, 5, 678000, tzinfo=timezone.utc)
TLSNEGO_FEB2005 = " http://schemas.xmlsoap.org/ws/2005/02/trust/tlsnego"

#: WCF WSTrust.Driver.WriteRequestSecurityToken + WSTrustFeb2005.WriteTargets, then our request properties
WCF_ORDER = [
    "TokenType",
    "RequestType",
    "AppliesTo",
    "Entropy",
    "KeySize",
    "BinaryExchange",
    "RenewTarget",
    "CancelTarget",
    "ValidateTarget",
    "Lifetime",
    "KeyType",
    "ComputedKeyAlgorithm",
    "Claims",
]


def _full(version: SCVersion, request_type: RequestType) -> RequestSecurityToken:
    sct = SecurityContextToken("urn:uuid:0b1c2d3e-0000-4000-8000-000000000001", instance="2", version=version)
    claim = etree.fromstring('<c:ClaimType xmlns:c="urn:example:claims" Uri="urn:example:role"/>')
    ext = etree.fromstring('<x:Hint xmlns:x="urn:example:ext" a="1">kept <x:b/></x:Hint>')
    return RequestSecurityToken(
        request_type,
        token_type=version.sct_token_type,
        context="uuid-7a1e9c4e-1",
        applies_to="https://service.example/echo",
        entropy=os.urandom(32),
        key_size=256,
        computed_key_algorithm=version.ck_psha1,
        lifetime=Lifetime(CREATED, EXPIRES),
        renew_target=reference.external_sct(sct.identifier, version, "1"),
        cancel_target=sct,
        validate_target=reference.local("sct-1"),
        binary_exchange=BinaryExchange(TLSNEGO_FEB2005, b"\x16\x03\x01\x00\x05hello"),
        claims=(claim,),
        claims_dialect="urn:example:dialect",
        key_type=version.trust_uri("SymmetricKey"),
        extensions=(ext,),
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("request_type", list(RequestType))
def test_round_trip_every_request_type(version: SCVersion, request_type: RequestType) -> None:
    rst = _full(version, request_type)
    el = roundtrip_xml(rst.to_element(version))
    assert etree.QName(el).namespace == version.trust
    action = request_action(
        version, request_type, Binding.TRUST if request_type is RequestType.VALIDATE else Binding.SCT
    )
    parsed = RequestSecurityToken.from_element(el, action=action)
    assert same(parsed, rst)
    assert parsed.entropy == rst.entropy
    assert isinstance(parsed.cancel_target, SecurityContextToken)
    assert parsed.cancel_target.instance == "2"


@pytest.mark.parametrize("version", VERSIONS)
def test_minimal_round_trip(version: SCVersion) -> None:
    rst = RequestSecurityToken(RequestType.CANCEL, cancel_target=reference.external_sct("urn:uuid:1", version))
    el = rst.to_element(version)
    assert child_names(el) == ["RequestType", "CancelTarget"]
    assert RequestSecurityToken.from_element(roundtrip_xml(el)) == rst


@pytest.mark.parametrize("version", VERSIONS)
def test_wcf_child_order(version: SCVersion) -> None:
    el = _full(version, RequestType.ISSUE).to_element(version)
    assert child_names(el) == [*WCF_ORDER, "Hint"]
    assert el.get("Context") == "uuid-7a1e9c4e-1"
    assert el.prefix == ("t" if version is SC_2005_02 else "trust")


@pytest.mark.parametrize("version", VERSIONS)
def test_version_specific_uris(version: SCVersion) -> None:
    el = _full(version, RequestType.RENEW).to_element(version)
    assert el.findtext(version.trust_qname("RequestType")) == version.trust + "/Renew"
    secret = el.find(f"{version.trust_qname('Entropy')}/{version.trust_qname('BinarySecret')}")
    assert secret is not None and secret.get("Type") == version.trust + "/Nonce"
    applies = el.find(ns.qn(ns.WSP12, "AppliesTo"))
    assert applies is not None
    assert applies.findtext(f"{{{ns.WSA10}}}EndpointReference/{{{ns.WSA10}}}Address") == "https://service.example/echo"


def test_reading_is_order_independent() -> None:
    """Rampart writes RequestType before TokenType and Lifetime early; WCF's reader ignores order too."""
    rst = _full(SC_1_3, RequestType.ISSUE)
    el = rst.to_element(SC_1_3)
    children = list(el)
    for child in children:
        el.remove(child)
    for child in reversed(children):
        el.append(child)
    assert child_names(el)[0] == "Hint"
    assert same(RequestSecurityToken.from_element(el), rst)


def test_amend_is_an_issue_request_told_apart_by_its_action() -> None:
    """WS-SC 1.3 section 4: RST/SCT/Amend carries RequestType .../Issue."""
    rst = RequestSecurityToken(RequestType.AMEND)
    el = rst.to_element(SC_1_3)
    assert el.findtext(SC_1_3.trust_qname("RequestType")) == SC_1_3.trust + "/Issue"
    assert RequestSecurityToken.from_element(el).request_type is RequestType.ISSUE
    amend = request_action(SC_1_3, RequestType.AMEND)
    assert amend == "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT/Amend"
    assert RequestSecurityToken.from_element(el, action=amend).request_type is RequestType.AMEND
    assert RequestSecurityToken.from_element(
        el, action=request_action(SC_1_3, RequestType.ISSUE)
    ) == RequestSecurityToken(RequestType.ISSUE)


@pytest.mark.parametrize(
    "action",
    [
        request_action(SC_1_3, RequestType.CANCEL),  # operation differs from the body
        request_action(SC_2005_02, RequestType.ISSUE),  # other version
        response_action(SC_1_3, RequestType.ISSUE),  # a response action
        "urn:example:echo",  # not a trust action
    ],
)
def test_action_must_agree_with_the_body(action: str) -> None:
    el = RequestSecurityToken(RequestType.ISSUE).to_element(SC_1_3)
    with pytest.raises(InvalidRequest):
        RequestSecurityToken.from_element(el, action=action)


def test_amend_action_with_a_non_issue_body_is_refused() -> None:
    el = RequestSecurityToken(RequestType.RENEW).to_element(SC_1_3)
    with pytest.raises(InvalidRequest):
        RequestSecurityToken.from_element(el, action=request_action(SC_1_3, RequestType.AMEND))


def test_binary_exchange_value_type_kept_verbatim_and_hex_encoding() -> None:
    exchange = BinaryExchange(TLSNEGO_FEB2005, bytes(range(20)), HEX_ENCODING)
    el = RequestSecurityToken(RequestType.ISSUE, binary_exchange=exchange).to_element(SC_2005_02)
    bx = el.find(SC_2005_02.trust_qname("BinaryExchange"))
    assert bx is not None and bx.get("ValueType") == TLSNEGO_FEB2005
    assert bx.text == bytes(range(20)).hex().upper()
    parsed = RequestSecurityToken.from_element(roundtrip_xml(el)).binary_exchange
    assert parsed == exchange
    assert parsed.mechanism == TLSNEGO_FEB2005.strip()


@pytest.mark.parametrize("wsa", [ns.WSA10, ns.WSA200408])
@pytest.mark.parametrize("wsp", [ns.WSP12, ns.WSP15])
def test_applies_to_in_either_addressing_and_policy_namespace(wsa: str, wsp: str) -> None:
    xml = (
        f'<t:RequestSecurityToken xmlns:t="{SC_2005_02.trust}" xmlns:wsp="{wsp}" xmlns:wsa="{wsa}">'
        f"<t:RequestType>{SC_2005_02.trust}/Issue</t:RequestType>"
        "<wsp:AppliesTo><wsa:EndpointReference><wsa:Address> http://x.example/s </wsa:Address>"
        "</wsa:EndpointReference></wsp:AppliesTo></t:RequestSecurityToken>"
    )
    assert RequestSecurityToken.from_element(etree.fromstring(xml)).applies_to == "http://x.example/s"


def test_applies_to_written_in_the_requested_addressing_namespace() -> None:
    el = RequestSecurityToken(RequestType.ISSUE, applies_to="urn:a").to_element(SC_2005_02, addressing=ns.WSA200408)
    assert (
        el.findtext(f"{{{ns.WSP12}}}AppliesTo/{{{ns.WSA200408}}}EndpointReference/{{{ns.WSA200408}}}Address") == "urn:a"
    )


def test_uninterpreted_trust_elements_and_foreign_children_are_kept_verbatim() -> None:
    xml = (
        f'<wst:RequestSecurityToken xmlns:wst="{SC_1_3.trust}" xmlns:f="urn:foreign">'
        f"<wst:RequestType>{SC_1_3.trust}/Issue</wst:RequestType>"
        '<wst:Renewing Allow="true" OK="false"/><f:Thing f:x="1">t</f:Thing>'
        f"<wst:SignatureAlgorithm>{ns.DS}hmac-sha1</wst:SignatureAlgorithm></wst:RequestSecurityToken>"
    )
    rst = RequestSecurityToken.from_element(etree.fromstring(xml))
    assert [etree.QName(e).localname for e in rst.extensions] == ["Renewing", "Thing", "SignatureAlgorithm"]
    assert rst.extensions[0].get("Allow") == "true"
    out = rst.to_element(SC_1_3)
    assert child_names(out) == ["RequestType", "Renewing", "Thing", "SignatureAlgorithm"]


def test_extensions_are_detached_copies() -> None:
    ext = etree.fromstring('<x:E xmlns:x="urn:x"/>')
    rst = RequestSecurityToken(RequestType.ISSUE, extensions=(ext,))
    first = rst.to_element(SC_1_3)
    second = rst.to_element(SC_1_3)
    assert ext.getparent() is None
    assert len(child_names(first)) == len(child_names(second)) == 2

"""Malformed WS-Trust input raises wst:InvalidRequest, and nothing else."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidRequest, WsscError
from wssc.primitives import xml as wx
from wssc.trust.elements import MAX_BINARY_EXCHANGE_BYTES
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse, RequestSecurityTokenResponseCollection, parse_response
from wssc.versions import SC_1_3, SC_2005_02

T = SC_2005_02.trust
T13 = SC_1_3.trust
SC = SC_2005_02.sc
NSDECL = (
    f'xmlns:t="{T}" xmlns:u="{ns.WSU}" xmlns:o="{ns.WSSE}" xmlns:c="{SC}" xmlns:wsp="{ns.WSP12}" '
    f'xmlns:a="{ns.WSA10}" xmlns:e="{ns.XENC}"'
)
ISSUE = f"<t:RequestType>{T}/Issue</t:RequestType>"
ENTROPY_B64 = base64.b64encode(b"\x01" * 32).decode()
SECRET = f"<t:BinarySecret>{ENTROPY_B64}</t:BinarySecret>"
EPR = "<a:EndpointReference><a:Address>x</a:Address></a:EndpointReference>"
HEX = f"{ns.WSS_SOAP_MESSAGE_SECURITY}#HexBinary"
RSTRC_OPEN = f'<t:RequestSecurityTokenResponseCollection xmlns:t="{T}">'
RSTRC_CLOSE = "</t:RequestSecurityTokenResponseCollection>"


def rst(inner: str, attrs: str = "") -> wx.Element:
    return etree.fromstring(f"<t:RequestSecurityToken {NSDECL}{attrs}>{inner}</t:RequestSecurityToken>")


def rstr(inner: str) -> wx.Element:
    return etree.fromstring(f"<t:RequestSecurityTokenResponse {NSDECL}>{inner}</t:RequestSecurityTokenResponse>")


def entropy(value: str, type_: str = f"{T}/Nonce") -> str:
    return f'<t:Entropy><t:BinarySecret Type="{type_}">{value}</t:BinarySecret></t:Entropy>'


def key_size(value: str) -> str:
    return f"<t:KeySize>{value}</t:KeySize>"


def lifetime(created: str, expires: str) -> str:
    return f"<t:Lifetime><u:Created>{created}</u:Created><u:Expires>{expires}</u:Expires></t:Lifetime>"


BAD_RST = {
    "missing RequestType": "<t:TokenType>x</t:TokenType>",
    "empty RequestType": "<t:RequestType> </t:RequestType>",
    "unknown RequestType": f"<t:RequestType>{T}/Amend</t:RequestType>",
    "RequestType of the other version": f"<t:RequestType>{T13}/Issue</t:RequestType>",
    "duplicate RequestType": ISSUE + ISSUE,
    "duplicate TokenType": ISSUE + "<t:TokenType>a</t:TokenType><t:TokenType>b</t:TokenType>",
    "duplicate Entropy": ISSUE + entropy(ENTROPY_B64) + entropy(ENTROPY_B64),
    "duplicate AppliesTo": ISSUE + 2 * f"<wsp:AppliesTo>{EPR}</wsp:AppliesTo>",
    "element inside TokenType": ISSUE + "<t:TokenType><t:x/></t:TokenType>",
    "text in the RST": ISSUE + "stray text",
    "huge KeySize": ISSUE + key_size("99999999999999999999"),
    "KeySize above the bound": ISSUE + key_size("8192"),
    "KeySize below the bound": ISSUE + key_size("32"),
    "KeySize not bytes": ISSUE + key_size("257"),
    "negative KeySize": ISSUE + key_size("-256"),
    "non-ASCII KeySize": ISSUE + key_size("\uff12\uff15\uff16"),  # fullwidth digits
    "KeySize not a number": ISSUE + key_size("0x100"),
    "bad base64 entropy": ISSUE + entropy("not*base64!"),
    "short entropy": ISSUE + entropy(base64.b64encode(b"1234").decode()),
    "long entropy": ISSUE + entropy(base64.b64encode(b"x" * 513).decode()),
    "asymmetric entropy type": ISSUE + entropy(ENTROPY_B64, f"{T}/AsymmetricKey"),
    "empty Entropy": ISSUE + "<t:Entropy/>",
    "Entropy with two secrets": ISSUE + f"<t:Entropy>{SECRET}{SECRET}</t:Entropy>",
    "encrypted Entropy": ISSUE + "<t:Entropy><e:EncryptedKey/></t:Entropy>",
    "Lifetime without zone": ISSUE + lifetime("2026-01-01T00:00:00", "2026-01-01T01:00:00Z"),
    "Lifetime not a date": ISSUE + lifetime("yesterday", "2026-01-01T01:00:00Z"),
    "Lifetime backwards": ISSUE + lifetime("2026-01-01T02:00:00Z", "2026-01-01T01:00:00Z"),
    "Lifetime two Created": ISSUE
    + "<t:Lifetime><u:Created>2026-01-01T00:00:00Z</u:Created><u:Created>2026-01-01T00:00:00Z</u:Created></t:Lifetime>",
    "Lifetime foreign child": ISSUE + "<t:Lifetime><t:Created>2026-01-01T00:00:00Z</t:Created></t:Lifetime>",
    "unknown trust element": ISSUE + "<t:Bogus/>",
    "other version's element": ISSUE + f'<x:TokenType xmlns:x="{T13}">y</x:TokenType>',
    "AppliesTo without EPR": ISSUE + "<wsp:AppliesTo><a:Address>x</a:Address></wsp:AppliesTo>",
    "EPR without Address": ISSUE + "<wsp:AppliesTo><a:EndpointReference/></wsp:AppliesTo>",
    "EPR with two Addresses": ISSUE
    + "<wsp:AppliesTo><a:EndpointReference><a:Address>x</a:Address><a:Address>y</a:Address>"
    "</a:EndpointReference></wsp:AppliesTo>",
    "empty CancelTarget": f"<t:RequestType>{T}/Cancel</t:RequestType><t:CancelTarget/>",
    "CancelTarget with two references": f"<t:RequestType>{T}/Cancel</t:RequestType><t:CancelTarget>"
    + 2 * '<o:SecurityTokenReference><o:Reference URI="urn:x"/></o:SecurityTokenReference>'
    + "</t:CancelTarget>",
    "CancelTarget with an unsupported token": f"<t:RequestType>{T}/Cancel</t:RequestType>"
    "<t:CancelTarget><o:UsernameToken/></t:CancelTarget>",
    "malformed STR in RenewTarget": f"<t:RequestType>{T}/Renew</t:RequestType>"
    "<t:RenewTarget><o:SecurityTokenReference/></t:RenewTarget>",
    "Reference without URI": f"<t:RequestType>{T}/Renew</t:RequestType>"
    "<t:RenewTarget><o:SecurityTokenReference><o:Reference/></o:SecurityTokenReference></t:RenewTarget>",
    "SCT target without Identifier": f"<t:RequestType>{T}/Renew</t:RequestType>"
    "<t:RenewTarget><c:SecurityContextToken/></t:RenewTarget>",
    "SCT target with a relative Identifier": f"<t:RequestType>{T}/Renew</t:RequestType>"
    "<t:RenewTarget><c:SecurityContextToken><c:Identifier>abc</c:Identifier></c:SecurityContextToken></t:RenewTarget>",
    "BinaryExchange without EncodingType": ISSUE + f'<t:BinaryExchange ValueType="{T}/spnego">AAAA</t:BinaryExchange>',
    "BinaryExchange without ValueType": ISSUE
    + f'<t:BinaryExchange EncodingType="{ns.BASE64_ENCODING}">AAAA</t:BinaryExchange>',
    "BinaryExchange unknown encoding": ISSUE
    + f'<t:BinaryExchange ValueType="{T}/spnego" EncodingType="urn:x">AAAA</t:BinaryExchange>',
    "BinaryExchange bad base64": ISSUE
    + f'<t:BinaryExchange ValueType="{T}/spnego" EncodingType="{ns.BASE64_ENCODING}">A=A=</t:BinaryExchange>',
    "BinaryExchange bad hex": ISSUE
    + f'<t:BinaryExchange ValueType="{T}/spnego" EncodingType="{HEX}">ZZ</t:BinaryExchange>',
    "BinaryExchange too large": ISSUE
    + f'<t:BinaryExchange ValueType="{T}/spnego" EncodingType="{ns.BASE64_ENCODING}">'
    + base64.b64encode(bytes(MAX_BINARY_EXCHANGE_BYTES + 1)).decode()
    + "</t:BinaryExchange>",
    "duplicate Claims": ISSUE + "<t:Claims/><t:Claims/>",
}


@pytest.mark.parametrize("inner", list(BAD_RST.values()), ids=list(BAD_RST))
def test_malformed_rst(inner: str) -> None:
    el = rst(inner)
    with pytest.raises(InvalidRequest):
        RequestSecurityToken.from_element(el)


def test_baseline_rst_is_valid() -> None:
    """The fragments above are malformed only where intended: their valid counterparts parse."""
    parsed = RequestSecurityToken.from_element(
        rst(
            ISSUE + entropy(ENTROPY_B64) + key_size(" +256 ") + lifetime("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
        )
    )
    assert parsed.key_size == 256 and parsed.entropy == b"\x01" * 32


@pytest.mark.parametrize(
    "xml",
    [
        "<RequestSecurityToken/>",  # no namespace
        f'<x:RequestSecurityToken xmlns:x="{SC}"/>',  # the WS-SC namespace
        f'<x:RequestSecurityToken xmlns:x="{T}/"/>',  # near miss
        f'<x:RequestSecurityTokenResponse xmlns:x="{T}"/>',  # not an RST
    ],
)
def test_not_an_rst(xml: str) -> None:
    with pytest.raises(InvalidRequest):
        RequestSecurityToken.from_element(etree.fromstring(xml))


BAD_RSTR = {
    "two TokenTypes": "<t:TokenType>a</t:TokenType><t:TokenType>b</t:TokenType>",
    "empty RequestedProofToken": "<t:RequestedProofToken/>",
    "two proof tokens": f"<t:RequestedProofToken>{SECRET}{SECRET}</t:RequestedProofToken>",
    "unknown proof token": "<t:RequestedProofToken><o:UsernameToken/></t:RequestedProofToken>",
    "empty ComputedKey": "<t:RequestedProofToken><t:ComputedKey/></t:RequestedProofToken>",
    "bad BinarySecret": "<t:RequestedProofToken><t:BinarySecret>@@@@</t:BinarySecret></t:RequestedProofToken>",
    "EncryptedKey without CipherData": '<t:RequestedProofToken><e:EncryptedKey><e:EncryptionMethod Algorithm="urn:w"/>'
    "</e:EncryptedKey></t:RequestedProofToken>",
    "EncryptedKey without Algorithm": "<t:RequestedProofToken><e:EncryptedKey><e:EncryptionMethod/><e:CipherData>"
    "<e:CipherValue>AAAA</e:CipherValue></e:CipherData></e:EncryptedKey></t:RequestedProofToken>",
    "issued token not an SCT": "<t:RequestedSecurityToken><o:UsernameToken/></t:RequestedSecurityToken>",
    "SCT with two Identifiers": "<t:RequestedSecurityToken><c:SecurityContextToken><c:Identifier>urn:a</c:Identifier>"
    "<c:Identifier>urn:b</c:Identifier></c:SecurityContextToken></t:RequestedSecurityToken>",
    "two issued tokens": 2
    * "<t:RequestedSecurityToken><c:SecurityContextToken><c:Identifier>urn:a</c:Identifier></c:SecurityContextToken>"
    "</t:RequestedSecurityToken>",
    "two Lifetimes": 2 * lifetime("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"),
    "two RequestedTokenCancelled": "<t:RequestedTokenCancelled/><t:RequestedTokenCancelled/>",
    "reference not an STR": "<t:RequestedAttachedReference><t:x/></t:RequestedAttachedReference>",
    "Status bad code": f"<t:Status><t:Code>{T}/status/maybe</t:Code></t:Status>",
    "Status without code": "<t:Status><t:Reason>r</t:Reason></t:Status>",
    "Status other version's code": f"<t:Status><t:Code>{T13}/status/valid</t:Code></t:Status>",
    "Authenticator without CombinedHash": "<t:Authenticator><t:Other>AAAA</t:Other></t:Authenticator>",
    "CombinedHash bad base64": "<t:Authenticator><t:CombinedHash>*</t:CombinedHash></t:Authenticator>",
    "CombinedHash too long": "<t:Authenticator><t:CombinedHash>"
    + base64.b64encode(bytes(65)).decode()
    + "</t:CombinedHash></t:Authenticator>",
    "RequestedTokenCancelled with content": "<t:RequestedTokenCancelled><t:x/></t:RequestedTokenCancelled>",
    "server entropy bad base64": entropy("%%%%"),
    "RSTR KeySize huge": key_size("4294967296"),
    "RSTR unknown trust element": "<t:RequestedSomething/>",
}


def test_baseline_rstr_is_valid() -> None:
    parsed = RequestSecurityTokenResponse.from_element(
        rstr(
            "<t:RequestedSecurityToken><c:SecurityContextToken><c:Identifier>urn:a</c:Identifier></c:SecurityContextToken>"
            f"</t:RequestedSecurityToken><t:RequestedProofToken><t:ComputedKey>{T}/CK/PSHA1</t:ComputedKey>"
            f"</t:RequestedProofToken>{entropy(ENTROPY_B64)}<t:Status><t:Code>{T}/status/valid</t:Code></t:Status>"
            f"<t:Authenticator><t:CombinedHash>{ENTROPY_B64}</t:CombinedHash></t:Authenticator>"
            "<t:RequestedTokenCancelled/>"
        )
    )
    assert parsed.requested_security_token is not None and parsed.status is not None and parsed.status.valid
    assert parsed.requested_token_cancelled and parsed.authenticator == b"\x01" * 32


@pytest.mark.parametrize("inner", list(BAD_RSTR.values()), ids=list(BAD_RSTR))
def test_malformed_rstr(inner: str) -> None:
    el = rstr(inner)
    with pytest.raises(InvalidRequest):
        RequestSecurityTokenResponse.from_element(el)
    with pytest.raises(InvalidRequest):
        parse_response(el)


@pytest.mark.parametrize(
    "xml",
    [
        f'<t:RequestSecurityTokenResponseCollection xmlns:t="{T}"/>',
        RSTRC_OPEN + "<t:RequestSecurityToken/>" + RSTRC_CLOSE,
        f'<t:RequestSecurityTokenResponseCollection xmlns:t="{T}" xmlns:n="{T13}">'
        "<n:RequestSecurityTokenResponse/>" + RSTRC_CLOSE,
        RSTRC_OPEN + 17 * "<t:RequestSecurityTokenResponse/>" + RSTRC_CLOSE,
        RSTRC_OPEN + "text<t:RequestSecurityTokenResponse/>" + RSTRC_CLOSE,
    ],
)
def test_malformed_collection(xml: str) -> None:
    el = etree.fromstring(xml)
    with pytest.raises(InvalidRequest):
        RequestSecurityTokenResponseCollection.from_element(el)
    with pytest.raises(InvalidRequest):
        parse_response(el)


def test_parse_response_refuses_other_elements() -> None:
    for xml in (
        f'<t:RequestSecurityToken xmlns:t="{T}"/>',
        "<Fault/>",
        f'<x:RequestSecurityTokenResponse xmlns:x="{SC}"/>',
    ):
        with pytest.raises(InvalidRequest):
            parse_response(etree.fromstring(xml))
    with pytest.raises(InvalidRequest):
        parse_response(etree.Comment("x"))


VALID_RST = (
    f'<t:RequestSecurityToken {NSDECL} Context="uuid-1"><t:TokenType>{SC}/sct</t:TokenType>{ISSUE}'
    "<wsp:AppliesTo><a:EndpointReference><a:Address>http://h/s</a:Address></a:EndpointReference></wsp:AppliesTo>"
    f"{entropy(ENTROPY_B64)}{key_size('256')}{lifetime('2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z')}"
    '<t:CancelTarget><o:SecurityTokenReference><o:Reference URI="urn:uuid:1"/></o:SecurityTokenReference>'
    "</t:CancelTarget>"
    f'<t:BinaryExchange ValueType=" {T}/tlsnego" EncodingType="{ns.BASE64_ENCODING}">FgMBAAE=</t:BinaryExchange>'
    "</t:RequestSecurityToken>"
).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(VALID_RST) - 1), st.integers(1, 12), st.binary(max_size=12))
def test_mutated_rst_raises_only_invalid_request(start: int, length: int, junk: bytes) -> None:
    """Splice junk into a valid RST: whatever still parses as XML must either read or raise InvalidRequest."""
    data = VALID_RST[:start] + junk + VALID_RST[start + length :]
    try:
        el = wx.parse(data)
    except WsscError:
        return  # not XML: the hardened parser's job
    with contextlib.suppress(InvalidRequest):
        RequestSecurityToken.from_element(el)
    with contextlib.suppress(InvalidRequest):
        parse_response(el)

"""wssc.trust.negotiation: the mechanism URIs against WCF's captures, and the BinaryExchange reader on them.

The captures live in ../shared/vectors (tests skip when absent): the AD FS SPNEGO RST template and the 2015
UserNameForSsl TLSNEGO exchange (wcf-negotiation-captures), and Mono's .NET 3.0 TLSNEGO final RSTRC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from trust_support import roundtrip_xml

from wssc.primitives import xml as wx
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.trust.elements import BinaryExchange, RequestType
from wssc.trust.negotiation import (
    GSS_WRAP,
    SPNEGO,
    TLS_WRAP,
    TLSNEGO,
    TLSNEGO_FEB2005_WRITTEN,
    WRAP_ALGORITHMS,
    NegotiationMechanism,
    value_type,
)
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse, parse_response
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

VectorPath = Callable[[str], Path]
CAPTURES = "wcf-negotiation-captures"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
VERSIONS = [pytest.param(SC_1_3, id="1.3"), pytest.param(SC_2005_02, id="2005-02")]


def test_value_types_per_version() -> None:
    assert value_type(SPNEGO, SC_2005_02) == value_type(SPNEGO, SC_1_3) == SPNEGO
    assert value_type(TLSNEGO, SC_1_3) == TLSNEGO
    assert value_type(TLSNEGO, SC_2005_02) == TLSNEGO_FEB2005_WRITTEN == " " + TLSNEGO
    assert WRAP_ALGORITHMS == {SPNEGO: GSS_WRAP, TLSNEGO: TLS_WRAP}
    with pytest.raises(ValueError, match="unknown negotiation mechanism"):
        value_type(TLSNEGO_FEB2005_WRITTEN, SC_2005_02)


def test_adfs_spnego_rst_template(vector_path: VectorPath) -> None:
    """The first SPNEGO leg two tools send to a real AD FS (Feb 2005): its ValueType is SPNEGO, and it parses."""
    text = vector_path(f"{CAPTURES}/adfs-policystoretransfer-spnego-rst-template.xml").read_text()
    text = text.replace("{KerberosTicket}", "YIIBAAYGKwYBBQUCoA==").replace("{uuid}", "0").replace("{server}", "adfs")
    body = wx.parse(text.encode()).find(f"{{{SOAP12}}}Body")
    assert body is not None
    rst = RequestSecurityToken.from_element(body[0])
    assert rst.request_type is RequestType.ISSUE and rst.key_size == 256
    exchange = rst.binary_exchange
    assert exchange is not None and exchange.value_type == value_type(SPNEGO, SC_2005_02)
    assert exchange.mechanism == SPNEGO and exchange.data.startswith(b"\x60")  # a GSS-API InitialContextToken


def test_wcf_2015_tlsnego_value_types(vector_path: VectorPath) -> None:
    """All four legs of the 2015 UserNameForSsl exchange (Feb 2005) write WCF's leading-space TLSNEGO ValueType.

    Its base64 was elided by its author, so the ValueTypes are read from the text, not through the parser."""
    text = vector_path(f"{CAPTURES}/wcf-2015-usernameforssl-tlsnego-abridged.txt").read_text()
    found = re.findall(r'<t:BinaryExchange ValueType="([^"]*)"', text)
    assert len(found) == 4
    assert set(found) == {value_type(TLSNEGO, SC_2005_02)}


def test_mono_tlsnego_final_rstrc(vector_path: VectorPath) -> None:
    """The .NET 3.0 final RSTRC (Feb 2005): leading-space ValueType, proof wrapped with TLS_Wrap."""
    first, _ = parse_response(wx.parse(vector_path("mono-wcf-captures/tlsnego_final_rstrc_feb2005.xml").read_bytes()))
    assert first.binary_exchange is not None
    assert first.binary_exchange.value_type == value_type(TLSNEGO, SC_2005_02)
    assert first.binary_exchange.mechanism == TLSNEGO
    assert isinstance(first.requested_proof_token, EncryptedKey)
    assert first.requested_proof_token.algorithm == WRAP_ALGORITHMS[TLSNEGO]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mechanism", [SPNEGO, TLSNEGO])
def test_binary_exchange_reader_accepts_each_value_type(version: SCVersion, mechanism: str) -> None:
    """What a negotiation leg will write, in RST and RSTR, reads back verbatim in both versions."""
    exchange = BinaryExchange(value_type(mechanism, version), b"\x16\x03\x01\x00\x05hello")
    rst = RequestSecurityToken(RequestType.ISSUE, context="uuid-1", binary_exchange=exchange)
    assert RequestSecurityToken.from_element(roundtrip_xml(rst.to_element(version))).binary_exchange == exchange
    rstr = RequestSecurityTokenResponse(context="uuid-1", binary_exchange=exchange)
    parsed = RequestSecurityTokenResponse.from_element(roundtrip_xml(rstr.to_element(version))).binary_exchange
    assert parsed == exchange and parsed.mechanism == mechanism


class _Loopback:
    """The smallest object of the interface's shape (no mechanism: that is issue 9)."""

    mechanism = SPNEGO
    complete = True

    def step(self, in_token: bytes | None) -> bytes | None:
        return in_token

    def wrap_key(self, key: bytes) -> bytes:
        return key

    def unwrap_key(self, blob: bytes) -> bytes:
        return blob


def test_mechanism_interface_shape() -> None:
    mechanism: NegotiationMechanism = _Loopback()
    assert isinstance(mechanism, NegotiationMechanism)
    assert mechanism.unwrap_key(mechanism.wrap_key(b"k")) == b"k"

    class NoUnwrap:
        mechanism = TLSNEGO
        complete = False
        step = _Loopback.step
        wrap_key = _Loopback.wrap_key

    assert not isinstance(NoUnwrap(), NegotiationMechanism)

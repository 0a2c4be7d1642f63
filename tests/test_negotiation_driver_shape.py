"""WCF's exact body shapes (tests/negotiation_driver_shape.py): the real captures pass, deviations are named, and
``strict`` turns them into refusals; the lenient (WCF-like) service accepts and echoes an AppliesTo (§1.4 step 3)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from negotiation_driver import DriverError, DriverFault
from negotiation_driver_pairs import ntlm_pair, ntlm_users, recording, tls_pair  # noqa: F401 - a fixture
from negotiation_driver_service import in_process
from negotiation_driver_shape import shape_problems
from negotiation_driver_xml import SOAP_NS, VERSIONS, WSA, WSP, parse, split_envelope

FEB = VERSIONS["2005-02"]


def test_the_real_captures_have_wcf_shape(vector_path: Callable[[str], Path]) -> None:
    rstrc = parse(vector_path("mono-wcf-captures/tlsnego_final_rstrc_feb2005.xml").read_bytes())
    assert shape_problems(rstrc, FEB) == []
    text = vector_path("wcf-negotiation-captures/wcf-2015-usernameforssl-tlsnego-abridged.txt").read_text()
    soap12 = f'<s:Body xmlns:s="{SOAP_NS["1.2"]}">'
    bodies = [parse(b.replace("<s:Body>", soap12).encode())[0] for b in re.findall(r"<s:Body>.*?</s:Body>", text, re.S)]
    assert len(bodies) == 4 and [shape_problems(b, FEB) for b in bodies] == [[], [], [], []]
    template = vector_path("wcf-negotiation-captures/adfs-policystoretransfer-spnego-rst-template.xml").read_bytes()
    assert shape_problems(split_envelope(template).body, FEB) == []


def test_deviations_are_named(vector_path: Callable[[str], Path]) -> None:
    path = vector_path("mono-wcf-captures/tlsnego_final_rstrc_feb2005.xml")
    rstrc = parse(path.read_bytes())
    rstr1 = rstrc[0]
    rstr1.append(next(rstr1.iter(FEB.t("Lifetime"))))  # now after KeySize and BinaryExchange
    assert any("RSTR#1 children" in p for p in shape_problems(rstrc, FEB))
    rstrc = parse(path.read_bytes())
    next(rstrc.iter("{*}EncryptedKey")).set("Id", "k")
    assert shape_problems(rstrc, FEB) == ["EncryptedKey has attribute Id"]
    rstrc = parse(path.read_bytes())
    next(rstrc.iter("{*}Reference")).set("ValueType", FEB.token_type)
    assert shape_problems(rstrc, FEB) == ["attached reference is not Reference URI=#<SCT wsu:Id> alone"]
    rstrc = parse(path.read_bytes())
    rstrc.remove(rstrc[1])
    assert shape_problems(rstrc, FEB) == ["RSTRC has 1 children, WCF writes two RSTRs"]
    rst = etree.fromstring(
        f'<t:RequestSecurityToken xmlns:t="{FEB.trust}"><t:TokenType/><t:Entropy/></t:RequestSecurityToken>'
    )
    assert shape_problems(rst, FEB) == [
        "RST children ['TokenType', 'Entropy'], WCF writes ['TokenType', 'RequestType', 'KeySize', 'BinaryExchange']"
    ]


def _with_applies_to(data: bytes) -> bytes:
    """The RST with a wsp:AppliesTo (an EPR) before its BinaryExchange, as a non-WCF client may send it."""
    root = parse(data)
    exchange = next(root.iter("{*}BinaryExchange"))
    applies_to = etree.Element(f"{{{WSP}}}AppliesTo", nsmap={"wsp": WSP, "a": WSA})
    etree.SubElement(etree.SubElement(applies_to, f"{{{WSA}}}EndpointReference"), f"{{{WSA}}}Address").text = "urn:x"
    exchange.addprevious(applies_to)
    return etree.tostring(root)


@pytest.mark.usefixtures("ntlm_users")
def test_strict_refuses_what_lenient_accepts_and_echoes() -> None:
    """§1.4 step 3: WCF remembers an AppliesTo EPR and echoes it in RSTR#1 (after RequestedSecurityToken); it hashes
    the RST as received (§3), so a client that sent it without AppliesTo sees a CombinedHash mismatch.  A strict
    driver service refuses that RST because WCF's client never sends one."""
    client, service = ntlm_pair("1.3", "1.2", strict=False)
    log: list[bytes] = []

    def post(data: bytes, action: str) -> bytes:
        return recording(service, log)(_with_applies_to(data) if action.endswith("RST/Issue") else data, action)

    with pytest.raises(DriverError, match="CombinedHash"):
        client.negotiate(post)
    rstr1 = split_envelope(log[-1]).body[0]
    names = [etree.QName(c).localname for c in rstr1]
    assert names[1:4] == ["RequestedSecurityToken", "AppliesTo", "RequestedAttachedReference"]
    assert shape_problems(split_envelope(log[-1]).body, VERSIONS["1.3"]) == []
    client, service = ntlm_pair("1.3", "1.2")
    with pytest.raises(DriverFault, match="InvalidRequest"):
        client.negotiate(lambda data, action: service.handle(_with_applies_to(data))[1])
    assert (service.last_refusal or "").startswith("not WCF's shape: RST children")


def test_strict_client_refuses_a_reordered_final_leg() -> None:
    def reorder(root: etree._Element) -> None:
        lifetime = next(root.iter("{*}Lifetime"))
        lifetime.getparent().append(lifetime)  # type: ignore[union-attr]

    client, service = tls_pair("1.3", "1.1")
    with pytest.raises(DriverError, match="not WCF's shape: RSTR#1 children"):
        client.negotiate(recording(service, [], reorder))
    client, service = tls_pair("1.3", "1.1", strict=False)
    with pytest.raises(DriverError, match="CombinedHash"):  # lenient: the order is hashed, so §3 still catches it
        client.negotiate(recording(service, [], reorder))


def test_strict_pairs_pass_in_process() -> None:
    client, service = tls_pair("2005-02", "1.1", mutual=True)
    assert client.strict and service.strict
    assert client.negotiate(in_process(service)).identifier in service.contexts

"""The legs wssc writes have the shapes of real WCF exchanges (vectors/wcf-negotiation-captures, mono-wcf-captures):
element order, namespaces, the attributes that matter (Context present, ValueType, EncodingType, Algorithm,
mustUnderstand), ignoring values that are per-exchange (ids, times, base64).

The one deliberate difference: the captured SCTs carry a ``dnse:Cookie`` (their bindings were
``SecurityBindingElement.Create*Negotiation*`` defaults, cookie mode), a wsHttpBinding's negotiated SCT does not
(NEGOTIATION.md sections 4 and 10), nor does wssc's; the cookie is left out of the comparison.
"""

from __future__ import annotations

import re
import ssl
import tempfile
from pathlib import Path
from typing import Any

from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from pki import ROOT, issue, key_pem, pem
from wssc import namespaces as ns
from wssc.conversation.negotiating import ClientNegotiation
from wssc.primitives import xml as wx
from wssc.security.soap import SOAP12
from wssc.trust.negotiation import SPNEGO
from wssc.trust.negotiation.acceptor import NegotiationAcceptor
from wssc.trust.negotiation.initiator import NegotiationInitiator
from wssc.trust.negotiation.legs import Leg, Negotiated
from wssc.trust.negotiation.tls import TLSNEGO, TlsAcceptor, TlsInitiator, client_context, server_context
from wssc.versions import SC_2005_02

CAPTURES = "wcf-negotiation-captures/"
KEPT_ATTRIBUTES = {
    "ValueType",
    "EncodingType",
    "Algorithm",
    "Context",
    "URI",
    ns.qn(SOAP12.namespace, "mustUnderstand"),
}
SERVICE = issue("service.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["service.example"])


def shape(element: etree._Element) -> tuple[Any, ...]:
    """Tag, the attributes that matter (per-exchange values blanked) and the children's shapes."""
    attributes = []
    for name, value in sorted(element.attrib.items()):
        if name in KEPT_ATTRIBUTES:
            per_exchange = name in ("Context", "URI") or name == ns.qn(SOAP12.namespace, "mustUnderstand")
            attributes.append(
                (name, "*" if per_exchange and name != ns.qn(SOAP12.namespace, "mustUnderstand") else value)
            )
    children = tuple(
        shape(child) for child in element if isinstance(child.tag, str) and etree.QName(child).localname != "Cookie"
    )
    return (element.tag, tuple(attributes), children)


class FixedToken:
    """A stand-in SPNEGO mechanism whose first token is a NegTokenInit placeholder: only the shape matters here."""

    mechanism = SPNEGO
    complete = False

    def step(self, in_token: bytes | None) -> bytes | None:
        return b"\x60\x82negTokenInit"

    def wrap_key(self, key: bytes) -> bytes:
        raise AssertionError

    def unwrap_key(self, blob: bytes) -> bytes:
        raise AssertionError


def test_first_leg_has_the_shape_of_the_adfs_first_leg(vector_path) -> None:
    template: Path = vector_path(CAPTURES + "adfs-policystoretransfer-spnego-rst-template.xml")
    theirs = wx.parse(template.read_bytes().replace(b"{KerberosTicket}", b"AAAA"))
    negotiation = ClientNegotiation(
        FixedToken(),
        SC_2005_02,
        SOAP12,
        "http://adfs.example/adfs/services/policystoretransfer",
    )
    data, action = negotiation.first()
    ours = wx.parse(data)
    assert action == "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue"
    body = SOAP12.qname("Body")
    assert shape(ours.find(body)) == shape(theirs.find(body))
    header = SOAP12.qname("Header")
    assert shape(ours.find(header)) == shape(theirs.find(header))
    rst = ours.find(body)[0]
    assert rst.get("Context", "").startswith("uuid-")
    assert rst.nsmap.get("t") == SC_2005_02.trust  # the RST declares its own prefix, as WCF writes it


def _transcript_legs(path: Path) -> list[etree._Element]:
    """The four legs of the abridged 2015 transcript, parsed (the s: prefix declared for them)."""
    text = path.read_text()
    bodies = re.findall(r"<s:Body>(.*?)</s:Body>", text, re.S)
    return [wx.parse(b.strip().encode()) for b in bodies]


def _our_exchange(tls: ssl.TLSVersion) -> list[Leg]:
    """A Feb 2005 TLSNEGO exchange between wssc's client and service legs, as they go on the wire."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "s.pem").write_bytes(pem(SERVICE[0]))
        (Path(tmp) / "s.key").write_bytes(key_pem(SERVICE[1]))
        context = server_context(str(Path(tmp) / "s.pem"), str(Path(tmp) / "s.key"))
    context.minimum_version = context.maximum_version = tls
    acceptor = NegotiationAcceptor(lambda: TlsAcceptor(context), TLSNEGO)
    initiator = NegotiationInitiator(TlsInitiator(client_context(cadata=pem(ROOT[0]).decode())), SC_2005_02)
    legs = [initiator.first_leg()]
    while True:
        reply = acceptor.receive(legs[-1].action, wx.parse(wx.serialize(legs[-1].body)))
        legs.append(reply.leg)
        result = initiator.receive(wx.parse(wx.serialize(reply.leg.body)))
        if isinstance(result, Negotiated):
            return legs
        legs.append(result)


def test_tlsnego_legs_have_the_shape_of_the_2015_wcf_exchange(vector_path) -> None:
    """UserNameForSsl (Feb 2005): RST{ClientHello} -> RSTR -> RSTR -> final RSTRC, leg by leg (TLS 1.2, as SChannel
    negotiated then: the final leg carries the service's CCS + Finished)."""
    theirs = _transcript_legs(vector_path(CAPTURES + "wcf-2015-usernameforssl-tlsnego-abridged.txt"))
    ours = _our_exchange(ssl.TLSVersion.TLSv1_2)
    assert len(theirs) == len(ours) == 4
    for leg, (mine, captured) in enumerate(zip(ours, theirs, strict=True), 1):
        assert shape(mine.body) == shape(captured), f"leg {leg}"
    assert [leg.action for leg in ours] == [SC_2005_02.action("RST/Issue")] + [SC_2005_02.action("RSTR/Issue")] * 3


def test_final_leg_has_the_shape_of_the_mono_capture(vector_path) -> None:
    """The .NET 3.0 final RSTRC (mono-wcf-captures): RSTR#1 in WCF's fixed order, RSTR#2 the Authenticator."""
    theirs = wx.parse(vector_path("mono-wcf-captures/tlsnego_final_rstrc_feb2005.xml").read_bytes())
    ours = _our_exchange(ssl.TLSVersion.TLSv1_2)[-1].body
    assert shape(ours) == shape(theirs)
    proof = ours.find(f".//{{{ns.XENC}}}EncryptedKey")
    assert proof is not None and proof.get("Id") is None and proof.find(f"{{{ns.DS}}}KeyInfo") is None

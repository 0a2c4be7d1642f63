"""Negotiation legs sans I/O (wssc.trust.negotiation.initiator/acceptor): WCF's order, checks and limits.

NEGOTIATION.md sections 1.3 (client checks), 1.4 (service rules, final RSTRC order), 3 (CombinedHash) and 7
(timeout, pending limit, faults), driven over TLSNEGO in memory.
"""

from __future__ import annotations

import copy
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from pki import ROOT, issue, key_pem, pem
from wssc.errors import FailedAuthentication, InvalidRequest, ServerTooBusy, TrustFailedAuthentication
from wssc.primitives import xml as wx
from wssc.trust.negotiation import TLSNEGO, TLSNEGO_FEB2005_WRITTEN
from wssc.trust.negotiation.acceptor import MAX_PENDING_NEGOTIATIONS, NEGOTIATION_TIMEOUT, NegotiationAcceptor
from wssc.trust.negotiation.authenticator import ExchangeHash, without_issued_token
from wssc.trust.negotiation.initiator import NegotiationInitiator
from wssc.trust.negotiation.legs import Leg, Negotiated
from wssc.trust.negotiation.tls import TlsAcceptor, TlsInitiator, client_context, server_context
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

SERVICE = issue("service.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["service.example"])
VERSIONS = [pytest.param(SC_1_3, id="1.3"), pytest.param(SC_2005_02, id="2005-02")]
TLS = [pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"), pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3")]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("legs")
    (folder / "s.pem").write_bytes(pem(SERVICE[0]))
    (folder / "s.key").write_bytes(key_pem(SERVICE[1]))
    return str(folder / "s.pem"), str(folder / "s.key")


def _acceptor(files: tuple[str, str], clock: Clock | None = None, tls: ssl.TLSVersion | None = None, **kw: object):
    def new() -> TlsAcceptor:
        context = server_context(*files)
        if tls is not None:
            context.minimum_version = context.maximum_version = tls
        return TlsAcceptor(context)

    return NegotiationAcceptor(new, TLSNEGO, clock=clock or Clock(), **kw)  # type: ignore[arg-type]


def _initiator(version: SCVersion, **kw: object) -> NegotiationInitiator:
    return NegotiationInitiator(TlsInitiator(client_context(cadata=pem(ROOT[0]).decode())), version, **kw)  # type: ignore[arg-type]


def _wire(element: etree._Element) -> etree._Element:
    """The element as the peer parses it off the wire."""
    return wx.parse(wx.serialize(element))


def run(initiator: NegotiationInitiator, acceptor: NegotiationAcceptor) -> tuple[Negotiated, Negotiated, list[Leg]]:
    legs = [initiator.first_leg()]
    while True:
        reply = acceptor.receive(legs[-1].action, _wire(legs[-1].body))
        legs.append(reply.leg)
        result = initiator.receive(_wire(reply.leg.body))
        if isinstance(result, Negotiated):
            assert reply.negotiated is not None
            return result, reply.negotiated, legs
        assert reply.negotiated is None
        legs.append(result)


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("version", VERSIONS)
def test_negotiation_round_trip(files: tuple[str, str], version: SCVersion, tls: ssl.TLSVersion) -> None:
    client, service, legs = run(_initiator(version), _acceptor(files, tls=tls))
    assert client.key == service.key and len(client.key) == 32
    assert client.token.identifier == service.token.identifier and client.token.identifier.startswith("urn:uuid:")
    assert client.context == service.context
    trust = version.trust
    last = f"{trust}/RSTR/Issue" if version is SC_2005_02 else f"{trust}/RSTRC/IssueFinal"
    assert [leg.action for leg in legs] == [f"{trust}/RST/Issue", f"{trust}/RSTR/Issue", f"{trust}/RSTR/Issue", last]
    first = legs[0].body
    assert [etree.QName(c).localname for c in first] == ["TokenType", "RequestType", "KeySize", "BinaryExchange"]
    assert first[3].get("ValueType") == (TLSNEGO_FEB2005_WRITTEN if version is SC_2005_02 else TLSNEGO)
    final = legs[-1].body
    assert etree.QName(final).localname == "RequestSecurityTokenResponseCollection" and len(final) == 2
    names = [etree.QName(c).localname for c in final[0]]
    expected = ["TokenType", "RequestedSecurityToken", "RequestedAttachedReference", "RequestedUnattachedReference"]
    expected += ["RequestedProofToken", "Lifetime", "KeySize"]
    if tls is ssl.TLSVersion.TLSv1_2:
        expected.append("BinaryExchange")  # the service's CCS + Finished; TLS 1.3 ends with the client's Finished
    assert names == expected
    proof = final[0].find(f"{{{trust}}}RequestedProofToken")[0]
    assert proof.get("Id") is None and len(proof) == 2  # EncryptionMethod, CipherData: no Id, no KeyInfo
    assert [etree.QName(c).localname for c in final[1]] == ["Authenticator"]


def test_combined_hash_is_whitespace_and_prefix_exact() -> None:
    """Removing the two children keeps their whitespace (NEGOTIATION.md section 3); prefixes do not matter."""
    trust = SC_1_3.trust
    pretty = wx.parse(
        f'<t:RequestSecurityTokenResponse xmlns:t="{trust}" Context="c">\n <t:TokenType>x</t:TokenType>\n'
        f" <t:RequestedSecurityToken><a/></t:RequestedSecurityToken>\n <t:KeySize>256</t:KeySize>\n"
        f"</t:RequestSecurityTokenResponse>".encode()
    )
    stripped = without_issued_token(pretty, SC_1_3)
    assert wx.c14n(stripped).count(b"\n") == 4
    other_prefix = wx.parse(
        f'<x:RequestSecurityTokenResponse xmlns:x="{trust}" Context="c">\n <x:TokenType>x</x:TokenType>\n\n'
        f" <x:KeySize>256</x:KeySize>\n</x:RequestSecurityTokenResponse>".encode()
    )
    one, two = ExchangeHash(), ExchangeHash()
    one.add(stripped)
    two.add(other_prefix)
    assert one.combined_hash(b"k" * 32) != two.combined_hash(b"k" * 32)  # exc-c14n keeps the prefix used
    assert len(one.combined_hash(b"k" * 32)) == 32


def _final_leg(files: tuple[str, str], version: SCVersion = SC_1_3):
    """An initiator waiting for the final leg, and that leg as received."""
    initiator, acceptor = _initiator(version), _acceptor(files, tls=ssl.TLSVersion.TLSv1_2)
    leg = initiator.first_leg()
    while True:
        reply = acceptor.receive(leg.action, _wire(leg.body))
        if reply.negotiated is not None:
            return initiator, _wire(reply.leg.body)
        result = initiator.receive(_wire(reply.leg.body))
        assert isinstance(result, Leg)
        leg = result


def _tamper(final: etree._Element, path: str, value: str, attribute: str | None = None) -> etree._Element:
    final = copy.deepcopy(final)
    target = final.xpath(path, namespaces={"t": SC_1_3.trust, "e": "http://www.w3.org/2001/04/xmlenc#"})[0]
    if attribute is None:
        target.text = value
    else:
        target.set(attribute, value)
    return final


@pytest.mark.parametrize(
    ("path", "value", "attribute", "error", "match"),
    [
        ("t:RequestSecurityTokenResponse[1]/t:KeySize", "128", None, FailedAuthentication, "CombinedHash"),
        (
            "t:RequestSecurityTokenResponse[1]/t:Lifetime/*[2]",
            "2099-01-01T00:00:00Z",
            None,
            FailedAuthentication,
            "CombinedHash",
        ),
        (
            "t:RequestSecurityTokenResponse[2]/t:Authenticator/t:CombinedHash",
            "AAAA",
            None,
            FailedAuthentication,
            "CombinedHash",
        ),
        ("t:RequestSecurityTokenResponse[1]", "uuid-other", "Context", InvalidRequest, "Context"),
        ("t:RequestSecurityTokenResponse[2]", "uuid-other", "Context", InvalidRequest, "Context"),
        (
            "t:RequestSecurityTokenResponse[1]/t:RequestedProofToken/e:EncryptedKey/e:EncryptionMethod",
            "http://schemas.xmlsoap.org/2005/02/trust/spnego#GSS_Wrap",
            "Algorithm",
            InvalidRequest,
            "wrapped with",
        ),
        ("t:RequestSecurityTokenResponse[1]/t:TokenType", "urn:other", None, InvalidRequest, "context token"),
        ("t:RequestSecurityTokenResponse[1]/t:BinaryExchange", " " + TLSNEGO, "ValueType", InvalidRequest, "ValueType"),
    ],
)
def test_client_refuses_tampered_final_leg(files, path, value, attribute, error, match) -> None:
    initiator, final = _final_leg(files)
    with pytest.raises(error, match=match):
        initiator.receive(_tamper(final, path, value, attribute))
    with pytest.raises(RuntimeError):  # the negotiation is over
        initiator.receive(final)


def test_client_refuses_missing_authenticator_and_entropy(files: tuple[str, str]) -> None:
    initiator, final = _final_leg(files)
    del final[1]
    with pytest.raises(InvalidRequest, match="two RSTRs"):
        initiator.receive(final)
    initiator, final = _final_leg(files)
    entropy = etree.SubElement(final[0], f"{{{SC_1_3.trust}}}Entropy")
    etree.SubElement(entropy, f"{{{SC_1_3.trust}}}BinarySecret").text = "AAAAAAAAAAAAAAAAAAAAAA=="
    with pytest.raises(InvalidRequest, match="Entropy"):
        initiator.receive(final)


def test_client_refuses_a_key_size_the_suite_does_not_allow(files: tuple[str, str]) -> None:
    initiator = _initiator(SC_1_3, key_size=256, allowed_key_sizes=frozenset({192}))
    acceptor = _acceptor(files)
    with pytest.raises(InvalidRequest, match="256-bit proof key"):
        run(initiator, acceptor)


def test_leg_of_other_version_or_element_is_refused(files: tuple[str, str]) -> None:
    initiator = _initiator(SC_1_3)
    initiator.first_leg()
    with pytest.raises(InvalidRequest, match="RSTR or RSTRC"):
        initiator.receive(wx.parse(f'<t:RequestSecurityTokenResponse xmlns:t="{SC_2005_02.trust}"/>'.encode()))


# -- service ---------------------------------------------------------------------------------------------------


def test_feb2005_service_takes_both_tlsnego_spellings_and_echoes(files: tuple[str, str]) -> None:
    for spelling in (TLSNEGO, TLSNEGO_FEB2005_WRITTEN):
        initiator = _initiator(SC_2005_02)
        initiator.value_type = spelling
        client, service, legs = run(initiator, _acceptor(files))
        assert client.key == service.key
        assert all(
            leg.body.find(f".//{{{SC_2005_02.trust}}}BinaryExchange").get("ValueType") == spelling for leg in legs[:-1]
        )


def test_13_service_refuses_the_leading_space(files: tuple[str, str]) -> None:
    initiator = _initiator(SC_1_3)
    initiator.value_type = TLSNEGO_FEB2005_WRITTEN
    with pytest.raises(InvalidRequest, match="negotiates"):
        run(initiator, _acceptor(files))


def test_service_state_rules(files: tuple[str, str]) -> None:
    clock = Clock()
    acceptor = _acceptor(files, clock)
    initiator = _initiator(SC_1_3)
    first = initiator.first_leg()
    reply = acceptor.receive(first.action, _wire(first.body))
    assert acceptor.pending == 1
    with pytest.raises(InvalidRequest, match="exists"):  # the same Context again
        acceptor.receive(first.action, _wire(first.body))
    second = initiator.receive(_wire(reply.leg.body))
    assert isinstance(second, Leg)
    stray = copy.deepcopy(second.body)
    stray.set("Context", "uuid-unknown")
    with pytest.raises(InvalidRequest, match="no negotiation"):
        acceptor.receive(second.action, stray)
    assert acceptor.pending == 1  # an unknown Context harms no other negotiation
    final = acceptor.receive(second.action, _wire(second.body))
    assert final.negotiated is not None and acceptor.pending == 0
    with pytest.raises(InvalidRequest, match="no negotiation"):  # a replayed leg after completion
        acceptor.receive(second.action, _wire(second.body))
    with pytest.raises(InvalidRequest, match="existed"):  # a replayed first leg
        acceptor.receive(first.action, _wire(first.body))


def test_negotiation_times_out(files: tuple[str, str]) -> None:
    clock = Clock()
    acceptor = _acceptor(files, clock)
    initiator = _initiator(SC_1_3)
    first = initiator.first_leg()
    reply = acceptor.receive(first.action, _wire(first.body))
    second = initiator.receive(_wire(reply.leg.body))
    assert isinstance(second, Leg)
    clock.now += NEGOTIATION_TIMEOUT
    with pytest.raises(InvalidRequest, match="no negotiation"):
        acceptor.receive(second.action, _wire(second.body))


def test_too_many_pending_negotiations(files: tuple[str, str]) -> None:
    clock = Clock()
    acceptor = _acceptor(files, clock, max_pending=3)
    waiting = []
    for _ in range(3):
        initiator = _initiator(SC_1_3)
        first = initiator.first_leg()
        waiting.append((initiator, acceptor.receive(first.action, _wire(first.body))))
    extra = _initiator(SC_1_3).first_leg()
    with pytest.raises(ServerTooBusy):
        acceptor.receive(extra.action, _wire(extra.body))
    initiator, reply = waiting[0]  # the pending ones are untouched and finish
    leg = initiator.receive(_wire(reply.leg.body))
    assert isinstance(leg, Leg)
    final = acceptor.receive(leg.action, _wire(leg.body))
    assert isinstance(initiator.receive(_wire(final.leg.body)), Negotiated)
    clock.now += NEGOTIATION_TIMEOUT + timedelta(seconds=1)
    acceptor.receive(extra.action, _wire(extra.body))  # expired ones make room
    assert MAX_PENDING_NEGOTIATIONS == 128


def test_mechanism_failure_is_failed_authentication(files: tuple[str, str]) -> None:
    acceptor = _acceptor(files)
    first = _initiator(SC_1_3).first_leg()
    body = _wire(first.body)
    exchange = body.find(f"{{{SC_1_3.trust}}}BinaryExchange")
    exchange.text = wx.b64encode(b"\x16\x03\x01\x00\x05garbage")
    with pytest.raises((TrustFailedAuthentication, InvalidRequest)):
        acceptor.receive(first.action, body)
    assert acceptor.pending == 0


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda rst: rst.remove(rst.find(f"{{{SC_1_3.trust}}}BinaryExchange")), "BinaryExchange"),
        (lambda rst: rst.attrib.pop("Context"), "Context"),
        (lambda rst: setattr(rst.find(f"{{{SC_1_3.trust}}}KeySize"), "text", "128"), "KeySize"),
        (lambda rst: setattr(rst.find(f"{{{SC_1_3.trust}}}KeySize"), "text", "255"), "KeySize"),
        (lambda rst: rst.find(f"{{{SC_1_3.trust}}}BinaryExchange").set("ValueType", "urn:x"), "negotiates"),
    ],
)
def test_service_refuses_malformed_rst(files: tuple[str, str], mutate, match) -> None:
    acceptor = _acceptor(files)
    first = _initiator(SC_1_3).first_leg()
    body = _wire(first.body)
    mutate(body)
    with pytest.raises(InvalidRequest, match=match):
        acceptor.receive(first.action, body)
    with pytest.raises(InvalidRequest, match="negotiation leg"):
        acceptor.receive(SC_1_3.action("RST/SCT"), _wire(first.body))


# -- real captures ----------------------------------------------------------------------------------------------


def test_mono_capture_final_leg_parses_as_the_initiator_reads_it(vector_path) -> None:
    """The .NET 3.0 final RSTRC: read up to the unwrap, which needs the real TLS session (not captured)."""
    path: Path = vector_path("mono-wcf-captures/tlsnego_final_rstrc_feb2005.xml")
    final = wx.parse(path.read_bytes())
    initiator = _initiator(SC_2005_02)
    initiator.first_leg()
    initiator.context = final[0].get("Context")
    initiator._replies = 0
    with pytest.raises(FailedAuthentication):  # our TLS session is not the captured one: the records fail to decrypt
        initiator.receive(final)

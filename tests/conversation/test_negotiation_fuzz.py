"""Mutated negotiation legs (issue 9, "hard to attack"): every mutant of a legitimate TLSNEGO or NTLM leg gets a leg
or one of WCF's negotiation faults (or the security fault a message that is no leg gets), never an internal error;
the service still negotiates for a legitimate client afterwards, and nothing stays pending.  ``WSSC_FUZZ_SEED``
picks another run, ``WSSC_FUZZ_COUNT`` another length."""

from __future__ import annotations

import base64
import contextlib
import copy
import logging
import os
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from negotiation_support import pump
from pki import ROOT, issue
from wssc.adapters.http_client import _flow_establish
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.negotiating import NegotiatedBootstrap, spnego, tlsnego
from wssc.conversation.negotiation import Negotiator
from wssc.conversation.service import FaultReply, SecureConversationService, ServiceSettings, TokenReply
from wssc.primitives.xml import parse, serialize
from wssc.security.faults import read_fault
from wssc.security.soap import SOAP11, SOAP12
from wssc.versions import SC_1_3, SC_2005_02

SEED = int(os.environ.get("WSSC_FUZZ_SEED", "0"))
COUNT = int(os.environ.get("WSSC_FUZZ_COUNT", "300"))
SERVICE = issue("service.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["service.example"])
#: the fault codes a mutated leg may get (local names): WCF's negotiation faults, and the security faults of a
#: message that the mutation turned into something other than a leg
ALLOWED = {"InvalidRequest", "FailedAuthentication", "ServerTooBusy", "InvalidSecurity", "MustUnderstand"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def _service(kind: str, clock: Clock | None = None) -> SecureConversationService:
    if kind == "tlsnego":
        negotiator = Negotiator.tlsnego(*SERVICE)
    else:
        negotiator = Negotiator.spnego(ntlm_users={"FUZZ\\alice": "secret"}, protocol="ntlm")
    settings = ServiceSettings(bootstrap=negotiator.bootstrap, accept_bootstrap_messages=True)
    return SecureConversationService(
        ServiceCredentials(*SERVICE), settings=settings, negotiator=negotiator, clock=clock or Clock()
    )


def _bootstrap(kind: str) -> NegotiatedBootstrap:
    if kind == "tlsnego":
        return NegotiatedBootstrap(tlsnego(service_certificate=SERVICE[0]))
    return NegotiatedBootstrap(
        spnego("host/service.example", username="FUZZ\\alice", password="secret", protocol="ntlm")
    )


def _until(service: SecureConversationService, kind: str, version, soap, index: int) -> bytes:  # type: ignore[no-untyped-def]
    """A fresh negotiation run legitimately up to its leg ``index``, which is returned unsent."""
    negotiation = _bootstrap(kind).negotiation(version, soap, "http://x/")
    step = negotiation.first()
    for _ in range(index):
        result = negotiation.receive(service.receive(step[0]).reply.data)  # type: ignore[union-attr]
        assert isinstance(result, tuple)
        step = result
    return step[0]


def _mutations(rng: random.Random) -> list[Callable[[etree._Element], None]]:
    def token(el: etree._Element) -> bytes:
        try:
            return base64.b64decode(el.text or "")
        except ValueError:  # an earlier mutation broke it: start from nothing
            return b""

    def flip_token(root: etree._Element) -> None:
        for el in root.iter("{*}BinaryExchange"):
            data = bytearray(token(el))
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            el.text = base64.b64encode(bytes(data)).decode()

    def truncate_token(root: etree._Element) -> None:
        for el in root.iter("{*}BinaryExchange"):
            data = token(el)
            el.text = base64.b64encode(data[: rng.randrange(len(data) + 1)]).decode()

    def drop_element(root: etree._Element) -> None:
        elements = [e for e in root.iter() if isinstance(e.tag, str) and e.getparent() is not None]
        victim = rng.choice(elements)
        victim.getparent().remove(victim)  # type: ignore[union-attr]

    def duplicate_element(root: etree._Element) -> None:
        elements = [e for e in root.iter() if isinstance(e.tag, str) and e.getparent() is not None]
        victim = rng.choice(elements)
        victim.addnext(copy.deepcopy(victim))

    def change_attribute(root: etree._Element) -> None:
        with_attributes = [e for e in root.iter() if isinstance(e.tag, str) and e.attrib]
        victim = rng.choice(with_attributes)
        name = rng.choice(list(victim.attrib))
        victim.set(name, rng.choice(["", " ", "x" * 600, victim.get(name, "") + "x", "urn:other"]))

    def change_text(root: etree._Element) -> None:
        with_text = [e for e in root.iter() if isinstance(e.tag, str) and (e.text or "").strip()]
        victim = rng.choice(with_text)
        victim.text = rng.choice(["", "0", "-1", "99999999999", "!!notbase64", (victim.text or "") + "A"])

    def other_namespace(root: etree._Element) -> None:
        trust = [e for e in root.iter() if isinstance(e.tag, str) and "trust" in (etree.QName(e).namespace or "")]
        victim = rng.choice(trust)
        other = SC_1_3.trust if SC_2005_02.trust in victim.tag else SC_2005_02.trust
        victim.tag = f"{{{other}}}{etree.QName(victim).localname}"

    return [flip_token, truncate_token, drop_element, duplicate_element, change_attribute, change_text, other_namespace]


@pytest.mark.parametrize("kind", ["tlsnego", "ntlm"])
def test_mutated_legs_get_legs_or_named_faults(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(f"{SEED}-{kind}")
    clock = Clock()
    service = _service(kind, clock)
    mutations = _mutations(rng)
    caplog.set_level(logging.ERROR, logger="wssc")
    for _ in range(COUNT):
        clock.now += timedelta(seconds=61)  # the previous case's negotiation times out: room for this one
        version, soap = rng.choice([SC_1_3, SC_2005_02]), rng.choice([SOAP11, SOAP12])
        root = parse(_until(service, kind, version, soap, rng.randrange(2)))
        for _ in range(rng.randint(1, 3)):
            with contextlib.suppress(IndexError):  # nothing left for that mutation to work on
                rng.choice(mutations)(root)
        event = service.receive(serialize(root) if rng.random() < 0.9 else serialize(root)[: rng.randrange(1, 400)])
        if isinstance(event, FaultReply):
            fault = read_fault(parse(event.reply.data))
            assert fault is not None
            assert fault.code.rpartition("}")[2].rpartition(":")[2] in ALLOWED, fault.code
        else:
            assert isinstance(event, TokenReply)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "an internal error was logged"
    legitimate = _bootstrap(kind)
    session = ClientSession(legitimate, "http://x/", ClientSettings(), clock=clock)
    clock.now += timedelta(seconds=61)
    pump(_flow_establish(session), service, [])
    assert legitimate.context is not None and session.context is not None

"""The issue's scenario, in one process and in memory: establish, 1,000 calls, renew, 1,000 calls, amend,
cancel, then a call refused with wsc:BadContextToken.  Every response is verified by the client (and its
content checked); the whole run is timed.

It runs twice, crossing the versions so that both WS-SC versions and both SOAP versions are covered
without four full runs: WS-SC 1.3 over SOAP 1.2 (``ws2007HttpBinding``) and Feb 2005 over SOAP 1.1.
"""

from __future__ import annotations

import time

import pytest
from conversation_support import World, echo_body, make_world
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.client import Amended, Cancelled, Renewed
from wssc.conversation.context import Claim
from wssc.conversation.service import TokenReply
from wssc.errors import BadContextToken
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

CALLS = 1000
#: generous: a run takes about 4 s on a laptop; this catches an accidental quadratic, not a slow machine
TIME_LIMIT_SECONDS = 40.0


def _calls(world: World, session: object, prefix: str, instance: str | None) -> None:
    for i in range(CALLS):
        event = world.call(session, f"{prefix} {i}")  # type: ignore[arg-type]
        assert event.message.context is not None
        assert event.message.context.instance == instance


@pytest.mark.parametrize(
    ("version", "soap"),
    [pytest.param(SC_1_3, SOAP12, id="sc13-soap12"), pytest.param(SC_2005_02, SOAP11, id="sc200502-soap11")],
)
def test_establish_calls_renew_calls_amend_cancel(
    credentials: ServiceCredentials,
    amender: tuple[x509.Certificate, rsa.RSAPrivateKey],
    version: SCVersion,
    soap: SOAPVersion,
    record_property: pytest.RecordProperty,
) -> None:
    world = make_world(version, soap, credentials)
    started = time.perf_counter()

    session = world.establish()
    assert session.context is not None
    identifier = session.context.identifier
    _calls(world, session, "first", None)
    phase_one = time.perf_counter() - started

    event = world.service.receive(session.renew())
    assert isinstance(event, TokenReply)
    renewed = session.receive(event.reply.data)
    assert isinstance(renewed, Renewed)
    assert renewed.context.identifier == identifier and renewed.context.instance is not None
    _calls(world, session, "second", renewed.context.instance)

    event = world.service.receive(session.amend(*amender))
    assert isinstance(event, TokenReply)
    assert isinstance(session.receive(event.reply.data), Amended)
    assert Claim("x509", "CN=amending client", "endorsing-signature") in world.stored(session).claims  # type: ignore[union-attr]
    assert world.call(session, "amended").claims[-1].value == "CN=amending client"

    event = world.service.receive(session.cancel())
    assert isinstance(event, TokenReply)
    assert session.receive(event.reply.data) == Cancelled(identifier)

    ghost = world.holding(renewed.context)
    world.expect_fault(ghost.request(echo_body("after cancel"), "urn:e:x"), BadContextToken, ghost)

    elapsed = time.perf_counter() - started
    record_property("seconds", round(elapsed, 3))
    record_property("ms_per_call", round(1000 * phase_one / CALLS, 3))
    assert elapsed < TIME_LIMIT_SECONDS, f"{2 * CALLS} calls took {elapsed:.1f} s"
    assert len(world.service.store) == 0  # type: ignore[arg-type]

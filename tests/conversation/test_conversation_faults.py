"""Faults and isolation (WS-SC 1.3 section 9, SPEC-NOTES section 8): every bad request gets a FaultReply
whose bytes are a SOAP fault of the request's SOAP version naming the spec's code, never an exception out
of ``SecureConversationService.receive``; and an unrelated live context keeps working afterwards."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Callable
from datetime import timedelta

import pytest
from conversation_support import ECHO_ACTION, World, check_fault_envelope, echo_body, endorsing_token, make_world
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from wssc import namespaces as ns
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.client import ClientSession, Renewed, Response
from wssc.conversation.context import SecurityContext
from wssc.conversation.service import ApplicationRequest, FaultReply, ServiceSettings, TokenReply
from wssc.errors import (
    BadContextToken,
    FailedCheck,
    InvalidRequest,
    InvalidSecurity,
    RenewNeeded,
    WsscError,
)
from wssc.primitives.xml import parse
from wssc.security.keys import StaticKeys
from wssc.security.policy import Requirements
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.security.unprotect import Receiver
from wssc.tokens import reference as strs
from wssc.trust import actions
from wssc.trust.elements import RequestType
from wssc.trust.entropy import client_entropy
from wssc.trust.rst import RequestSecurityToken
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

KeyPair = tuple[x509.Certificate, rsa.RSAPrivateKey]
XENC_CIPHER_VALUE = f"{{{ns.XENC}}}CipherValue"
XENC_ENCRYPTED_DATA = f"{{{ns.XENC}}}EncryptedData"


@pytest.fixture
def bystander(world: World) -> ClientSession:
    """An unrelated live context; every test checks it still works after the fault."""
    session = world.establish()
    world.call(session, "bystander before")
    return session


def still_works(world: World, session: ClientSession) -> None:
    world.call(session, "bystander after")
    world.call(session, "and again")


def app_request(session: ClientSession) -> bytes:
    return session.request(echo_body("x"), ECHO_ACTION)


def renew_rst(world: World, target: SecurityContext) -> RequestSecurityToken:
    return RequestSecurityToken(
        request_type=RequestType.RENEW,
        token_type=world.version.sct_token_type,
        context="uuid-renew",
        entropy=client_entropy(256),
        key_size=256,
        computed_key_algorithm=world.version.ck_psha1,
        renew_target=strs.external_sct(target.identifier, world.version, target.instance),
    )


# -- malformed input -----------------------------------------------------------------------------------------

GARBAGE = {
    "empty": b"",
    "text": b"this is not XML",
    "truncated": b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body>",
    "binary": bytes(range(256)),
    "dtd": b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    "not-soap": b"<hello>world</hello>",
    "wrong-envelope-ns": b"<s:Envelope xmlns:s='urn:not-soap'><s:Body/></s:Envelope>",
    "deep": b"<a>" * 5000 + b"</a>" * 5000,
}


@pytest.mark.parametrize("garbage", list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_gets_a_fault(world: World, bystander: ClientSession, garbage: bytes) -> None:
    event = world.service.receive(garbage)
    assert isinstance(event, FaultReply)
    assert isinstance(event.error, InvalidSecurity)
    # The SOAP version of unparseable input is unknown: SOAP 1.2, the service's default.
    check_fault_envelope(event.reply.data, InvalidSecurity, SOAP12, world.version)
    assert event.reply.status == 500
    still_works(world, bystander)


def test_unprotected_envelope_gets_a_fault_in_its_soap_version(world: World, bystander: ClientSession) -> None:
    plain = world.envelope(echo_body("plain"), ECHO_ACTION)
    world.expect_fault(plain, InvalidSecurity)
    root = etree.fromstring(plain)
    root.remove(root.find(world.soap.qname("Header")))  # type: ignore[arg-type]
    world.expect_fault(etree.tostring(root), InvalidSecurity)
    still_works(world, bystander)


# -- wrong keys ----------------------------------------------------------------------------------------------


def _tamper(data: bytes, kind: str) -> bytes:
    root = etree.fromstring(data)
    wanted = ns.XENC_CONTENT if kind == "body" else ns.XENC + "Element"
    ed = next(e for e in root.iter(XENC_ENCRYPTED_DATA) if e.get("Type") == wanted)
    cipher_value = ed.find(f".//{XENC_CIPHER_VALUE}")
    assert cipher_value is not None and cipher_value.text
    raw = bytearray(base64.b64decode(cipher_value.text))
    raw[len(raw) // 2] ^= 0x01
    cipher_value.text = base64.b64encode(bytes(raw)).decode()
    return etree.tostring(root)


@pytest.mark.parametrize("kind", ["body", "signature"])
def test_tampered_cipher_value_is_bad_context_token(world: World, bystander: ClientSession, kind: str) -> None:
    """A failed check under a context key is wsc:BadContextToken: an unknown context (checked with a random
    key) must fail the same way as a live one, so the fault tells nothing about the context's state."""
    session = world.establish()
    world.expect_fault(_tamper(app_request(session), kind), BadContextToken, session)
    world.call(session, "the victim's context is not harmed by the forgery")
    still_works(world, bystander)


def test_tampered_bootstrap_request_is_failed_check(world: World, bystander: ClientSession) -> None:
    session = world.session()
    world.expect_fault(_tamper(session.establish(), "body"), FailedCheck, session)
    still_works(world, bystander)


def test_wrong_context_key_is_bad_context_token(world: World, bystander: ClientSession) -> None:
    session = world.establish()
    assert session.context is not None
    impostor = world.holding(dataclasses.replace(session.context, key=os.urandom(32)))
    world.expect_fault(app_request(impostor), BadContextToken, impostor)
    world.expect_fault(impostor.renew(), BadContextToken, impostor)
    world.expect_fault(impostor.cancel(), BadContextToken, impostor)
    assert world.stored(session) is not None
    world.call(session, "the real holder is unaffected")
    still_works(world, bystander)


# -- unknown, expired, cancelled -----------------------------------------------------------------------------


def test_unknown_context_is_bad_context_token(world: World, bystander: ClientSession) -> None:
    unknown = SecurityContext.new(os.urandom(32), world.clock(), version=world.version)
    session = world.holding(unknown)
    world.expect_fault(app_request(session), BadContextToken, session)
    world.expect_fault(session.renew(), BadContextToken, session)
    world.expect_fault(session.cancel(), BadContextToken, session)
    still_works(world, bystander)


def test_expired_context_is_renew_needed_and_renew_then_succeeds(world: World, amender: KeyPair) -> None:
    session = world.establish()
    world.call(session, "in use (an unused one is dropped after the inactivity timeout)")
    assert session.context is not None
    world.clock.now = session.context.expires + timedelta(minutes=1)
    bystander = world.establish()

    world.expect_fault(app_request(session), RenewNeeded, session)
    # Only Renew may use an expired context's key.
    world.expect_fault(session.amend(*amender), RenewNeeded, session)
    world.expect_fault(session.cancel(), RenewNeeded, session)
    still_works(world, bystander)

    event = world.service.receive(session.renew())
    assert isinstance(event, TokenReply), getattr(event, "error", None)
    renewed = session.receive(event.reply.data)
    assert isinstance(renewed, Renewed)
    assert renewed.context.expires > world.clock()
    world.call(session, "after renewing an expired context")
    still_works(world, bystander)


def test_expired_context_cannot_smuggle_other_requests_under_the_renew_action(world: World) -> None:
    """The Renew action unlocks expired keys; it must carry a Renew request and nothing else."""
    session = world.establish()
    world.call(session, "in use (an unused one is dropped after the inactivity timeout)")
    context = session.context
    assert context is not None
    world.clock.now = context.expires + timedelta(minutes=1)
    bystander = world.establish()
    renew_action = actions.request_action(world.version, RequestType.RENEW)

    world.expect_fault(world.context_signed(context, echo_body("smuggled"), renew_action), InvalidSecurity)
    cancel = RequestSecurityToken(
        RequestType.CANCEL,
        context="uuid-c",
        cancel_target=strs.external_sct(context.identifier, world.version),
    )
    world.expect_fault(world.context_signed(context, cancel.to_element(world.version), renew_action), InvalidRequest)
    assert world.stored(context) is not None
    still_works(world, bystander)


def test_context_forgotten_after_the_retention_window_is_bad_context_token(world: World) -> None:
    session = world.establish()
    assert session.context is not None
    world.clock.now = session.context.expires + timedelta(minutes=5, seconds=1)
    bystander = world.establish()
    world.expect_fault(app_request(session), BadContextToken, session)
    world.expect_fault(session.renew(), BadContextToken, session)
    still_works(world, bystander)


def test_cancelled_context_is_bad_context_token(world: World, bystander: ClientSession, amender: KeyPair) -> None:
    session = world.establish()
    snapshot = session.context
    assert snapshot is not None
    session.receive(world.service.receive(session.cancel()).reply.data)  # type: ignore[union-attr]
    ghost = world.holding(snapshot)
    world.expect_fault(app_request(ghost), BadContextToken, ghost)
    world.expect_fault(ghost.amend(*amender), BadContextToken, ghost)
    still_works(world, bystander)


# -- replays -------------------------------------------------------------------------------------------------

REPLAYS: dict[str, tuple[Callable[[World, ClientSession, KeyPair], bytes], type[WsscError]]] = {
    "establish": (lambda w, s, k: w.session().establish(), InvalidSecurity),
    "application": (lambda w, s, k: app_request(s), InvalidSecurity),
    "renew": (lambda w, s, k: s.renew(), InvalidSecurity),
    "amend": (lambda w, s, k: s.amend(*k), InvalidSecurity),
    "validate": (lambda w, s, k: s.validate(), InvalidSecurity),
    # Once cancelled the context is gone, so the replay is refused as an unknown context.
    "cancel": (lambda w, s, k: s.cancel(), BadContextToken),
}


@pytest.mark.parametrize("kind", list(REPLAYS))
def test_replayed_request_is_refused(world: World, bystander: ClientSession, amender: KeyPair, kind: str) -> None:
    build, error = REPLAYS[kind]
    session = world.establish()
    data = build(world, session, amender)
    first = world.service.receive(data)
    assert not isinstance(first, FaultReply), first.error
    instance_after_first = world.stored(session).instance if world.stored(session) else None  # type: ignore[union-attr]
    world.expect_fault(data, error)
    stored = world.stored(session)
    if kind == "cancel":
        assert stored is None
    else:
        assert stored is not None and stored.instance == instance_after_first  # no second renewal
    still_works(world, bystander)


def test_replay_of_an_application_request_after_its_response(world: World, bystander: ClientSession) -> None:
    session = world.establish()
    data = app_request(session)
    event = world.service.receive(data)
    assert isinstance(event, ApplicationRequest)
    assert isinstance(session.receive(world.service.respond(event, event.message.payload()[0])), Response)
    world.clock.advance(minutes=2)
    world.expect_fault(data, InvalidSecurity)
    world.call(session, "the context itself is fine")
    still_works(world, bystander)


# -- proof of possession for Renew / Cancel ------------------------------------------------------------------


def test_renew_signed_by_another_context_than_its_target(world: World, bystander: ClientSession) -> None:
    attacker, victim = world.establish(), world.establish()
    assert attacker.context is not None and victim.context is not None
    action = actions.request_action(world.version, RequestType.RENEW)
    data = world.context_signed(attacker.context, renew_rst(world, victim.context).to_element(world.version), action)
    world.expect_fault(data, BadContextToken)
    assert world.stored(victim).instance is None  # type: ignore[union-attr]
    assert world.stored(attacker).instance is None  # type: ignore[union-attr]
    world.call(victim, "victim unaffected")
    world.call(attacker, "attacker's own context unaffected")
    still_works(world, bystander)


def test_cancel_signed_by_another_context_than_its_target(world: World, bystander: ClientSession) -> None:
    attacker, victim = world.establish(), world.establish()
    assert attacker.context is not None and victim.context is not None
    cancel = RequestSecurityToken(
        RequestType.CANCEL,
        context="uuid-c",
        cancel_target=strs.external_sct(victim.context.identifier, world.version),
    )
    action = actions.request_action(world.version, RequestType.CANCEL)
    data = world.context_signed(attacker.context, cancel.to_element(world.version), action)
    world.expect_fault(data, BadContextToken)
    world.call(victim, "victim not cancelled")
    world.call(attacker, "attacker not cancelled either")
    still_works(world, bystander)


@pytest.mark.parametrize("operation", [RequestType.RENEW, RequestType.CANCEL, RequestType.AMEND])
def test_bound_operation_under_the_bootstrap_binding_is_refused(
    world: World, bystander: ClientSession, operation: RequestType
) -> None:
    """Renew, Cancel and Amend need proof of possession of the context key: the bootstrap key is not it."""
    session = world.establish()
    context = session.context
    assert context is not None
    before = world.stored(context)
    target = strs.external_sct(context.identifier, world.version)
    if operation is RequestType.RENEW:
        rst = renew_rst(world, context)
    elif operation is RequestType.CANCEL:
        rst = RequestSecurityToken(RequestType.CANCEL, context="uuid-c", cancel_target=target)
    else:
        rst = RequestSecurityToken(RequestType.AMEND, token_type=world.version.sct_token_type, context="uuid-a")
    data = world.bootstrap_signed(rst.to_element(world.version), actions.request_action(world.version, operation))
    world.expect_fault(data, InvalidRequest)
    assert world.stored(context) == before
    world.call(session, "not renewed, not cancelled, not amended")
    still_works(world, bystander)


def test_renew_without_renew_target_is_refused(world: World, bystander: ClientSession) -> None:
    session = world.establish()
    assert session.context is not None
    rst = dataclasses.replace(renew_rst(world, session.context), renew_target=None)
    action = actions.request_action(world.version, RequestType.RENEW)
    world.expect_fault(world.context_signed(session.context, rst.to_element(world.version), action), BadContextToken)
    world.call(session)
    still_works(world, bystander)


# -- Amend ---------------------------------------------------------------------------------------------------


def test_amend_without_an_endorsing_signature_is_refused(world: World, bystander: ClientSession) -> None:
    session = world.establish()
    assert session.context is not None
    rst = RequestSecurityToken(RequestType.AMEND, token_type=world.version.sct_token_type, context="uuid-a")
    action = actions.request_action(world.version, RequestType.AMEND)
    world.expect_fault(world.context_signed(session.context, rst.to_element(world.version), action), InvalidRequest)
    assert len(world.stored(session).claims) == 1  # type: ignore[union-attr]
    still_works(world, bystander)


def test_amend_with_a_certificate_whose_key_we_do_not_hold_is_refused(
    world: World,
    bystander: ClientSession,
    amender: tuple[x509.Certificate, rsa.RSAPrivateKey],
    stranger: tuple[x509.Certificate, rsa.RSAPrivateKey],
) -> None:
    session = world.establish()
    victim_certificate, _ = amender
    _, own_key = stranger
    event = world.service.receive(session.amend(victim_certificate, own_key))
    assert isinstance(event, FaultReply)
    assert isinstance(event.error, (FailedCheck, InvalidSecurity))
    with pytest.raises(type(event.error)):
        session.receive(event.reply.data)
    assert len(world.stored(session).claims) == 1  # type: ignore[union-attr]
    world.call(session)
    still_works(world, bystander)


def test_amend_endorsing_token_built_by_hand_matches_the_client(
    world: World, amender: tuple[x509.Certificate, rsa.RSAPrivateKey]
) -> None:
    """The hand-made Amend of these tests is what ClientSession.amend sends (keeps the builders honest)."""
    session = world.establish()
    assert session.context is not None
    rst = RequestSecurityToken(RequestType.AMEND, token_type=world.version.sct_token_type, context="uuid-a")
    data = world.context_signed(
        session.context,
        rst.to_element(world.version),
        actions.request_action(world.version, RequestType.AMEND),
        endorsing=[endorsing_token(*amender)],
    )
    event = world.service.receive(data)
    assert isinstance(event, TokenReply), getattr(event, "error", None)
    assert event.context is not None and event.context.claims[-1].value == "CN=amending client"


# -- the client side -----------------------------------------------------------------------------------------


def test_client_refuses_a_tampered_response(world: World) -> None:
    session = world.establish()
    event = world.service.receive(app_request(session))
    assert isinstance(event, ApplicationRequest)
    response = world.service.respond(event, event.message.payload()[0])
    with pytest.raises(FailedCheck):
        session.receive(_tamper(response, "body"))
    world.call(session, "the session recovers")


def test_client_refuses_a_response_to_another_request(world: World) -> None:
    session = world.establish()
    first = world.service.receive(app_request(session))
    assert isinstance(first, ApplicationRequest)
    answer = world.service.respond(first, first.message.payload()[0])
    session.receive(answer)
    world.service.receive(app_request(session))
    with pytest.raises(InvalidSecurity):
        session.receive(answer)  # the answer to the first request


def test_client_refuses_a_response_under_another_context(world: World) -> None:
    session, other = world.establish(), world.establish()
    event = world.service.receive(app_request(other))
    assert isinstance(event, ApplicationRequest)
    answer = world.service.respond(event, event.message.payload()[0])
    app_request(session)
    with pytest.raises(WsscError):
        session.receive(answer)


# -- found by these tests (fixed in c23f83b) -------------------------------------------------------------


@pytest.mark.parametrize("soap", [SOAP12, SOAP11], ids=["soap12", "soap11"])
@pytest.mark.parametrize(
    ("service_version", "client_version"),
    [(SC_1_3, SC_2005_02), (SC_2005_02, SC_1_3)],
    ids=["1.3-service-2005-client", "2005-service-1.3-client"],
)
def test_faults_use_the_namespace_of_the_version_in_use(
    credentials: ServiceCredentials, soap: SOAPVersion, service_version: SCVersion, client_version: SCVersion
) -> None:
    """A service issues contexts in the version each client asks for; its faults must follow that version
    (SPEC-NOTES section 8), or a WCF client does not recognise wsc:RenewNeeded and never renews."""
    world = make_world(client_version, soap, credentials, settings=ServiceSettings(version=service_version))
    session = world.establish()
    assert session.context is not None and session.context.version == client_version
    world.call(session, "in use (an unused one is dropped after the inactivity timeout)")
    world.clock.now = session.context.expires + timedelta(minutes=1)
    world.expect_fault(app_request(session), RenewNeeded, session)  # checks the code's namespace
    world.clock.now += timedelta(minutes=10)  # forgotten now
    world.expect_fault(session.renew(), BadContextToken, session)


def test_renew_signed_with_the_previous_instance_is_refused(world: World, bystander: ClientSession) -> None:
    """SPEC-NOTES 6: Renew needs proof of possession of the *current* key; a rolled-over instance may
    still carry messages in flight, but may not renew the context away from its current holder."""
    session = world.establish()
    old = session.context
    assert old is not None
    session.receive(world.service.receive(session.renew()).reply.data)  # type: ignore[union-attr]
    current = world.stored(session)
    assert current is not None

    stale = world.holding(old)
    world.call(stale, "the previous instance still carries messages")
    world.expect_fault(stale.renew(), BadContextToken, stale)
    assert world.stored(session) == current
    world.call(session, "the current holder is unaffected")
    still_works(world, bystander)


def test_response_key_matches_the_instance_it_names(world: World) -> None:
    """A request accepted under the previous instance, answered after that instance's window closed: the
    service either refuses to answer or answers under the key of the instance it names - never under
    the current key labelled with the old instance."""
    session = world.establish()
    old = session.context
    assert old is not None
    session.receive(world.service.receive(session.renew()).reply.data)  # type: ignore[union-attr]
    new = session.context
    assert new is not None
    in_flight = world.holding(old)
    world.clock.advance(minutes=4, seconds=59)
    event = world.service.receive(app_request(in_flight))
    assert isinstance(event, ApplicationRequest)  # accepted under the previous instance, inside the window
    world.clock.advance(seconds=2)  # the application answers just after the window closed
    try:
        reply = world.service.respond(event, event.message.payload()[0])
    except WsscError:
        return
    both = StaticKeys(instances={(old.identifier, old.instance): old.key, (new.identifier, new.instance): new.key})
    message = Receiver(both, Requirements(detect_replays=False)).unprotect(parse(reply), now=world.clock())
    assert message.context is not None


# -- bugs ----------------------------------------------------------------------------------------------------


def test_propagated_context_lifetime_is_bounded_by_the_service(world: World, amender: KeyPair) -> None:
    session = world.session()
    event = world.service.receive(session.propagate(*amender, lifetime=timedelta(days=36500)))
    if isinstance(event, FaultReply):
        assert isinstance(event.error, InvalidRequest)
        return
    assert isinstance(event, TokenReply) and event.context is not None
    assert event.context.expires - world.clock() <= world.service.settings.context_lifetime

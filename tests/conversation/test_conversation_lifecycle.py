"""Every operation of the conversation layer end to end, in process, in both WS-SC and both SOAP versions:
establish, application calls, renew (with its key rollover window), amend, validate and cancel; the
three entropy modes; UserNameForCertificate (WS-SC 1.3 sections 3-8, SPEC-NOTES sections 3 and 5-7)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from conversation_support import COMBOS, VERSION_SOAP, World, make_world
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.conversation.bootstrap import USERNAME_FOR_CERTIFICATE, ServiceCredentials
from wssc.conversation.client import Amended, Cancelled, Established, Renewed, Validated
from wssc.conversation.context import MAX_CLAIMS, Claim
from wssc.conversation.service import FaultReply, ServiceSettings, TokenReply
from wssc.errors import BadContextToken, FailedAuthentication, InvalidRequest, RequestFailed
from wssc.primitives.xml import parse
from wssc.security.addressing import action_of
from wssc.security.keys import StaticKeys
from wssc.security.soap import SOAP12
from wssc.security.unprotect import Receiver
from wssc.tokens import reference as strs
from wssc.trust import actions
from wssc.trust.elements import RequestType
from wssc.trust.entropy import EntropyMode
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import parse_response
from wssc.versions import SC_1_3

ANONYMOUS = Claim("authentication", "anonymous")


def subject_claim(certificate: x509.Certificate) -> Claim:
    return Claim("x509", certificate.subject.rfc4514_string(), "endorsing-signature")


# -- establish and call --------------------------------------------------------------------------------------


def test_establish_issues_a_context_both_sides_agree_on(world: World) -> None:
    session = world.session()
    event = world.service.receive(session.establish())
    assert isinstance(event, TokenReply)
    assert event.operation is RequestType.ISSUE
    assert event.reply.status == 200
    assert event.reply.soap is world.soap
    issued = event.context
    assert issued is not None

    established = session.receive(event.reply.data)
    assert isinstance(established, Established)
    context = established.context
    assert session.context == context
    assert context.identifier == issued.identifier
    assert context.identifier.startswith("urn:uuid:")
    assert context.key == issued.key
    assert len(context.key) == 32
    assert context.version == world.version
    assert context.instance is None
    # The service writes the Lifetime with millisecond precision; the client reads what was written.
    assert abs(context.expires - issued.expires) < timedelta(seconds=1)
    assert issued.claims == (ANONYMOUS,)
    assert world.stored(context) == issued


def test_application_calls_are_verified_both_ways(world: World) -> None:
    session = world.establish()
    for i in range(5):
        event = world.call(session, f"call {i}")
        assert event.claims == (ANONYMOUS,)
        assert event.message_id is not None
        assert event.message.context is not None
        assert event.message.context.instance is None
        assert event.message.signature_key is not None
        assert event.message.signature_key.kind == "context"
        assert event.message.signature_key.derived


def test_two_contexts_are_independent(world: World) -> None:
    first, second = world.establish(), world.establish()
    assert first.context is not None and second.context is not None
    assert first.context.identifier != second.context.identifier
    assert first.context.key != second.context.key
    world.call(first, "one")
    world.call(second, "two")
    world.call(first, "three")


# -- renew ---------------------------------------------------------------------------------------------------


def test_renew_keeps_the_identifier_and_replaces_instance_and_key(world: World) -> None:
    session = world.establish()
    before = session.context
    assert before is not None
    world.call(session, "before")
    world.clock.advance(hours=1)

    event = world.service.receive(session.renew())
    assert isinstance(event, TokenReply)
    assert event.operation is RequestType.RENEW
    renewed = session.receive(event.reply.data)
    assert isinstance(renewed, Renewed)
    after = renewed.context
    assert session.context == after
    assert after.identifier == before.identifier
    assert after.instance is not None and after.instance != before.instance
    assert after.key != before.key
    assert after.key == event.context.key  # type: ignore[union-attr]
    assert after.expires > before.expires
    assert after.token is not None and after.token.instance == after.instance

    stored = world.stored(after)
    assert stored is not None
    assert stored.instance == after.instance
    assert stored.claims == (ANONYMOUS,)  # claims survive renewal
    event_after = world.call(session, "after")
    assert event_after.message.context is not None
    assert event_after.message.context.instance == after.instance

    # Renew again: yet another instance, same Identifier.
    event = world.service.receive(session.renew())
    again = session.receive(event.reply.data)  # type: ignore[union-attr]
    assert isinstance(again, Renewed)
    assert again.context.identifier == before.identifier
    assert again.context.instance not in (before.instance, after.instance)
    world.call(session, "after the second renewal")


@pytest.mark.parametrize("rollover", [None, timedelta(minutes=1)], ids=["default-5min", "1min"])
def test_previous_instance_is_accepted_during_the_rollover_window_only(
    world: World, credentials: ServiceCredentials, rollover: timedelta | None
) -> None:
    if rollover is not None:
        world = make_world(
            world.version, world.soap, credentials, settings=ServiceSettings(version=world.version, rollover=rollover)
        )
    window = rollover or timedelta(minutes=5)
    session = world.establish()
    old = session.context
    assert old is not None
    event = world.service.receive(session.renew())
    session.receive(event.reply.data)  # type: ignore[union-attr]

    in_flight = world.holding(old)  # still protects with the previous instance's key
    world.call(in_flight, "old key, just after renewal")
    world.call(session, "new key")
    world.clock.now += window - timedelta(seconds=1)
    world.call(in_flight, "old key, end of the window")

    world.clock.advance(seconds=2)
    request = in_flight.request(b'<e:late xmlns:e="urn:e"/>', "urn:e:late")
    world.expect_fault(request, BadContextToken, in_flight)
    world.call(session, "the current instance is unaffected")


# -- amend ---------------------------------------------------------------------------------------------------


def test_amend_adds_the_endorsing_certificate_subject_to_the_claims(
    world: World, amender: tuple[x509.Certificate, rsa.RSAPrivateKey]
) -> None:
    certificate, private_key = amender
    session = world.establish()
    assert world.call(session).claims == (ANONYMOUS,)

    event = world.service.receive(session.amend(certificate, private_key))
    assert isinstance(event, TokenReply)
    assert event.operation is RequestType.AMEND
    assert event.context is not None
    expected = (ANONYMOUS, subject_claim(certificate))
    assert event.context.claims == expected
    assert subject_claim(certificate).value == "CN=amending client"
    amended = session.receive(event.reply.data)
    assert isinstance(amended, Amended)
    assert amended.context.identifier == event.context.identifier

    stored = world.stored(session)
    assert stored is not None and stored.claims == expected
    assert stored.instance == event.context.instance  # Amend changes claims, not the key
    assert world.call(session, "after amend").claims == expected

    # Amending with the same credential again does not repeat the claim.
    event = world.service.receive(session.amend(certificate, private_key))
    session.receive(event.reply.data)  # type: ignore[union-attr]
    assert world.stored(session).claims == expected  # type: ignore[union-attr]

    # Claims survive renewal.
    event = world.service.receive(session.renew())
    session.receive(event.reply.data)  # type: ignore[union-attr]
    assert world.call(session, "after renew").claims == expected


def test_amend_cannot_grow_a_context_without_bound(
    world: World, amender: tuple[x509.Certificate, rsa.RSAPrivateKey]
) -> None:
    session = world.establish()
    stored = world.stored(session)
    assert stored is not None
    full = replace(stored, claims=tuple(Claim("test", str(i)) for i in range(MAX_CLAIMS)))
    world.service.store.replace(stored, full, world.clock())
    world.expect_fault(session.amend(*amender), InvalidRequest, session)
    assert world.stored(session) == full
    world.call(session, "the context still works")


# -- validate ------------------------------------------------------------------------------------------------


def test_validate_is_true_while_live_and_false_after_cancel(world: World) -> None:
    session = world.establish()
    snapshot = session.context
    assert snapshot is not None

    event = world.service.receive(session.validate())
    assert isinstance(event, TokenReply)
    assert event.operation is RequestType.VALIDATE
    assert event.valid is True
    validated = session.receive(event.reply.data)
    assert isinstance(validated, Validated)
    assert validated.valid is True
    world.call(session, "validate does not disturb the context")

    cancel = world.service.receive(session.cancel())
    session.receive(cancel.reply.data)  # type: ignore[union-attr]
    assert session.context is None
    with pytest.raises(RuntimeError):
        session.validate()

    # A reconstructed client asking under the cancelled key learns it from the service's fault.
    asking = world.holding(snapshot)
    event = world.service.receive(asking.validate())
    assert isinstance(event, FaultReply) and isinstance(event.error, BadContextToken)
    validated = asking.receive(event.reply.data)
    assert isinstance(validated, Validated)
    assert validated.valid is False
    assert validated.reason
    # Under the bootstrap binding the answer is "not valid" too.
    asking = world.holding(snapshot)
    event = world.service.receive(asking.validate(under_bootstrap=True))
    assert isinstance(event, TokenReply) and event.valid is False
    assert asking.receive(event.reply.data) == Validated(False, "context is unknown, expired or cancelled")


def test_validate_is_no_liveness_oracle_for_other_requesters(world: World) -> None:
    """Identifiers travel in clear in SCTs; only the context itself (or the authenticated principal it was
    issued to) learns whether it is live.  An anonymous bootstrap caller is told "not valid", and another
    context's key may not ask at all."""
    owner = world.establish()
    other = world.establish()
    assert owner.context is not None and other.context is not None
    foreign = world.holding(owner.context)
    event = world.service.receive(foreign.validate(under_bootstrap=True))
    assert isinstance(event, TokenReply) and event.valid is False
    assert foreign.receive(event.reply.data) == Validated(False, "context is unknown, expired or cancelled")

    # A context key asking about another context: the same fault whether the target is live or not.
    action = actions.request_action(world.version, RequestType.VALIDATE, actions.Binding.TRUST)
    for target in (owner.context.identifier, "urn:uuid:no-such-context"):
        rst = RequestSecurityToken(
            request_type=RequestType.VALIDATE,
            token_type=world.version.trust_uri("RSTR/Status"),
            validate_target=strs.external_sct(target, world.version),
        )
        data = world.context_signed(other.context, rst.to_element(world.version), action)
        world.expect_fault(data, InvalidRequest)
    world.call(owner, "the owner is unaffected")
    event = world.service.receive(owner.validate())
    assert isinstance(event, TokenReply) and event.valid is True


def test_cancel_needs_the_current_key_instance(world: World) -> None:
    """After a renewal the previous key still verifies messages in flight, but it may not cancel."""
    session = world.establish()
    before = session.context
    assert before is not None
    session.receive(world.service.receive(session.renew()).reply.data)  # type: ignore[union-attr]
    stale = world.holding(before)
    world.expect_fault(stale.cancel(), BadContextToken, stale)
    assert world.stored(session) is not None
    world.call(session, "still live")
    session.receive(world.service.receive(session.cancel()).reply.data)  # type: ignore[union-attr]
    assert world.stored(before) is None


def test_validate_of_an_expired_context_is_false(world: World) -> None:
    session = world.establish()
    assert session.context is not None
    world.clock.now = session.context.expires + timedelta(seconds=1)
    event = world.service.receive(session.validate())
    assert isinstance(event, TokenReply) and event.valid is False
    validated = session.receive(event.reply.data)
    assert isinstance(validated, Validated) and validated.valid is False


# -- cancel --------------------------------------------------------------------------------------------------


def test_cancel_ends_the_context_for_every_message(world: World) -> None:
    session = world.establish()
    world.call(session, "before cancel")
    snapshot = session.context
    assert snapshot is not None
    in_flight = world.holding(snapshot).request(b'<e:in-flight xmlns:e="urn:e"/>', "urn:e:x")

    event = world.service.receive(session.cancel())
    assert isinstance(event, TokenReply)
    assert event.operation is RequestType.CANCEL
    assert event.reply.status == 200
    cancelled = session.receive(event.reply.data)
    assert cancelled == Cancelled(snapshot.identifier)
    assert session.context is None
    assert world.stored(snapshot) is None

    # Every message of the context is now wsc:BadContextToken, whatever it carries.
    world.expect_fault(in_flight, BadContextToken)
    ghost = world.holding(snapshot)
    world.expect_fault(ghost.request(b'<e:x xmlns:e="urn:e"/>', "urn:e:x"), BadContextToken, ghost)
    world.expect_fault(ghost.renew(), BadContextToken, ghost)
    world.expect_fault(ghost.cancel(), BadContextToken, ghost)


def test_cancel_response_says_requested_token_cancelled(world: World) -> None:
    session = world.establish()
    context = session.context
    assert context is not None
    event = world.service.receive(session.cancel())
    assert isinstance(event, TokenReply)
    # Read the response independently of the client: under the context key, a bare RSTR with
    # RequestedTokenCancelled.
    receiver = Receiver(StaticKeys({context.identifier: context.key}))
    message = receiver.unprotect(parse(event.reply.data), now=world.clock())
    (payload,) = message.payload()
    (rstr,) = parse_response(payload)
    assert rstr.requested_token_cancelled
    assert action_of(message.header) == actions.response_action(world.version, RequestType.CANCEL)
    assert isinstance(session.receive(event.reply.data), Cancelled)


def test_cancel_during_the_rollover_window_also_ends_the_previous_instance(world: World) -> None:
    session = world.establish()
    old = session.context
    assert old is not None
    event = world.service.receive(session.renew())
    session.receive(event.reply.data)  # type: ignore[union-attr]
    previous = world.holding(old)
    world.call(previous, "inside the window")
    event = world.service.receive(session.cancel())
    session.receive(event.reply.data)  # type: ignore[union-attr]
    world.expect_fault(previous.request(b'<e:x xmlns:e="urn:e"/>', "urn:e:x"), BadContextToken, previous)


# -- client renewal timing -----------------------------------------------------------------------------------


def test_client_needs_renewal_after_its_interval_and_before_expiry(
    credentials: ServiceCredentials,
) -> None:
    world = make_world(SC_1_3, SOAP12, credentials)
    session = world.session()
    assert not session.needs_renewal()  # nothing to renew yet
    session = world.establish()
    world.call(session, "in use (an unused one is dropped after the inactivity timeout)")
    assert not session.needs_renewal()
    world.clock.advance(hours=9, minutes=59)
    assert not session.needs_renewal()
    world.clock.advance(minutes=2)
    assert session.needs_renewal()  # WCF's client renewal interval: 10 hours
    world.call(session, "still live on the service side")
    event = world.service.receive(session.renew())
    session.receive(event.reply.data)  # type: ignore[union-attr]
    assert not session.needs_renewal()

    short = make_world(SC_1_3, SOAP12, credentials, settings=ServiceSettings(context_lifetime=timedelta(minutes=30)))
    session = short.establish()
    short.clock.advance(minutes=28)
    assert not session.needs_renewal()
    short.clock.advance(minutes=1, seconds=30)
    assert session.needs_renewal()  # within a minute of expiry


# -- entropy modes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(EntropyMode), ids=lambda m: m.value)
@pytest.mark.parametrize(("version", "soap"), VERSION_SOAP)
def test_entropy_mode_end_to_end(
    version: object, soap: object, mode: EntropyMode, credentials: ServiceCredentials
) -> None:
    world = make_world(
        version,  # type: ignore[arg-type]
        soap,  # type: ignore[arg-type]
        credentials,
        settings=ServiceSettings(version=version, entropy_mode=mode),  # type: ignore[arg-type]
    )
    session = world.session(entropy_mode=mode)
    request = session.establish()
    event = world.service.receive(request)
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)
    assert session.context is not None and event.context is not None
    assert session.context.key == event.context.key
    world.call(session, mode.value)
    first_key = session.context.key

    event = world.service.receive(session.renew())
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)
    assert session.context.key == event.context.key  # type: ignore[union-attr]
    assert session.context.key != first_key
    world.call(session, mode.value + " renewed")
    event = world.service.receive(session.cancel())
    assert isinstance(session.receive(event.reply.data), Cancelled)  # type: ignore[union-attr]


MISMATCHES = [(s, c) for s in EntropyMode for c in EntropyMode if s is not c]


@pytest.mark.parametrize(
    ("service_mode", "client_mode"), MISMATCHES, ids=[f"service-{s.value}-client-{c.value}" for s, c in MISMATCHES]
)
def test_entropy_mode_mismatch_is_refused_by_the_client(
    world: World, credentials: ServiceCredentials, service_mode: EntropyMode, client_mode: EntropyMode
) -> None:
    world = make_world(
        world.version,
        world.soap,
        credentials,
        settings=ServiceSettings(version=world.version, entropy_mode=service_mode),
    )
    session = world.session(entropy_mode=client_mode)
    event = world.service.receive(session.establish())
    if client_mode is EntropyMode.SERVER:
        # No client entropy at all: a client or combined service cannot issue and says so.
        assert isinstance(event, FaultReply)
        with pytest.raises(InvalidRequest):
            session.receive(event.reply.data)
    else:
        # The service issues in its own mode; the client refuses a response in another mode.
        assert isinstance(event, TokenReply)
        with pytest.raises(RequestFailed):
            session.receive(event.reply.data)
    assert session.context is None
    assert not session.established


# -- UserNameForCertificate ----------------------------------------------------------------------------------


@pytest.fixture(params=COMBOS)
def user_world(request: pytest.FixtureRequest, user_credentials: ServiceCredentials) -> World:
    version, soap = request.param
    return make_world(version, soap, user_credentials)


def test_username_for_certificate_right_password(
    user_world: World, amender: tuple[x509.Certificate, rsa.RSAPrivateKey]
) -> None:
    session = user_world.session(username="alice", password="correct horse battery staple")
    assert session.bootstrap.name == USERNAME_FOR_CERTIFICATE
    event = user_world.service.receive(session.establish())
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)
    expected = (Claim("name", "alice"), Claim("authentication", "password"))
    assert event.context is not None and event.context.claims == expected
    assert user_world.call(session, "as alice").claims == expected

    # Validate under the bootstrap binding authenticates the principal: alice may ask about her context.
    event = user_world.service.receive(session.validate(under_bootstrap=True))
    assert isinstance(event, TokenReply) and event.valid
    assert session.receive(event.reply.data) == Validated(True, "context is live")
    assert session.context is not None
    bob = user_world.holding(session.context, username="bob", password="hunter2")
    event = user_world.service.receive(bob.validate(under_bootstrap=True))
    assert isinstance(event, TokenReply) and event.valid is False

    # Amend adds to the user's claims.
    certificate, private_key = amender
    event = user_world.service.receive(session.amend(certificate, private_key))
    session.receive(event.reply.data)  # type: ignore[union-attr]
    assert user_world.call(session, "amended").claims == (*expected, subject_claim(certificate))

    bob = user_world.session(username="bob", password="hunter2")
    event = user_world.service.receive(bob.establish())
    bob.receive(event.reply.data)  # type: ignore[union-attr]
    assert user_world.call(bob, "as bob").claims[0] == Claim("name", "bob")


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong"),
        ("alice", ""),
        ("alice", "correct horse battery staple "),
        ("Alice", "correct horse battery staple"),
        ("mallory", "correct horse battery staple"),
        ("bob", "correct horse battery staple"),
    ],
    ids=["wrong-password", "empty-password", "trailing-space", "name-case", "unknown-user", "other-users-password"],
)
def test_username_for_certificate_refuses_bad_credentials(user_world: World, username: str, password: str) -> None:
    bystander = user_world.session(username="alice", password="correct horse battery staple")
    bystander.receive(user_world.service.receive(bystander.establish()).reply.data)  # type: ignore[union-attr]
    before = len(user_world.service.store)  # type: ignore[arg-type]

    session = user_world.session(username=username, password=password)
    user_world.expect_fault(session.establish(), FailedAuthentication, session)
    assert session.context is None
    assert len(user_world.service.store) == before  # type: ignore[arg-type]
    user_world.call(bystander, "alice is unaffected")


def test_username_for_certificate_requires_a_username_token(user_world: World) -> None:
    anonymous = user_world.session()
    user_world.expect_fault(anonymous.establish(), FailedAuthentication, anonymous)
    # Validate is refused the same way: it is a bootstrap request.
    alice = user_world.session(username="alice", password="correct horse battery staple")
    alice.receive(user_world.service.receive(alice.establish()).reply.data)  # type: ignore[union-attr]
    assert alice.context is not None
    stranger = user_world.holding(alice.context)
    user_world.expect_fault(stranger.validate(under_bootstrap=True), FailedAuthentication, stranger)
    user_world.call(alice)


def test_anonymous_service_does_not_claim_an_unverified_username(world: World) -> None:
    """An anonymous service takes a UsernameToken-bearing client but does not claim the name unverified."""
    session = world.session(username="alice", password="whatever")
    event = world.service.receive(session.establish())
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)
    assert event.context is not None
    assert Claim("name", "alice") not in event.context.claims
    assert world.call(session).claims == (ANONYMOUS,)


# -- response actions ------------------------------------------------------------------------------------


def test_response_actions(world: World, amender: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> None:
    """WS-SC's own RSTR/SCT... actions for its bindings (SPEC-NOTES section 2); the generic WS-Trust
    binding for Validate, whose 1.3 response is the final one (WCF ``ProcessTrust13Validate``)."""
    trust = world.version.trust
    validate = trust + ("/RSTR/ValidateFinal" if world.version is SC_1_3 else "/RSTR/Validate")
    session = world.session()
    steps = [
        (session.establish, trust + "/RSTR/SCT"),
        (session.renew, trust + "/RSTR/SCT/Renew"),
        (lambda: session.amend(*amender), trust + "/RSTR/SCT/Amend"),
        (session.validate, validate),
        (session.cancel, trust + "/RSTR/SCT/Cancel"),
    ]
    for make_request, expected in steps:
        request = make_request()
        event = world.service.receive(request)
        assert isinstance(event, TokenReply)
        assert action_of(parse(event.reply.data).find(world.soap.qname("Header"))) == expected
        session.receive(event.reply.data)
    assert session.context is None
